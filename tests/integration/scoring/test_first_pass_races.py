"""Two daemons started at the same moment on a fresh database run their first health pass (before
their first send tick claims) and their first scoring pass at the same moment. Each pass creates a
row that does not exist yet (a ``mailbox_health`` row per mailbox, the ``scores`` watermark); both
must come through without an IntegrityError, with exactly one row each, and the scoring passes
must still serialise on the watermark (every event applied once).

On PostgreSQL the racers meet before their INSERT (a listener on the engine holds each racing
thread at a barrier just before it sends the INSERT into the table), so every round runs the race
where both have read "no row" before either inserted: the old read-then-insert code failed it every
time. SQLite's ``BEGIN IMMEDIATE`` already serialises the two transactions (the second one blocks
in BEGIN until the first commits), so there the racers only start together; the test runs on both
databases so the SQLite path of the insert-if-missing is exercised too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, delete, event, func, select
from sqlmodel import col

from outbound.config import HealthSettings
from outbound.core import events as ev
from outbound.scoring.apply import WATERMARK, read_scores, score_pass
from outbound.scoring.health import mailbox_health_pass
from outbound.scoring.spec import ScoringSpec
from outbound.store.db import is_sqlite, open_store, session_scope
from outbound.store.scoring_tables import MailboxHealth, ScoringWatermark
from outbound.store.tables import Event, MailboxState, Score
from tests.integration.scoring.helpers import add_events, add_people

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ROUNDS = 5
RACERS = 2  # two daemons
ADDRESSES = [f"m{i}@d{i % 3}.test" for i in range(12)]


def _race(fn: Callable[[], T], barrier: threading.Barrier) -> tuple[list[T], list[BaseException]]:
    """Runs ``fn`` in RACERS threads that start at the same moment; (results, exceptions)."""
    start = threading.Barrier(RACERS)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        try:
            out = fn()
        except BaseException as exc:
            with lock:
                errors.append(exc)
            barrier.abort()  # the other racer must not wait for one that failed
            return
        with lock:
            results.append(out)

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a racer hung"
    return results, errors


class _Racers:
    """The per-round barrier and the thread-local flag the engine listener reads."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine, self.table = engine, table
        self.flag = threading.local()
        self.barrier = [threading.Barrier(RACERS)]
        self._listener: Callable[..., None] | None = None

    def __enter__(self) -> _Racers:
        if not is_sqlite(self.engine):
            prefix = f"INSERT INTO {self.table.upper()}"

            def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                if getattr(self.flag, "on", False) and statement.lstrip().upper().startswith(prefix):
                    self.flag.on = False  # the first INSERT of the pass only
                    with contextlib.suppress(threading.BrokenBarrierError):  # a racer that never inserts
                        self.barrier[0].wait(timeout=5)

            self._listener = before
            event.listen(self.engine, "before_cursor_execute", before)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._listener is not None:
            event.remove(self.engine, "before_cursor_execute", self._listener)

    def round(self, fn: Callable[[], T]) -> tuple[list[T], list[BaseException]]:
        self.barrier[0] = threading.Barrier(RACERS)

        def marked() -> T:
            self.flag.on = True
            try:
                return fn()
            finally:
                self.flag.on = False

        return _race(marked, self.barrier[0])


def _count(engine: Engine, column: Any) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count(column))) or 0)


def test_two_first_health_passes_at_once_create_each_mailbox_health_row_once(database_url: str) -> None:
    engine = open_store(database_url)
    with session_scope(engine) as s:
        for a in ADDRESSES:
            s.add(MailboxState(address=a, domain=a.split("@")[1]))
    # evidence enough to pause one mailbox: the pass must still pause it once, whoever runs first
    add_events(engine, [{"type": ev.COMPLAINED, "at": NOW - timedelta(hours=1), "mailbox": ADDRESSES[0], "data": {}}])
    settings = HealthSettings()
    with _Racers(engine, "mailbox_health") as racers:
        for round_ in range(ROUNDS):
            with session_scope(engine) as s:  # a fresh start: no health rows or pauses, the mailbox active again
                s.execute(delete(MailboxHealth))
                s.execute(delete(Event).where(col(Event.type) == ev.MAILBOX_PAUSED))
                box = s.get(MailboxState, ADDRESSES[0])
                assert box is not None
                box.state, box.pause_reason, box.paused_at = "active", None, None
            results, errors = racers.round(lambda: mailbox_health_pass(engine, NOW, settings))
            assert errors == [], f"round {round_}: {errors!r}"
            assert len(results) == RACERS
            with session_scope(engine) as s:
                rows = {h.address: h for h in s.scalars(select(MailboxHealth))}
                box = s.get(MailboxState, ADDRESSES[0])
                assert box is not None and box.state == "paused"
            assert sorted(rows) == sorted(ADDRESSES), f"round {round_}: health rows {sorted(rows)}"
            assert rows[ADDRESSES[0]].paused_by_health and rows[ADDRESSES[0]].pause_kind == "complaint"
            pauses = [d for got in results for d in got if d.action == "pause"]
            assert [d.address for d in pauses] == [ADDRESSES[0]], f"round {round_}: {pauses}"
    assert _count(engine, col(MailboxHealth.address)) == len(ADDRESSES)


def test_a_mailbox_synced_by_another_daemon_during_the_health_pass_gets_its_row(postgres_url: str) -> None:
    """The health rows are created before the pass reads the mailboxes; a mailbox another daemon's
    sync commits in between (PostgreSQL reads each statement afresh) gets its row in the same pass.
    On SQLite nothing can commit inside the pass's write transaction."""
    engine = open_store(postgres_url)
    with session_scope(engine) as s:
        s.add(MailboxState(address="m0@d.test", domain="d.test"))
    synced: list[str] = []

    def sync_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not synced and statement.lstrip().upper().startswith("SELECT") and "FROM MAILBOXES" in statement.upper():
            synced.append("m1@d.test")  # before the pass reads the mailboxes: commit one from another connection
            with session_scope(engine) as other:
                other.add(MailboxState(address="m1@d.test", domain="d.test"))

    event.listen(engine, "before_cursor_execute", sync_meanwhile)
    try:
        mailbox_health_pass(engine, NOW, HealthSettings())
    finally:
        event.remove(engine, "before_cursor_execute", sync_meanwhile)
    assert synced, "the pass never read the mailboxes"
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(col(MailboxHealth.address)))) == ["m0@d.test", "m1@d.test"]


def test_two_first_scoring_passes_at_once_create_the_watermark_once_and_apply_each_event_once(
        database_url: str) -> None:
    engine = open_store(database_url)
    ids = list(add_people(engine, [f"p{i}@c{i % 4}.test" for i in range(20)]).values())
    spec = ScoringSpec.model_validate({"half_life": "5d"})
    with _Racers(engine, "scoring_watermarks") as racers:
        for round_ in range(ROUNDS):
            with session_scope(engine) as s:  # a fresh start: no watermark, no scores
                s.execute(delete(ScoringWatermark))
                s.execute(delete(Score))
            added = add_events(engine, [{"type": ev.REPLIED, "at": NOW - timedelta(hours=i), "prospect_id": ids[i],
                                         "data": {}} for i in range(len(ids))])
            results, errors = racers.round(lambda: score_pass(engine, spec, NOW))
            assert errors == [], f"round {round_}: {errors!r}"
            with session_scope(engine) as s:
                marks = list(s.scalars(select(ScoringWatermark)))
                total = int(s.scalar(select(func.count(col(Event.id)))) or 0)
            assert [(m.name, m.last_event_id) for m in marks] == [(WATERMARK, max(added))], f"round {round_}"
            # serialised on the watermark row: every event read past it once, by one racer or split
            assert sum(r.events for r in results) == total, f"round {round_}: {[r.events for r in results]}"
            hl = spec.half_life.total_seconds()
            got = {k: v.at(NOW, hl) for k, v in read_scores(engine).items()}
            # one replied event per prospect and round so far, all applied once from id 0 after the reset
            expected = {str(p): (round_ + 1) * spec.weights.replied * 0.5 ** (i * 3600 / hl) for i, p in enumerate(ids)}
            assert got == pytest.approx(expected), f"round {round_}"
    assert _count(engine, col(ScoringWatermark.name)) == 1
