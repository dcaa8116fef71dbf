"""What a reply's intent does: tone, unsubscribe, pause until the follow-up date, stop and referral."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from outbound.core import events as ev
from outbound.rulebook.decide import decide, reply_tone
from outbound.rulebook.effects import AddReferral
from outbound.rulebook.facts import AutoReply, HumanReply, OptOut, Policy, SendFacts

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
SEND = SendFacts(7, 70, 700, "alex@acme-mail.com", "bob@example.com", "seq", "intro", 0, company_domain="example.com")
REFERRALS = Policy(import_referrals=True, referral_sequence="referrals")


def _reply(intent: str | None, **kw: object) -> HumanReply:
    return HumanReply(AT, 700, SEND, "example.com", "bob@example.com", intent=intent, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("intent", "positive"), [
    ("interested", True), ("meeting_request", True), ("information_request", True), ("not_interested", False),
    ("other", None), ("out_of_office", None), (None, None)])
def test_tone_of_the_replied_event(intent: str | None, positive: bool | None) -> None:
    effects = decide(_reply(intent))
    assert effects.records[0].type == ev.REPLIED
    assert effects.records[0].data["positive"] is positive is reply_tone(intent)
    assert [c.action for c in effects.enrollments] == ["stop"]


def test_do_not_contact_is_an_unsubscribe_by_reply() -> None:
    assert decide(_reply("do_not_contact")) == decide(OptOut("bob@example.com", "reply", AT, 700, SEND,
                                                              mailbox=SEND.mailbox))


def test_later_pauses_until_the_follow_up_date_instead_of_stopping() -> None:
    effects = decide(_reply("later", follow_up_on=date(2027, 3, 1)))
    (change,) = effects.enrollments
    assert (change.action, change.reach, change.at) == ("pause", "enrollment", datetime(2027, 3, 1, tzinfo=UTC))
    assert effects.records[0].data["follow_up_on"] == "2027-03-01"
    undated = decide(_reply("later")).enrollments[0]
    assert (undated.action, undated.at) == ("pause", None) and "resume by hand" in undated.reason
    past = decide(_reply("later", follow_up_on=(AT - timedelta(days=3)).date())).enrollments[0]
    assert past.at is None


def test_wrong_person_stops_the_prospect_and_imports_the_referral_only_when_asked() -> None:
    plain = decide(_reply("wrong_person", referral=("jane@example.com", "Jane Doe")))
    assert [(c.action, c.reach) for c in plain.enrollments] == [("stop", "prospect")]
    assert plain.referral is None
    asked = decide(_reply("left_company", referral=("jane@example.com", "Jane Doe"), policy=REFERRALS))
    assert asked.referral == AddReferral("jane@example.com", "Jane Doe", "example.com", "referrals",
                                         "referred by bob@example.com on 2026-12-01")
    no_sequence = decide(_reply("left_company", referral=("jane@example.com", None),
                                policy=Policy(import_referrals=True)))
    assert no_sequence.referral is None


def test_left_company_auto_reply_stops_instead_of_pausing() -> None:
    effects = decide(AutoReply(SEND, AT, AT + timedelta(days=7), "", intent="left_company",
                               referral=("ian@example.com", "Ian Mercer"), policy=REFERRALS, company_domain="example.com"))
    assert [(c.action, c.reach) for c in effects.enrollments] == [("stop", "prospect")]
    assert effects.referral is not None and effects.referral.email == "ian@example.com"
    assert [c.action for c in decide(AutoReply(SEND, AT, AT + timedelta(days=7), "")).enrollments] == ["pause"]
