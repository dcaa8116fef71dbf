"""Recording outcomes: soft bounces move on, unknown sends reconcile correctly, batched writes stay apart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from outbound.engine.claim import claim_due
from outbound.engine.deliver import deliver
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import retry_policy, run_tick
from outbound.store import outcomes
from outbound.store.db import session_scope
from outbound.store.effects import suppress_values
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Send, SendState
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _workspace(tmp_path: Path, sink: SmtpSink, **seq: Any) -> BuiltWorkspace:
    return build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN, **seq)],
                 [domain("d0.test", sink.port, 1, daily_cap=50, gap={"min": 0, "max": 0})])


async def _ticks(tw: BuiltWorkspace, start: datetime, count: int, step: timedelta) -> None:
    pool = SmtpPool()
    try:
        for i in range(count):
            await run_tick(tw.ctx, pool, start + i * step)
    finally:
        await pool.close_all()


async def test_soft_bounce_without_stop_on_bounce_moves_to_the_next_step(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink, stop_on=["reply"])
    add_prospects(tw, 1, "seq")
    smtp_sink.script.extend(["250 2.1.5 OK", "552 5.2.2 <{a}>: Mailbox full"])  # the second step soft-bounces
    await _ticks(tw, START, 40, timedelta(hours=6))  # 10 days: the later steps fall due
    with session_scope(tw.engine) as s:
        states = {x.step_id: x.state for x in s.exec(select(Send))}
        enr = s.exec(select(Enrollment)).one()
    assert states == {"intro": SendState.sent, "bump": SendState.bounced, "last": SendState.sent}
    assert enr.state == EnrollmentState.completed
    first, last = [m.message for m in smtp_sink.messages]  # the bounced step was never sent again
    assert last["In-Reply-To"] == first["Message-ID"], "the next step threads under what was delivered"


def _unknown_send(tw: BuiltWorkspace) -> tuple[int, datetime]:
    """A send left ``sending`` by a daemon that died mid-transaction, recovered as ``unknown``."""
    claim = claim_due(tw.ctx, START).claims[0]
    assert outcomes.mark_sending(tw.engine, claim.send_id, tw.ctx.worker, START, subject="Hello P0")
    later = START + tw.ctx.settings.daemon.lease + timedelta(seconds=1)
    assert outcomes.recover_expired(tw.engine, later) == (0, 1)
    return claim.send_id, later


def _sent_today(tw: BuiltWorkspace) -> int:
    with Session(tw.engine) as s:
        return s.exec(select(MailboxState)).one().sent_on_last_day


@pytest.mark.parametrize("found", [True, False])
async def test_reconciled_unknown_send(smtp_sink: SmtpSink, tmp_path: Path, found: bool) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    add_prospects(tw, 1, "seq")
    send_id, later = _unknown_send(tw)
    assert _sent_today(tw) == 1
    outcomes.reconcile(tw.engine, send_id, found_in_sent=found, now=later)
    with session_scope(tw.engine) as s:
        send, enr = s.get(Send, send_id), s.exec(select(Enrollment)).one()
        assert send is not None
        assert enr.state == EnrollmentState.active and "unconfirmed" not in (enr.reason or "")
        if found:
            assert send.state == SendState.sent and enr.next_step == 1 and enr.last_subject == "Hello P0"
        else:
            assert send.state == SendState.retry and enr.next_step == 0
    assert _sent_today(tw) == (1 if found else 0), "a send that never went out gives its cap slot back"
    await _ticks(tw, later, 40, timedelta(hours=6))
    subjects = [m.message["Subject"] for m in smtp_sink.messages]
    if found:  # the follow-ups thread under the subject the prospect really got
        assert subjects == ["Re: Hello P0", "Re: Hello P0"]
    else:
        assert subjects == ["Hello P0", "Re: Hello P0", "Re: Hello P0"]


async def test_a_failing_write_does_not_sink_its_batch(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    add_prospects(tw, 3, "seq")
    claims = claim_due(tw.ctx, START).claims
    recorder = tw.ctx.recorder()

    def boom(session: Session) -> None:
        raise RuntimeError("boom")

    def mark(send_id: int) -> Callable[[Session], bool]:
        return lambda s: outcomes.mark_sending_in(s, send_id, tw.ctx.worker, START)

    marks = [recorder.write(mark(c.send_id)) for c in claims]
    results = await asyncio.gather(*marks, recorder.write(boom), return_exceptions=True)
    assert results[:3] == [True, True, True] and isinstance(results[3], RuntimeError)
    with session_scope(tw.engine) as s:
        assert {x.state for x in s.exec(select(Send))} == {SendState.sending}
    assert recorder.batches < 6, "the marks went in together"


async def test_a_recipient_suppressed_after_the_claim_is_never_sent(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """An unsubscribe that lands between the claim and the SMTP session still stops the send."""
    tw = _workspace(tmp_path, smtp_sink)
    add_prospects(tw, 1, "seq")
    claim = claim_due(tw.ctx, START).claims[0]
    assert _sent_today(tw) == 1
    with session_scope(tw.engine) as s:
        suppress_values(s, [claim.prospect.email], "unsubscribed (one-click)", START)
    pool = SmtpPool()
    try:
        result = await deliver(tw.ctx, pool, claim, START, retry_policy(tw.ctx))
    finally:
        await pool.close_all()
    assert result.status == "lost" and smtp_sink.messages == []
    assert _sent_today(tw) == 0, "the unsent claim gives its cap slot back at once"
    await _ticks(tw, START + timedelta(minutes=1), 3, timedelta(hours=6))
    with session_scope(tw.engine) as s:
        enr = s.exec(select(Enrollment)).one()
        states = [x.state for x in s.exec(select(Send))]
    assert smtp_sink.messages == [] and states == [SendState.retry]
    assert enr.state == EnrollmentState.stopped and "unsubscribed" in (enr.reason or "")


def test_marks_in_one_batch_each_keep_their_own_lease_check(tmp_path: Path, database_url: str) -> None:
    """The batched ``sending`` mark takes only the sends whose lease still holds at each mark's own time,
    and only for the worker that holds them."""
    tw = build(tmp_path / "ws", database_url, [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", 1, 1, daily_cap=50, gap={"min": 0, "max": 0})])
    add_prospects(tw, 4, "seq")
    claims = claim_due(tw.ctx, START).claims
    assert len(claims) == 4
    end = claims[0].lease_until
    ok, late, stranger, fine = (c.send_id for c in claims)
    marks = [outcomes.Marking(ok, tw.ctx.worker, START, "s"), outcomes.Marking(late, tw.ctx.worker, end, "s"),
             outcomes.Marking(stranger, "someone-else", START, "s"), outcomes.Marking(fine, tw.ctx.worker, START, "s")]
    with session_scope(tw.engine) as s:
        marked = outcomes.mark_sending_many(s, marks)
    assert marked == {ok, fine}
    with session_scope(tw.engine) as s:
        states = {x.id: x.state for x in s.exec(select(Send))}
    assert states == {ok: SendState.sending, late: SendState.claimed, stranger: SendState.claimed,
                      fine: SendState.sending}


async def test_a_batch_in_lanes_returns_in_claim_order_with_every_delivery_committed(smtp_sink: SmtpSink,
                                                                                      tmp_path: Path) -> None:
    """Lanes do not wait for their delivery records, so the tick itself must: when it returns, every
    delivered send is committed ``sent`` (a daemon stopping right after it loses nothing)."""
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", smtp_sink.port, 3, daily_cap=50, gap={"min": 0, "max": 0})])
    add_prospects(tw, 30, "seq")
    smtp_sink.data_delay = 0.02  # each message's reply comes late: a second lane overlaps it, a single lane cannot
    pool = SmtpPool(max_connections_per_mailbox=2)
    try:
        report = await run_tick(tw.ctx, pool, START)
    finally:
        await pool.close_all()
    # two lanes per mailbox ran at once, never more than its two connections
    assert sorted(smtp_sink.most_in_flight.values()) == [2, 2, 2]
    assert [r.claim.send_id for r in report.results] == [c.send_id for c in report.claimed]
    assert report.counts == {"delivered": 30}
    with session_scope(tw.engine) as s:
        states = [x.state for x in s.exec(select(Send))]
    assert states == [SendState.sent] * 30
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == sorted(c.prospect.email for c in report.claimed)
