"""The rulebook row by row: each fact's effects, and the same effects for the same fact by any path."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from outbound.core import events as ev
from outbound.core.outcome import SendOutcome
from outbound.rulebook.decide import UNCONFIRMED, decide
from outbound.rulebook.effects import Effects
from outbound.rulebook.facts import (
    AutoReply,
    Complaint,
    CrmOutcome,
    DomainCheck,
    Dsn,
    HumanReply,
    MailboxHealthVerdict,
    Observed,
    OperatorPause,
    OperatorProspect,
    OperatorResume,
    OperatorSuppress,
    OptOut,
    Policy,
    RuleAction,
    SendFacts,
    SmtpResult,
    return_pause,
)
from outbound.rulebook.retry import RetryPolicy
from outbound.rulebook.table import examples

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
SEND = SendFacts(7, 70, 700, "alex@acme-mail.com", "bob@example.com", "seq", "intro", 0, message_id="<m@x>",
                 company_domain="example.com")
NO_STOP = Policy(stop_on=frozenset())


def smtp(kind: str, reason: str, code: int = 550, status: str | None = None, *, fault: str | None = None,
         policy: Policy = Policy(), soft: int = 0, send: SendFacts = SEND) -> Effects:
    extra = {} if fault is None else {"fault": fault}
    outcome = SendOutcome(kind, reason, code, status, "text", "rcpt", **extra)  # type: ignore[arg-type]
    return decide(SmtpResult(send, outcome, AT, policy, soft_bounces=soft))


def shape(e: Effects) -> tuple[object, ...]:
    """What an effect does, without its reason texts."""
    return (e.send.state if e.send else None,
            tuple((c.action, c.reach) for c in e.enrollments),
            e.suppress.values if e.suppress else None,
            tuple((s.action, s.scope, s.target) for s in e.senders),
            e.account.domain if e.account else None,
            tuple(r.type for r in e.records))


# ------------------------------------------------------------------ SMTP and DSN bounces

def test_hard_bounce_at_smtp_time_suppresses_and_stops_every_enrollment_of_the_prospect() -> None:
    e = smtp("hard_bounce", "user_unknown", 550, "5.1.1")
    assert shape(e) == ("bounced", (("stop", "prospect"),), ("bob@example.com",), (), None, (ev.BOUNCED,))
    assert e.records[0].key == "bounce:7" and e.records[0].data["hard"] is True
    assert "5.1.1 user_unknown" in e.suppress.reason  # type: ignore[union-attr]


def test_a_hard_bounce_has_the_same_reach_at_smtp_time_and_in_a_dsn() -> None:
    at_send = smtp("hard_bounce", "user_unknown", 550, "5.1.1")
    in_dsn = decide(Dsn(SEND, True, "5.1.1", "user_unknown", AT))
    assert shape(at_send)[1:] == shape(in_dsn)[1:]
    assert in_dsn.send is not None and in_dsn.send.only_if_sent and not at_send.send.only_if_sent  # type: ignore[union-attr]


@pytest.mark.parametrize(("policy", "change"), [(Policy(), ("stop", "enrollment")), (NO_STOP, ("advance", "enrollment"))])
def test_a_soft_bounce_at_smtp_time_stops_on_bounce_or_moves_on(policy: Policy, change: tuple[str, str]) -> None:
    e = smtp("soft_bounce", "mailbox_full", 552, "5.2.2", policy=policy)
    assert shape(e) == ("bounced", (change,), None, (), None, (ev.BOUNCED,))


def test_the_soft_bounce_that_reaches_the_limit_suppresses_the_address() -> None:
    assert smtp("soft_bounce", "mailbox_full", soft=1).suppress is None
    limited = smtp("soft_bounce", "mailbox_full", soft=2)
    assert limited.suppress is not None and "3 bounced sends" in limited.suppress.reason


def test_a_dsn_soft_bounce_counts_like_an_smtp_one_but_never_moves_a_step_on() -> None:
    e = decide(Dsn(SEND, False, "4.4.7", "expired", AT, policy=NO_STOP, soft_bounces=2))
    assert shape(e) == ("bounced", (), ("bob@example.com",), (), None, (ev.BOUNCED,))


def test_a_second_report_of_one_sends_soft_bounce_is_recorded_and_counted_once() -> None:
    again = decide(Dsn(replace(SEND, state="bounced"), False, "5.2.2", "mailbox_full", AT, soft_bounces=5))
    assert shape(again) == (None, (), None, (), None, (ev.BOUNCED,))


@pytest.mark.parametrize(("kind", "fault", "scope", "target"), [
    ("sender_rejected", "mailbox", "mailbox", "alex@acme-mail.com"),
    ("sender_rejected", "domain", "domain", "acme-mail.com"),
    ("auth_failure", "mailbox", "mailbox", "alex@acme-mail.com"),
    ("config_error", "mailbox", "mailbox", "alex@acme-mail.com"),
])
def test_our_senders_problem_pauses_it_and_gives_the_send_back(kind: str, fault: str, scope: str, target: str) -> None:
    e = smtp(kind, "client_host_rejected", 554, "5.7.1", fault=fault)
    assert shape(e) == ("retry", (("due", "enrollment"),), None, (("pause", scope, target),), None, ())
    assert e.send is not None and e.send.release_slot and e.send.not_before == AT
    assert kind.replace("_", " ") in e.senders[0].reason


def test_a_dsn_about_our_domain_pauses_the_domain_and_leaves_the_prospect_alone() -> None:
    e = decide(Dsn(SEND, False, "5.7.26", "auth_failure", AT, fault="domain"))
    assert shape(e) == (None, (), None, (("pause", "domain", "acme-mail.com"),), None, (ev.BOUNCED,))
    assert e.records[0].data["hard"] is False and e.records[0].data["fault"] == "domain"


def test_a_temporary_failure_is_retried_then_given_up() -> None:
    e = smtp("temporary", "greylisted", 451, "4.7.1")
    assert shape(e) == ("retry", (("due", "enrollment"),), None, (), None, ())
    assert e.send is not None and e.send.not_before is not None and e.send.not_before >= AT + timedelta(seconds=225)
    last = smtp("temporary", "greylisted", 451, "4.7.1", send=replace(SEND, attempts=RetryPolicy().max_attempts))
    assert shape(last) == ("failed", (("block", "enrollment"),), None, (), None, (ev.SEND_FAILED,))


def test_an_ambiguous_outcome_holds_the_enrollment_and_never_resends() -> None:
    e = smtp("ambiguous", "connection_lost", 0)
    assert shape(e) == ("unknown", (("hold", "enrollment"),), None, (), None, (ev.SEND_UNKNOWN,))
    assert e.enrollments[0].reason.startswith(UNCONFIRMED)


def test_the_owner_of_a_send_lease_recovery_marked_unknown_releases_the_hold_first() -> None:
    e = smtp("temporary", "greylisted", 451, send=replace(SEND, state="unknown"))
    assert [c.action for c in e.enrollments] == ["release_hold", "due"]


# ------------------------------------------------------------------ replies and opt-outs

def test_an_auto_reply_pauses_until_the_return_date_and_only_ever_later() -> None:
    until, why = return_pause((AT + timedelta(days=5)).date(), AT, timedelta(days=7))
    e = decide(AutoReply(SEND, AT, until, why))
    assert shape(e) == (None, (("pause", "enrollment"),), None, (), None, (ev.AUTO_REPLIED,))
    assert e.enrollments[0].extend_only and e.enrollments[0].at == until
    stop = decide(AutoReply(SEND, AT, until, why, policy=Policy(stop_on=frozenset({"auto_reply"}))))
    assert shape(stop)[1] == (("stop", "enrollment"),)


def test_return_pause_ignores_a_past_or_implausible_date() -> None:
    assert return_pause(None, AT, timedelta(days=7))[0] == AT + timedelta(days=7)
    assert return_pause((AT - timedelta(days=1)).date(), AT, timedelta(days=7))[0] == AT + timedelta(days=7)
    assert return_pause((AT + timedelta(days=200)).date(), AT, timedelta(days=7))[0] == AT + timedelta(days=7)


def test_a_human_reply_stops_its_enrollment_and_with_the_setting_the_account() -> None:
    e = decide(HumanReply(AT, 700, SEND, "example.com", "bob@example.com"))
    assert shape(e) == (None, (("stop", "enrollment"),), None, (), None, (ev.REPLIED,))
    assert shape(decide(HumanReply(AT, 700, SEND, "example.com", "bob@example.com", NO_STOP)))[1] == ()
    account = decide(HumanReply(AT, 700, SEND, "example.com", "bob@example.com", Policy(stop_account_on_reply=True)))
    assert shape(account) == (None, (("stop", "enrollment"), ("stop", "account")), None, (), "example.com",
                              (ev.REPLIED,))


def test_a_reply_recorded_from_a_crm_stops_every_enrollment_of_the_prospect() -> None:
    assert shape(decide(HumanReply(AT, 700, via="crm"))) == (None, (("stop", "prospect"),), None, (), None,
                                                            (ev.REPLIED,))


@pytest.mark.parametrize("how", ["link", "reply", "hand", "crm"])
def test_an_unsubscribe_by_any_path_suppresses_and_stops_every_enrollment(how: str) -> None:
    e = decide(OptOut("Bob@Example.com", how, AT, 700, also=("bob.alt@example.com",)))  # type: ignore[arg-type]
    assert shape(e) == (None, (("stop", "prospect"),), ("bob.alt@example.com", "bob@example.com"), (), None,
                        (ev.UNSUBSCRIBED,))


def test_an_unsubscribe_tied_to_no_send_still_suppresses() -> None:
    e = decide(OptOut("bob@example.com", "reply", AT, matched=False))
    assert shape(e) == (None, (), ("bob@example.com",), (), None, (ev.UNMATCHED_INBOUND,))


@pytest.mark.parametrize("how", ["arf", "crm", "hand"])
def test_a_complaint_by_any_path_suppresses_stops_and_counts_against_the_mailbox(how: str) -> None:
    e = decide(Complaint("bob@example.com", how, AT, 700, mailbox="alex@acme-mail.com"))  # type: ignore[arg-type]
    assert shape(e) == (None, (("stop", "prospect"),), ("bob@example.com",), (), None, (ev.COMPLAINED,))
    assert e.records[0].mailbox == "alex@acme-mail.com"


def test_crm_outcomes_and_notices_are_only_recorded() -> None:
    assert shape(decide(CrmOutcome(ev.QUALIFIED, 700, AT))) == (None, (), None, (), None, (ev.QUALIFIED,))
    assert decide(CrmOutcome(ev.WON, 700, AT)).records[0].at == AT
    assert shape(decide(Observed(ev.DELIVERY_REPORT))) == (None, (), None, (), None, (ev.DELIVERY_REPORT,))


# ------------------------------------------------------------------ rules and operators

def test_rule_actions_reach_the_triggering_enrollment_or_the_prospect() -> None:
    assert shape(decide(RuleAction("stop", "r", 700, AT, enrollment_id=70)))[1] == (("stop", "enrollment"),)
    assert shape(decide(RuleAction("stop", "r", 700, AT)))[1] == (("stop", "prospect"),)
    pause = decide(RuleAction("pause", "r", 700, AT, pause_until=AT + timedelta(days=3)))
    assert shape(pause)[1] == (("pause", "prospect"),) and not pause.enrollments[0].extend_only
    move = decide(RuleAction("move", "r", 700, AT, move_to="nurture"))
    assert move.enrollments[0].keep_sequence == "nurture" and "moved to nurture" in move.enrollments[0].reason
    account = decide(RuleAction("stop_account", "r", 700, AT, account="example.com"))
    assert shape(account) == (None, (("stop", "account"),), None, (), "example.com", ())


def test_resume_by_hand_reaches_a_mailbox_or_a_domain() -> None:
    assert shape(decide(OperatorResume("Alex@Acme-Mail.com", AT)))[3] == (("resume", "mailbox", "alex@acme-mail.com"),)
    assert shape(decide(OperatorResume("@acme-mail.com", AT)))[3] == (("resume", "domain", "acme-mail.com"),)


def test_pause_by_hand_names_who_and_why() -> None:
    e = decide(OperatorPause("@Acme-Mail.com", "list cleanup", AT, by="dashboard:ana"))
    assert shape(e)[3] == (("pause", "domain", "acme-mail.com"),)
    assert (e.senders[0].reason, e.senders[0].by) == ("paused by hand: list cleanup", "dashboard:ana")
    assert decide(OperatorPause("alex@acme-mail.com", " ", AT)).senders[0].reason == "paused by hand"
    assert decide(OperatorResume("alex@acme-mail.com", AT, by="cli")).senders[0].by == "cli"


def test_a_person_changed_by_hand_reaches_all_their_enrollments_and_is_recorded() -> None:
    for action, word in (("stop", "stopped"), ("pause", "paused"), ("resume", "resumed")):
        e = decide(OperatorProspect(7, action, "asked by phone", AT, by="dashboard:ana"))  # type: ignore[arg-type]
        assert shape(e) == (None, ((action, "prospect"),), None, (), None, (ev.OPERATOR_ACTION,))
        assert e.enrollments[0].reason == f"{word} by hand: asked by phone"
        assert e.records[0].data == {"action": action, "reason": f"{word} by hand: asked by phone", "by": "dashboard:ana"}
    assert decide(OperatorProspect(7, "pause", "", AT)).records[0].data == {"action": "pause", "reason": "paused by hand"}


def test_an_unsubscribe_by_hand_names_who_recorded_it() -> None:
    e = decide(OptOut("bob@example.com", "hand", AT, 1, by="dashboard:ana"))
    assert e.records[0].data == {"address": "bob@example.com", "how": "hand", "by": "dashboard:ana"}
    assert "by" not in decide(OptOut("bob@example.com", "link", AT, 1)).records[0].data


def test_suppress_by_hand_stops_what_it_suppresses_at_once() -> None:
    e = decide(OperatorSuppress((" Bob@Example.com", "@example.org", "bob@example.com"), "do not contact", AT))
    assert e.suppress is not None and e.suppress.values == ("@example.org", "bob@example.com")
    assert e.suppress.reason == "do not contact"
    assert [(c.action, c.reach, c.reason) for c in e.enrollments] == [
        ("stop", "suppressed", "suppressed by hand: do not contact")]
    assert decide(OperatorSuppress(("  ",), "x", AT)).suppress is None


def test_a_failing_domain_check_pauses_its_mailboxes_and_a_pass_lifts_only_its_own_pauses() -> None:
    failing = decide(DomainCheck("acme.com", ("a@acme.com", "b@acme.com"), "spf: no record", AT))
    assert [(s.action, s.scope, s.target, s.reason) for s in failing.senders] == [
        ("pause", "mailbox", "a@acme.com", "domain health check failed: spf: no record"),
        ("pause", "mailbox", "b@acme.com", "domain health check failed: spf: no record")]
    passing = decide(DomainCheck("acme.com", ("a@acme.com",), None, AT))
    assert [(s.action, s.only_reason_prefix) for s in passing.senders] == [("resume", "domain health check failed: ")]
    assert not failing.enrollments and not failing.records and failing.suppress is None


def test_mailbox_health_pauses_or_resumes_one_mailbox_as_health() -> None:
    e = decide(MailboxHealthVerdict("a@acme.com", "pause", "bounce rate 9%", AT))
    assert [(s.action, s.scope, s.target, s.reason, s.by) for s in e.senders] == [
        ("pause", "mailbox", "a@acme.com", "bounce rate 9%", "health")]
    assert decide(MailboxHealthVerdict("a@acme.com", "resume", "timer", AT)).senders[0].action == "resume"


def test_every_fact_kind_is_decided_in_milliseconds() -> None:
    facts = [f for _, _, f in examples()]
    start = time.perf_counter()
    for _ in range(100):
        for f in facts:
            decide(f)
    assert (time.perf_counter() - start) / (100 * len(facts)) < 0.001
