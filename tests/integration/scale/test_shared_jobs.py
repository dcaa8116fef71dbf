"""What several daemons share besides sending, raced from threads on one real database: IMAP poll
leases (each mailbox polled by one daemon at a time, taken over when its daemon dies) and the gate
that runs the scheduled domain check once per period across all daemons. Plus the schema: the
migrations build exactly the tables' indexes (autogenerate finds nothing to add)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import outbound.store.scoring_tables  # noqa: F401  (registers the scoring tables too)
from outbound.store.db import open_store, session_scope
from outbound.store.gates import pass_gate
from outbound.store.tables import MailboxState
from outbound.store.watermarks import acquire_poll_leases, release_poll_leases

T = TypeVar("T")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADDRESSES = [f"m{i}@d.test" for i in range(12)]


def _race(workers: list[str], fn: Callable[[str], T]) -> dict[str, T]:
    """Runs ``fn(worker)`` for every worker at the same moment, one thread each."""
    barrier = threading.Barrier(len(workers))
    out: dict[str, T] = {}

    def one(worker: str) -> None:
        barrier.wait()
        out[worker] = fn(worker)

    threads = [threading.Thread(target=one, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(out) == len(workers), "a worker did not finish"
    return out


def _mailboxes(engine: Engine) -> None:
    with session_scope(engine) as s:
        for a in ADDRESSES:
            s.add(MailboxState(address=a, domain="d.test"))


def test_each_mailbox_is_polled_by_one_daemon_and_taken_over_when_it_dies(database_url: str) -> None:
    engine = open_store(database_url)
    _mailboxes(engine)
    workers = [f"host{i}:{100 + i}:abc" for i in range(4)]
    until = NOW + timedelta(minutes=5)
    won = _race(workers, lambda w: acquire_poll_leases(engine, ADDRESSES, w, NOW, until))
    holders = Counter(a for got in won.values() for a in got)
    assert holders == {a: 1 for a in ADDRESSES}, "a mailbox was leased to two daemons at once"

    # the first winner dies (no release); until its lease ends nobody else may poll its mailboxes
    dead = next(w for w, got in won.items() if got)
    orphans = won[dead]
    alive = [w for w in workers if w != dead]
    assert _race(alive, lambda w: acquire_poll_leases(engine, orphans, w, NOW + timedelta(minutes=4), until)) == {
        w: [] for w in alive}
    later = NOW + timedelta(minutes=6)
    taken = _race(alive, lambda w: acquire_poll_leases(engine, orphans, w, later, later + timedelta(minutes=5)))
    assert sorted(a for got in taken.values() for a in got) == sorted(orphans), "the orphans were not taken over once"

    # a daemon that stops cleanly hands its mailboxes over at once
    heir = next(w for w, got in taken.items() if got)
    release_poll_leases(engine, taken[heir], heir)
    other = next(w for w in alive if w != heir)
    assert sorted(acquire_poll_leases(engine, taken[heir], other, later, later + timedelta(minutes=5))) == sorted(
        taken[heir])
    engine.dispose()


def test_the_scheduled_domain_check_runs_once_per_period_across_daemons(database_url: str) -> None:
    engine = open_store(database_url)
    workers = [f"w{i}" for i in range(6)]
    every = timedelta(hours=6)
    periods = [NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=6), NOW + timedelta(hours=6, minutes=1),
               NOW + timedelta(hours=13)]
    runs = [sum(_race(workers, lambda _w, at=at: pass_gate(engine, "health", at, every)).values()) for at in periods]
    # first run ever (the row is created: one insert wins), within the period, the next period, ...
    assert runs == [1, 0, 1, 0, 1]
    engine.dispose()


def test_the_migrations_match_the_tables(database_url: str) -> None:
    engine = open_store(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    with engine.connect() as conn:
        names = {i["name"] for t in ("sends", "events") for i in inspect(conn).get_indexes(t)}
    assert {"ix_sends_mailbox_claimed", "ix_sends_to_address", "ix_events_type_at"} <= names
    assert "ix_sends_mailbox_domain" not in names
    engine.dispose()
