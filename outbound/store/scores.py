"""The ``scores`` table and the scoring watermark: the reads and bulk writes of ``outbound.scoring.apply``.

Batches are read and written in bulk (one query per batch and table, not per event). The functions
that take a session run inside the caller's transaction (one batch, or a whole rebuild).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from outbound.store.db import is_sqlite, session_scope
from outbound.store.scoring_tables import ScoringWatermark
from outbound.store.tables import Event, Prospect, Score

_IN_CHUNK = 2000  # bound parameters per IN list (SQLite's limit is 32766)
_score = Score.__table__  # type: ignore[attr-defined]
_watermarks = ScoringWatermark.__table__  # type: ignore[attr-defined]

EventRow = tuple[int, str, datetime, int | None, int | None, dict[str, Any]]
"""(id, type, at, prospect_id, enrollment_id, data) of one event."""
Key = tuple[str, str]
"""(subject_kind, subject): ("prospect", "42") or ("account", "acme.com")."""
Stored = tuple[int, float, datetime]
"""(row id, score, the time the score was taken at) of a stored score."""


def upper_bound(engine: Engine) -> int:
    """The highest event id below which every id is settled (committed or never to be).

    On PostgreSQL a sequence hands out ids before commit, so a reader could see id 101 while 100 is
    still in flight and skip it for ever; a SHARE lock waits for those writers to finish.
    """
    with session_scope(engine) as session:
        if not is_sqlite(engine):
            session.execute(text("LOCK TABLE events IN SHARE MODE"))
        return int(session.scalar(select(func.max(col(Event.id)))) or 0)


def lock_watermark(session: Session, name: str, now: datetime) -> int:
    """The watermark's event id, its row locked until the transaction ends (created at 0 if missing)."""
    # FOR UPDATE: two daemons never apply the same events twice (SQLite's BEGIN IMMEDIATE already serialises)
    query = select(col(ScoringWatermark.last_event_id)).where(col(ScoringWatermark.name) == name).with_for_update()
    last = session.execute(query).scalar()
    if last is None:
        # A FOR UPDATE on a missing row locks nothing: create it, unless another daemon just did
        # (its INSERT makes ours wait for its commit, then do nothing), and lock the row that exists.
        row = {"name": name, "last_event_id": 0, "updated_at": now}
        upsert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
        session.execute(upsert(_watermarks).values(row).on_conflict_do_nothing(index_elements=["name"]))
        last = session.execute(query).scalar_one()
    return int(last)


def set_watermark(session: Session, name: str, last_event_id: int, now: datetime) -> None:
    session.execute(update(_watermarks).where(_watermarks.c.name == name)
                    .values(last_event_id=last_event_id, updated_at=now))


def events_after(session: Session, after: int, bound: int, limit: int, types: Collection[str]) -> list[EventRow]:
    """Up to ``limit`` events of these types with ``after < id <= bound``, in id order."""
    query = (select(col(Event.id), col(Event.type), col(Event.at), col(Event.prospect_id), col(Event.enrollment_id),
                    col(Event.data))
             .where(col(Event.id) > after, col(Event.id) <= bound, col(Event.type).in_(sorted(types)))
             .order_by(col(Event.id)).limit(limit))
    return [(int(i), t, at, p, e, d or {}) for i, t, at, p, e, d in session.connection().execute(query)]


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


def company_domains(session: Session, prospect_ids: Iterable[int]) -> dict[int, str | None]:
    """Each prospect's company domain in lower case (its account), None without one."""
    out: dict[int, str | None] = {}
    for chunk in _chunks(prospect_ids):
        out.update((int(i or 0), (d or "").lower() or None) for i, d in session.connection().execute(
            select(col(Prospect.id), col(Prospect.company_domain)).where(col(Prospect.id).in_(chunk))))
    return out


def load_scores(session: Session, wanted: set[Key]) -> dict[Key, Stored]:
    out: dict[Key, Stored] = {}
    for kind in ("prospect", "account"):
        subjects = [s for k, s in wanted if k == kind]
        for chunk in _chunks(subjects):
            for i, s, v, at in session.connection().execute(
                    select(col(Score.id), col(Score.subject), col(Score.score), col(Score.updated_at))
                    .where(col(Score.subject_kind) == kind, col(Score.subject).in_(chunk))):
                out[(kind, s)] = (int(i or 0), float(v), at)
    return out


_BULK_UPDATE_PG = text(
    "UPDATE scores AS s SET score = u.score, updated_at = u.at"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:scores AS double precision[]), CAST(:ats AS timestamptz[]))"
    " AS u(id, score, at) WHERE s.id = u.id")


def save_scores(session: Session, updates: list[tuple[int, float, datetime]],
                inserts: list[tuple[Key, float, datetime]]) -> None:
    """``updates``: (row id, score, at) of stored scores; ``inserts``: (key, score, at) of new ones."""
    conn = session.connection()
    if updates and conn.dialect.name == "postgresql":
        # one statement per chunk, the values as three arrays: an executemany is one UPDATE per row
        for chunk in _chunks(updates):
            conn.execute(_BULK_UPDATE_PG, {"ids": [u[0] for u in chunk], "scores": [u[1] for u in chunk],
                                           "ats": [u[2] for u in chunk]})
    elif updates:
        conn.execute(update(_score).where(_score.c.id == bindparam("b_id"))
                     .values(score=bindparam("b_score"), updated_at=bindparam("b_at")),
                     [{"b_id": i, "b_score": v, "b_at": at} for i, v, at in updates])
    if inserts:
        conn.execute(insert(_score), [{"subject_kind": k[0], "subject": k[1], "score": v, "updated_at": at}
                                      for k, v, at in inserts])


def clear_scores(session: Session) -> None:
    """Deletes every prospect and account score (a rebuild writes them again in the same transaction)."""
    session.execute(delete(Score).where(col(Score.subject_kind).in_(["prospect", "account"])))


def scores_of(engine: Engine, kind: str) -> dict[str, tuple[float, datetime]]:
    with session_scope(engine) as session:
        rows = session.execute(select(col(Score.subject), col(Score.score), col(Score.updated_at))
                               .where(col(Score.subject_kind) == kind))
        return {s: (v, at) for s, v, at in rows}
