"""The seams between entry paths (issue 16): the same fact has the same effects whatever path it came by.

Each test runs the real engine against the aiosmtpd sink on a real SQLite store; every one of them
failed before the rulebook (see the case numbers of the issue).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.inbox.classify import classify
from outbound.inbox.handling import handle_inbound
from outbound.inbox.match import Inbound
from outbound.inbox.result import Classification
from outbound.rulebook.facts import Policy
from outbound.scoring.outcomes_in import OutcomeRow, record
from outbound.store.db import session_scope
from outbound.store.enrollments import enroll
from outbound.store.prospects import prospect_ids
from outbound.store.tables import Enrollment, EnrollmentState, Event, MailboxState, Send, SendState, Suppression
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _workspace(tmp_path: Path, sink: SmtpSink, *, mailboxes: int = 1, settings: str = "", **seq: Any) -> BuiltWorkspace:
    return build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
                 [three_step_sequence(window=ALWAYS_OPEN, **seq), three_step_sequence("other", window=ALWAYS_OPEN)],
                 [domain("d0.test", sink.port, mailboxes, daily_cap=50, gap={"min": 0, "max": 0})], settings)


async def _tick(tw: BuiltWorkspace, at: datetime) -> None:
    pool = SmtpPool()
    try:
        await run_tick(tw.ctx, pool, at)
    finally:
        await pool.close_all()


def _enrollments(tw: BuiltWorkspace) -> list[Enrollment]:
    with session_scope(tw.engine) as s:
        return list(s.exec(select(Enrollment).order_by(col(Enrollment.id))))


def _suppressed(tw: BuiltWorkspace) -> dict[str, str]:
    with session_scope(tw.engine) as s:
        return {r.value: r.reason for r in s.exec(select(Suppression))}


def _events(tw: BuiltWorkspace, kind: str) -> list[Event]:
    with session_scope(tw.engine) as s:
        return list(s.exec(select(Event).where(col(Event.type) == kind)))


def _mailboxes(tw: BuiltWorkspace) -> dict[str, tuple[str, str | None]]:
    with session_scope(tw.engine) as s:
        return {m.address: (m.state, m.pause_reason) for m in s.exec(select(MailboxState))}


def _both_sequences(tw: BuiltWorkspace) -> str:
    person = add_prospects(tw, 1, "seq")[0]
    enroll(tw.engine, tw.ctx.workspace.sequences["other"].sequence, prospect_ids(tw.engine, source="test"), now=START)
    return person.email


# ------------------------------------------------------------------ case 1: opt-outs recorded from a CRM

@pytest.mark.parametrize("kind", [ev.UNSUBSCRIBED, ev.COMPLAINED])
async def test_an_opt_out_recorded_from_a_crm_suppresses_and_is_never_mailed_again(
        smtp_sink: SmtpSink, tmp_path: Path, kind: str) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    email = _both_sequences(tw)
    await _tick(tw, START)
    assert len(smtp_sink.messages) == 2  # the first step of both sequences
    result = record(tw.engine, [OutcomeRow(email, kind, START + timedelta(hours=1))], origin="cli")
    assert result.recorded == 1
    assert email in _suppressed(tw)
    assert {e.state for e in _enrollments(tw)} == {EnrollmentState.stopped}
    for day in range(1, 8):
        await _tick(tw, START + timedelta(days=day))
    assert len(smtp_sink.messages) == 2, "nothing more went to the person who opted out"
    if kind == ev.COMPLAINED:  # the complaint counts against the mailbox that mailed them: health pauses it
        [event] = _events(tw, ev.COMPLAINED)
        assert event.mailbox == "m0@d0.test"
        state, reason = _mailboxes(tw)["m0@d0.test"]
        assert state == "paused" and "complaint" in (reason or "")


# ------------------------------------------------------------------ case 3: one reach for a hard bounce

async def test_a_hard_bounce_at_rcpt_stops_every_enrollment_of_the_prospect(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    email = _both_sequences(tw)
    smtp_sink.script.append("550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table")
    await _tick(tw, START)
    assert {e.state for e in _enrollments(tw)} == {EnrollmentState.stopped}
    assert "hard bounce" in _suppressed(tw)[email]


async def test_a_soft_bounce_reported_at_smtp_time_and_again_by_dsn_counts_once(
        smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink, stop_on=["reply"], settings="[inbox]\nsoft_bounce_limit = 2\n")
    email = add_prospects(tw, 1, "seq")[0].email
    smtp_sink.script.append("552 5.2.2 <{a}>: Mailbox full")
    await _tick(tw, START)
    with session_scope(tw.engine) as s:
        send = s.exec(select(Send)).one()
    assert send.state == SendState.bounced
    dsn = Inbound("m0@d0.test", "INBOX", 1, 1, "<dsn-1@mx.test>", "mailer-daemon@mx.test", "Undelivered",
                  Classification("soft_bounce", (email,), "5.2.2", "mailbox_full",
                                 original_message_id=send.message_id))
    handled = handle_inbound(tw.engine, dsn, lambda _: Policy(stop_on=frozenset({"reply"}), soft_bounce_limit=2),
                             START + timedelta(hours=1))
    assert handled.event == ev.BOUNCED and handled.send_id == send.id
    assert email not in _suppressed(tw), "one send's bounce counts once toward the limit of 2"
    [enrollment] = _enrollments(tw)
    assert enrollment.state == EnrollmentState.active and enrollment.next_step == 1
    assert enrollment.done_steps == "intro", "the soft-bounced step is done (steps are followed by id)"


# ------------------------------------------------------------------ case 5: the sender's problem is not the prospect's

@pytest.mark.parametrize(("reply", "paused"), [
    ("554 5.7.1 <{a}>: Client host rejected: Access denied", ["m0@d0.test"]),
    ("554 5.7.1 <{a}>: Relay access denied", ["m0@d0.test"]),
    ("550 5.7.26 This mail has been blocked because the sender is unauthenticated. DMARC policy", ["m0@d0.test",
                                                                                                 "m1@d0.test"]),
])
async def test_a_sender_side_rejection_pauses_our_sender_and_requeues_the_send(
        smtp_sink: SmtpSink, tmp_path: Path, reply: str, paused: list[str]) -> None:
    tw = _workspace(tmp_path, smtp_sink, mailboxes=len(paused))
    email = add_prospects(tw, 1, "seq")[0].email
    smtp_sink.script.append(reply)
    await _tick(tw, START)
    assert email not in _suppressed(tw)
    [enrollment] = _enrollments(tw)
    assert enrollment.state == EnrollmentState.active and enrollment.next_step == 0
    with session_scope(tw.engine) as s:
        send = s.exec(select(Send)).one()
    assert send.state == SendState.retry, "the prospect's send goes back to the queue"
    assert not _events(tw, ev.BOUNCED), "no bounce is blamed on the prospect"
    boxes = _mailboxes(tw)
    assert sorted(a for a, (state, _) in boxes.items() if state == "paused") == paused
    assert all("sender rejected" in (boxes[a][1] or "") for a in paused)


# ------------------------------------------------------------------ case 6: a final failure after retries is a bounce

def _dsn(recipient: str, original: str, status: str, action: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.d0.test>\r\n"
        "To: m0@d0.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-expired-1@mx.d0.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.d0.test\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 451 4.4.7 Delivery time expired\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original}\r\nTo: {recipient}\r\n\r\n--B--\r\n"
    ).encode()


async def test_a_dsn_reporting_a_final_failure_after_retries_is_a_soft_bounce_of_that_send(
        smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    email = add_prospects(tw, 1, "seq")[0].email
    await _tick(tw, START)
    with session_scope(tw.engine) as s:
        send = s.exec(select(Send)).one()
    assert send.state == SendState.sent and send.message_id
    raw = _dsn(email, send.message_id, "4.4.7", "failed")
    c = classify(raw, mailbox="m0@d0.test")
    assert c.kind == "soft_bounce", c
    dsn = Inbound("m0@d0.test", "INBOX", 1, 1, "<dsn-expired-1@mx.d0.test>", "mailer-daemon@mx.d0.test",
                  "Undelivered Mail Returned to Sender", c)
    handled = handle_inbound(tw.engine, dsn, lambda _: Policy(), START + timedelta(hours=5))
    assert handled.event == ev.BOUNCED and handled.send_id == send.id
    with session_scope(tw.engine) as s:
        assert s.exec(select(Send)).one().state == SendState.bounced
    [enrollment] = _enrollments(tw)
    assert enrollment.state == EnrollmentState.stopped and "soft bounce" in (enrollment.reason or "")
