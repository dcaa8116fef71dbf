"""Replies of each of the ten intents through real servers (Postfix delivers them into Dovecot, the poller reads
them): each gets its intent's effects, a referral becomes a prospect once, and a corrected intent is what
the scores use."""

from __future__ import annotations

import asyncio
import smtplib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.inbox.handling import Handled, handle_inbound
from outbound.inbox.job import PollSummary, poll_job
from outbound.rulebook.facts import Policy
from outbound.scoring.apply import read_scores, rebuild_scores, score_pass
from outbound.scoring.intent_fix import set_intent
from outbound.scoring.spec import ScoringSpec
from outbound.store.db import session_scope
from outbound.store.effects import suppress_values
from outbound.store.tables import Enrollment, EnrollmentState, Prospect
from tests.fixtures.mail_servers import MailUser, PostfixServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.workspace import build, three_step_sequence
from tests.integration.inbox.conftest import PW_ENV, secrets_for
from tests.integration.inbox.test_effects import NOW, inbound, make_world
from tests.integration.inbox.test_inbox_loop import (
    ALWAYS,
    OPTS,
    enrollment_of,
    events,
    mail,
    send_first_step,
    suppressed,
)


async def test_replies_of_each_intent_get_their_effects(tmp_path: Path, postfix: PostfixServer,
                                                        imap_mailbox: MailUser, smtp_sink: SmtpSink) -> None:
    me = imap_mailbox.address
    dovecot = postfix.dovecot
    domain = {"domain": "example.test", "tracking_host": "t.example.test",
              "smtp": {"host": "127.0.0.1", "port": smtp_sink.port, "tls": "none"},
              "imap": {"host": dovecot.host, "port": dovecot.port, "tls": "none", "password_env": PW_ENV,
                       "folders": ["INBOX"]},
              "mailboxes": [{"address": me, "display_name": "Alex", "daily_cap": 50, "gap": {"min": 0, "max": 0}}]}
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
               [three_step_sequence(domains=["example.test"], window=ALWAYS, referral_sequence="intros"),
                three_step_sequence("intros", domains=["example.test"], window=ALWAYS)],
               [domain], settings="[inbox]\nimport_referrals = true\n")
    people = ["ann@acme.test", "ben@acme.test", "cat@beta.test", "dov@gamma.test", "eli@delta.test", "fay@delta.test",
              "gus@epsilon.test", "hal@acme.test", "ivy@zeta.test", "jon@eta.test", "eve@gamma.test"]
    sends = await send_first_step(tw, people)
    ann, ben, cat, dov, eli, fay, gus, hal, ivy, jon, eve = (sends[p] for p in people)
    ooo = {"Auto_Submitted": "auto-replied"}
    replies = [
        (ann, "Happy to talk. How about a call on Thursday at 3pm?", {}),
        (ben, "Please don't take me off your list, but not now: try me again in March.", {}),
        (cat, "Please do not contact me again.", {}),
        (dov, "I'm not the right person for this - please contact Jane Roe (jane.roe@gamma.test), she runs it.", {}),
        (eli, "Thanks, this sounds interesting. Yes, we'd like to learn more.", {}),
        (fay, "Can you send me pricing details and a case study?", {}),
        (gus, "No thanks, we are not interested.", {}),
        (hal, "Hi, I left Acme last month. Please reach out to my successor, Paul Hart (paul.hart@acme.test).", {}),
        (ivy, "I am out of the office until Monday with limited access to email.", ooo),
        (jon, "Who gave you my address?", {}),
        (eve, "Not the right person; please contact Jane Roe (jane.roe@gamma.test) instead.", {}),  # Jane again
    ]
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as smtp:
        for send, text, headers in replies:
            raw = mail(send.to_address, me, "Re: Hello", f"{text}\r\n\r\nThanks", f"<r-{send.id}@{send.to_domain}>",
                       In_Reply_To=send.message_id or "", **headers)
            smtp.sendmail(send.to_address, [me], raw)

    deadline, summary, handled = time.monotonic() + 15, PollSummary(), list[Handled]()
    while len(handled) < len(replies):
        assert time.monotonic() < deadline, f"only {len(handled)} replies handled within 15 s: {summary}"
        summary = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS)
        handled += [h for _, h in summary.handled]
        await asyncio.sleep(0.1)

    by_send = {e.send_id: e for e in events(tw) if e.type in (ev.REPLIED, ev.UNSUBSCRIBED, ev.AUTO_REPLIED)}
    assert {by_send[s.id].data["intent"] for s, _, _ in replies} == {
        "meeting_request", "later", "do_not_contact", "wrong_person", "interested", "information_request",
        "not_interested", "left_company", "out_of_office", "other"}, "each of the ten intents arrived"
    for send, positive in ((eli, True), (fay, True), (gus, False), (jon, None)):
        assert by_send[send.id].type == ev.REPLIED and by_send[send.id].data["positive"] is positive
        assert enrollment_of(tw, send).state == EnrollmentState.stopped, "a reply stops the sequence"
    assert by_send[ivy.id].type == ev.AUTO_REPLIED
    assert enrollment_of(tw, ivy).state != EnrollmentState.stopped, "an out-of-office reply stops nothing"
    assert by_send[hal.id].data["referral"] == {"email": "paul.hart@acme.test", "name": "Paul Hart"}
    assert enrollment_of(tw, hal).state == EnrollmentState.stopped
    assert by_send[ann.id].data["intent"] == "meeting_request" and by_send[ann.id].data["positive"] is True
    assert enrollment_of(tw, ann).state == EnrollmentState.stopped

    assert by_send[ben.id].type == ev.REPLIED and by_send[ben.id].data["intent"] == "later"
    ben_enr = enrollment_of(tw, ben)
    march = datetime(datetime.now(UTC).year + (datetime.now(UTC).month >= 3), 3, 1, tzinfo=UTC)
    assert (ben_enr.state, ben_enr.paused_until) == (EnrollmentState.paused, march), ben_enr.reason

    assert by_send[cat.id].type == ev.UNSUBSCRIBED and "cat@beta.test" in suppressed(tw)
    assert by_send[cat.id].data["intent"] == "do_not_contact" and by_send[cat.id].data["how"] == "reply"
    assert enrollment_of(tw, cat).state == EnrollmentState.stopped
    assert "ben@acme.test" not in suppressed(tw)

    assert by_send[dov.id].data["intent"] == "wrong_person"
    assert by_send[dov.id].data["referral"] == {"email": "jane.roe@gamma.test", "name": "Jane Roe"}
    assert enrollment_of(tw, dov).state == EnrollmentState.stopped
    with session_scope(tw.engine) as s:
        jane = s.exec(select(Prospect).where(col(Prospect.email) == "jane.roe@gamma.test")).one()
        assert (jane.source, jane.first_name, jane.last_name, jane.company_domain) == ("referral", "Jane", "Roe",
                                                                                       "gamma.test")
        enrolled = list(s.exec(select(Enrollment).where(col(Enrollment.prospect_id) == jane.id)))
        paul = s.exec(select(Prospect).where(col(Prospect.email) == "paul.hart@acme.test")).one()
        pauls = list(s.exec(select(Enrollment).where(col(Enrollment.prospect_id) == paul.id)))
    assert [(e.sequence_name, e.state) for e in enrolled] == [("intros", EnrollmentState.active)], \
        "named twice (by dov and eve): one prospect, one enrollment"
    assert (paul.source, paul.company_domain, [e.sequence_name for e in pauls]) == ("referral", "acme.test", ["intros"])

    # a correction moves the score as a rebuild from the corrected events would
    spec = ScoringSpec()
    now = datetime.now(UTC) + timedelta(minutes=1)
    score_pass(tw.engine, spec, now)
    before = read_scores(tw.engine)[str(dov.prospect_id)].at(now, spec.half_life.total_seconds())
    done = set_intent(tw.engine, spec, by_send[dov.id].id or 0, "interested", now)
    assert (done.was, done.now, done.score_delta) == ("wrong_person", "interested",
                                                      spec.weights.replied_positive - spec.weights.replied)
    corrected = read_scores(tw.engine)[str(dov.prospect_id)].at(now, spec.half_life.total_seconds())
    assert corrected > before
    rebuild_scores(tw.engine, spec, now)
    rebuilt = read_scores(tw.engine)[str(dov.prospect_id)].at(now, spec.half_life.total_seconds())
    assert rebuilt == pytest.approx(corrected)
    assert [e.data["positive"] for e in events(tw) if e.id == by_send[dov.id].id] == [True]


def test_a_referral_becomes_a_prospect_once_on_either_store(database_url: str) -> None:
    """Two replies naming the same person (and one message seen twice) make one prospect, one enrollment;
    a suppressed person named is added but never enrolled."""
    w = make_world(database_url)
    policy = Policy(import_referrals=True, referral_sequence="other")
    with session_scope(w.engine) as s:
        suppress_values(s, ["@blocked.test"], "test", NOW)
    for mid, sender, seq in (("<w1@acme.test>", "bob@acme.test", "seq"), ("<w1@acme.test>", "bob@acme.test", "seq"),
                             ("<w2@acme.test>", "carol@acme.test", "seq")):
        handle_inbound(w.engine, inbound("human_reply", mid=mid, sender=sender,
                                         in_reply_to=f"<{sender.split('@')[0]}.{seq}@sender.test>",
                                         reply_text="Not my area, ask Zoe Park (zoe.park@acme.test).",
                                         intent="wrong_person",
                                         referral={"email": "zoe.park@acme.test", "name": "Zoe Park"}),
                       lambda _s: policy, NOW)
    handle_inbound(w.engine, inbound("human_reply", mid="<w3@gmail.com>", sender="dan@gmail.com",
                                     in_reply_to="<dan.seq@sender.test>", intent="left_company",
                                     referral={"email": "x@blocked.test", "name": None}), lambda _s: policy, NOW)
    with session_scope(w.engine) as s:
        zoe = s.exec(select(Prospect).where(col(Prospect.email) == "zoe.park@acme.test")).one()
        assert (zoe.source, zoe.company_domain) == ("referral", "acme.test")
        assert [e.sequence_name for e in s.exec(select(Enrollment).where(col(Enrollment.prospect_id) == zoe.id))] == \
            ["other"]
        blocked = s.exec(select(Prospect).where(col(Prospect.email) == "x@blocked.test")).one()
        assert list(s.exec(select(Enrollment).where(col(Enrollment.prospect_id) == blocked.id))) == []
    assert w.enrollment("carol/seq").state == EnrollmentState.stopped
    assert {w.enrollment(k).state for k in ("bob/seq", "bob/other")} == {EnrollmentState.stopped}
