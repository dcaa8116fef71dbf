"""Lease recovery racing live owners, on the real databases: a claim whose lease runs out while its
owner marks and records it must end either sent (slot kept) or requeued (slot given back), never
both. The multi-daemon test meets this race only by chance; here every send of a round meets it."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from outbound.engine.claim import Claim, claim_due
from outbound.store import outcomes
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Send, SendState
from tests.integration.engine.daemon_proc import one_step_sequence
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROUNDS, BATCH = 6, 40
TICK = timedelta(milliseconds=1)


def _owner(tw: BuiltWorkspace, claims: list[Claim], lease_end: datetime, barrier: threading.Barrier) -> set[int]:
    """Marks and records each claim; its clock says the lease still holds (the recoverer's says not)."""
    delivered = set()
    for i, c in enumerate(claims):
        if i == len(claims) // 3:  # the recoverer starts once some are done, so both ways are run
            barrier.wait()
        if outcomes.mark_sending(tw.engine, c.send_id, tw.ctx.worker, lease_end - TICK, subject="s"):
            outcomes.record_delivered(tw.engine, c.send_id, outcomes.Delivered("s", None, ()), lease_end)
            delivered.add(c.send_id)
    return delivered


def _recoverer(tw: BuiltWorkspace, passes: int, lease_end: datetime, barrier: threading.Barrier) -> int:
    barrier.wait()
    return sum(outcomes.recover_expired(tw.engine, lease_end + TICK)[0] for _ in range(passes))


def test_recovery_racing_live_owners_keeps_sends_and_cap_counters_true(tmp_path: Path, database_url: str) -> None:
    tw = build(tmp_path / "ws", database_url, [one_step_sequence()],
               [domain("d0.test", 1, 1, daily_cap=10_000, gap={"min": 0, "max": 0})], settings="[daemon]\nlease = 10\n")
    add_prospects(tw, ROUNDS * BATCH, "seq", at=START - timedelta(hours=1))
    delivered: set[int] = set()
    requeued_total = 0
    now = START
    for _ in range(ROUNDS):
        claims = claim_due(tw.ctx, now, limit=BATCH).claims
        assert claims, "nothing was claimed"
        lease_end = claims[0].lease_until
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            owned = pool.submit(_owner, tw, claims, lease_end, barrier)
            recovered = pool.submit(_recoverer, tw, len(claims), lease_end, barrier)
            delivered |= owned.result(timeout=120)
            requeued_total += recovered.result(timeout=120)
        now = lease_end + timedelta(seconds=1)  # the next round claims the requeued sends again

    with session_scope(tw.engine) as s:
        sends = list(s.exec(select(Send)))
        counter = s.exec(select(MailboxState)).one().sent_on_last_day
        paused = [e.reason for e in s.exec(select(Enrollment)) if e.state == EnrollmentState.paused]
    states = Counter(x.state for x in sends)
    sent = {x.id for x in sends if x.state == SendState.sent}
    assert sent == delivered, "a send its owner delivered was rewritten by lease recovery"
    assert set(states) <= {SendState.sent, SendState.retry, SendState.claimed}
    # claimed (the last round's leftovers) and sent hold a slot; a requeued send gave its slot back once
    assert counter == states[SendState.sent] + states[SendState.claimed], (counter, states)
    assert paused == [], "an enrollment stayed paused for a send its owner recorded as delivered"
    assert 0 < len(delivered) < ROUNDS * BATCH and requeued_total > 0, "the race was never run both ways"
    print(f"\nlease race: {len(delivered)} delivered, {requeued_total} requeued, counter {counter}")
