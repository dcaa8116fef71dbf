"""Forwarding replies exactly once over a real SMTP server (aiosmtpd), on SQLite and PostgreSQL: a
forward the server refuses is delivered by a later pass, once; two daemons retrying at the same time
deliver it once; a forward cut short by a crash (claimed, never sent) is delivered after its lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from outbound.core import events as ev
from outbound.inbox.forward import LEASE, retry_forwards
from outbound.inbox.job import forward_if_wanted, process_message, rules_for
from outbound.inbox.poller import FetchedMessage
from outbound.store import forward_outbox as outbox
from outbound.store.db import utcnow
from outbound.store.replies import reply_by_key
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence
from tests.integration.inbox.test_inbox_loop import events, send_first_step

ANN, TEAM, BOX = "ann@acme.test", "team@ours.test", "m0@d0.test"


def _world(tmp_path: Path, database_url: str, sink: SmtpSink) -> tuple[BuiltWorkspace, FetchedMessage]:
    tw = build(tmp_path / "ws", database_url, [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", sink.port, 1, gap={"min": 0, "max": 0})],
               settings=f'[daemon]\nhealth_checks = false\n[inbox]\nforward_to = "{TEAM}"\n')
    sent = asyncio.run(send_first_step(tw, [ANN]))[ANN]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ANN, BOX, "Re: Hello"
    msg["Message-ID"], msg["In-Reply-To"] = "<r1@acme.test>", sent.message_id or ""
    msg.set_content("Sounds good, can we talk on Thursday at 3pm?\n")
    return tw, FetchedMessage(BOX, "INBOX", 1, 1, msg.as_bytes())


def _forwards(sink: SmtpSink) -> list[EmailMessage]:
    return [m.message for m in sink.messages if m.rcpt_tos == [TEAM]]


def _first_attempt(tw: BuiltWorkspace, fetched: FetchedMessage) -> str | None:
    """The poller's handling of the message: recorded, then forwarded (or not) right away."""
    now = utcnow()
    handled = process_message(tw.ctx, fetched, rules_for(tw.ctx), now)
    assert handled.event == ev.REPLIED and handled.key
    return asyncio.run(forward_if_wanted(tw.ctx, fetched, handled, now))


def _record(tw: BuiltWorkspace) -> outbox.Forward:
    [forward] = [e for e in events(tw) if e.type == ev.REPLY_FORWARDED]
    record = outbox.find(tw.engine, int(forward.data["reply"]))
    assert record is not None
    return record


def test_a_refused_forward_is_delivered_by_a_later_pass_once(tmp_path: Path, database_url: str,
                                                             smtp_sink: SmtpSink) -> None:
    tw, fetched = _world(tmp_path, database_url, smtp_sink)
    smtp_sink.script.append("451 4.3.0 Try again later")
    assert _first_attempt(tw, fetched) == "retry"
    assert _forwards(smtp_sink) == []
    now = utcnow()
    assert asyncio.run(retry_forwards(tw.ctx, now)).sent == 0, "not due before its backoff"
    again = asyncio.run(retry_forwards(tw.ctx, now + timedelta(minutes=2)))
    assert (again.sent, again.retrying, again.failed) == (1, 0, 0)
    for later in (timedelta(minutes=3), LEASE * 2, timedelta(days=1)):
        assert asyncio.run(retry_forwards(tw.ctx, now + later)).sent == 0
    assert _first_attempt(tw, fetched) is None, "the same message polled again forwards nothing"
    [fwd] = _forwards(smtp_sink)
    [attached] = [p for p in fwd.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert attached.get_content()["Message-ID"] == "<r1@acme.test>"
    record = _record(tw)
    assert record.message_id == fwd["Message-ID"] and record.attempts == 2
    assert record.original is None, "the kept original is dropped once sent"


def test_two_daemons_retrying_at_once_deliver_once(tmp_path: Path, database_url: str, smtp_sink: SmtpSink) -> None:
    tw, fetched = _world(tmp_path, database_url, smtp_sink)
    smtp_sink.script.append("421 4.7.0 Too busy")
    assert _first_attempt(tw, fetched) == "retry"
    later = utcnow() + timedelta(minutes=2)

    async def two() -> list[int]:
        return [r.sent for r in await asyncio.gather(retry_forwards(tw.ctx, later), retry_forwards(tw.ctx, later))]

    assert sorted(asyncio.run(two())) == [0, 1]
    assert len(_forwards(smtp_sink)) == 1


def test_a_forward_cut_short_by_a_crash_goes_after_its_lease(tmp_path: Path, database_url: str,
                                                             smtp_sink: SmtpSink) -> None:
    tw, fetched = _world(tmp_path, database_url, smtp_sink)
    now = utcnow()
    handled = process_message(tw.ctx, fetched, rules_for(tw.ctx), now)
    reply = reply_by_key(tw.engine, handled.key or "")
    assert reply is not None
    # the daemon claimed the forward and died before its SMTP transaction
    assert outbox.claim_first(tw.engine, reply, TEAM, "<fwd-1@d0.test>", fetched.raw, now, LEASE) is not None
    assert asyncio.run(forward_if_wanted(tw.ctx, fetched, handled, now)) is None, "claimed: a restart polls it again"
    assert asyncio.run(retry_forwards(tw.ctx, now + LEASE / 2)).sent == 0, "the attempt may still be under way"
    assert asyncio.run(retry_forwards(tw.ctx, now + LEASE + timedelta(seconds=1))).sent == 1
    assert asyncio.run(retry_forwards(tw.ctx, now + LEASE * 3)).sent == 0
    [fwd] = _forwards(smtp_sink)
    assert fwd["Message-ID"] == "<fwd-1@d0.test>", "the Message-ID recorded before the crash"
    assert any(p.get_content_type() == "message/rfc822" for p in fwd.iter_attachments())


def test_a_forward_refused_every_time_is_given_up_after_its_attempts(tmp_path: Path, database_url: str,
                                                                      smtp_sink: SmtpSink) -> None:
    tw, fetched = _world(tmp_path, database_url, smtp_sink)
    smtp_sink.script.extend(["450 4.2.0 Mailbox busy"] * 6)
    assert _first_attempt(tw, fetched) == "retry"
    at, results = utcnow(), []
    for _ in range(6):
        at += timedelta(hours=7)
        r = asyncio.run(retry_forwards(tw.ctx, at))
        results.append((r.sent, r.retrying, r.failed))
    assert results == [(0, 1, 0)] * 4 + [(0, 0, 1), (0, 0, 0)], "six attempts in all, then no more"
    assert _forwards(smtp_sink) == []
