"""Applying events to the ``scores`` table: incrementally past a watermark, or rebuilt from scratch.

Both paths replay events in id order through the same ``Decayed.add``, so they give the same floats.
Batches are read and written in bulk (one query per batch and table, not per event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from outbound.scoring.decay import Decayed, weight_of
from outbound.scoring.rules import Decision, EventView, ProspectChange
from outbound.scoring.spec import SCORED_TYPES, ScoringSpec
from outbound.store.db import is_sqlite, session_scope
from outbound.store.scoring_tables import ScoringWatermark
from outbound.store.tables import Event, Prospect, Score

WATERMARK = "scores"
_IN_CHUNK = 2000  # bound parameters per IN list (SQLite's limit is 32766)
BatchHook = Callable[[Session, dict[int, ProspectChange]], list[Decision]]
_score = Score.__table__  # type: ignore[attr-defined]
_watermarks = ScoringWatermark.__table__  # type: ignore[attr-defined]


@dataclass
class PassResult:
    events: int = 0                      # events read past the watermark
    changed: set[int] = field(default_factory=set)      # prospects whose score changed (all the rules look at)
    accounts: set[str] = field(default_factory=set)     # accounts whose score changed
    decisions: list[Decision] = field(default_factory=list)
    last_event_id: int = 0

    @property
    def changed_prospects(self) -> int:
        return len(self.changed)

    @property
    def changed_accounts(self) -> int:
        return len(self.accounts)


def upper_bound(engine: Engine) -> int:
    """The highest event id below which every id is settled (committed or never to be).

    On PostgreSQL a sequence hands out ids before commit, so a reader could see id 101 while 100 is
    still in flight and skip it for ever; a SHARE lock waits for those writers to finish.
    """
    with session_scope(engine) as session:
        if not is_sqlite(engine):
            session.execute(text("LOCK TABLE events IN SHARE MODE"))
        return int(session.scalar(select(func.max(col(Event.id)))) or 0)


def score_pass(engine: Engine, spec: ScoringSpec, now: datetime, *, batch_size: int = 20000,
               on_batch: BatchHook | None = None) -> PassResult:
    """Applies every event past the watermark; ``on_batch`` (the rules) runs in each batch's transaction."""
    result = PassResult()
    bound = upper_bound(engine)
    while True:
        with session_scope(engine) as session:
            mark = _watermark(session, now)
            if mark.last_event_id >= bound:
                result.last_event_id = mark.last_event_id
                return result
            rows = _events(session, mark.last_event_id, bound, batch_size, spec)
            changes, accounts = _apply(session, rows, spec, now, keep_events=on_batch is not None)
            if on_batch is not None and changes:
                result.decisions.extend(on_batch(session, changes))
            mark.last_event_id = rows[-1][0] if len(rows) == batch_size else bound
            mark.updated_at = now
            result.events += len(rows)
            result.changed.update(changes)
            result.accounts.update(accounts)
            result.last_event_id = mark.last_event_id


def rebuild_scores(engine: Engine, spec: ScoringSpec, now: datetime, *, batch_size: int = 20000) -> PassResult:
    """Recomputes prospect and account scores from every event, in one transaction; fires no rules."""
    result = PassResult()
    bound = upper_bound(engine)
    with session_scope(engine) as session:
        mark = _watermark(session, now)
        session.execute(delete(Score).where(col(Score.subject_kind).in_(["prospect", "account"])))
        last = 0
        while last < bound:
            rows = _events(session, last, bound, batch_size, spec)
            changes, accounts = _apply(session, rows, spec, now)
            last = rows[-1][0] if len(rows) == batch_size else bound
            result.events += len(rows)
            result.changed.update(changes)
            result.accounts.update(accounts)
        mark.last_event_id, mark.updated_at = bound, now
        result.last_event_id = bound
    return result


def read_scores(engine: Engine, kind: str = "prospect") -> dict[str, Decayed]:
    with session_scope(engine) as session:
        rows = session.execute(select(col(Score.subject), col(Score.score), col(Score.updated_at)).where(col(Score.subject_kind) == kind))
        return {s: Decayed(v, at) for s, v, at in rows}


def score_now(engine: Engine, spec: ScoringSpec, kind: str, subject: str, now: datetime) -> float:
    with session_scope(engine) as session:
        row = session.execute(select(col(Score.score), col(Score.updated_at)).where(
            col(Score.subject_kind) == kind, col(Score.subject) == subject)).first()
    return 0.0 if row is None else Decayed(row[0], row[1]).at(now, spec.half_life.total_seconds())


def _watermark(session: Session, now: datetime) -> ScoringWatermark:
    # FOR UPDATE: two daemons never apply the same events twice (SQLite's BEGIN IMMEDIATE already serialises)
    query = select(ScoringWatermark).where(col(ScoringWatermark.name) == WATERMARK).with_for_update()
    mark = session.scalars(query).first()
    if mark is None:
        # A FOR UPDATE on a missing row locks nothing: create it, unless another daemon just did
        # (its INSERT makes ours wait for its commit, then do nothing), and lock the row that exists.
        row = {"name": WATERMARK, "last_event_id": 0, "updated_at": now}
        if session.get_bind().dialect.name == "sqlite":
            session.execute(sqlite_insert(_watermarks).values(row).on_conflict_do_nothing(index_elements=["name"]))
        else:
            session.execute(pg_insert(_watermarks).values(row).on_conflict_do_nothing(index_elements=["name"]))
        mark = session.scalars(query).one()
    return mark


Row = tuple[int, str, datetime, int | None, int | None, dict[str, Any]]


def _events(session: Session, after: int, bound: int, limit: int, spec: ScoringSpec) -> list[Row]:
    types = sorted(SCORED_TYPES | spec.rule_event_types)
    query = (select(col(Event.id), col(Event.type), col(Event.at), col(Event.prospect_id), col(Event.enrollment_id), col(Event.data))
             .where(col(Event.id) > after, col(Event.id) <= bound, col(Event.type).in_(types))
             .order_by(col(Event.id)).limit(limit))
    return [(int(i), t, at, p, e, d or {}) for i, t, at, p, e, d in session.connection().execute(query)]


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


def _apply(session: Session, rows: list[Row], spec: ScoringSpec, now: datetime, *,
           keep_events: bool = False) -> tuple[dict[int, ProspectChange], set[str]]:
    """Adds a batch to the scores; returns the changed prospects and the changed accounts."""
    hl = spec.half_life.total_seconds()
    rule_types = spec.rule_event_types
    pids = {r[3] for r in rows if r[3] is not None}
    domains: dict[int, str | None] = {}
    for chunk in _chunks(pids):
        domains.update((int(i or 0), (d or "").lower() or None) for i, d in session.connection().execute(
            select(col(Prospect.id), col(Prospect.company_domain)).where(col(Prospect.id).in_(chunk))))
    wanted = {("prospect", str(p)) for p in pids} | {("account", d) for d in domains.values() if d}
    stored = _load(session, wanted)
    states: dict[tuple[str, str], Decayed] = {k: v for k, (_, v) in stored.items()}
    dirty: set[tuple[str, str]] = set()
    changes: dict[int, ProspectChange] = {}
    for eid, kind, at, pid, enr, data in rows:
        if pid is None:
            continue
        weight = weight_of(kind, data, spec.weights)
        if weight == 0 and kind not in rule_types:
            continue
        account = domains.get(pid)
        pkey, akey = ("prospect", str(pid)), ("account", account or "")
        change = changes.get(pid)
        if change is None:
            change = changes[pid] = ProspectChange(pid, account, before=_at(states.get(pkey), now, hl),
                                                   account_before=_at(states.get(akey), now, hl))
        if keep_events:  # only the rules read them
            change.events.append(EventView(eid, kind, at, pid, enr, data))
        if weight == 0:
            continue
        for key in (pkey, akey) if account else (pkey,):
            old = states.get(key)
            states[key] = Decayed(weight, at) if old is None else old.add(weight, at, hl)
            dirty.add(key)
    for change in changes.values():
        change.after = _at(states.get(("prospect", str(change.prospect_id))), now, hl)
        change.account_after = _at(states.get(("account", change.account or "")), now, hl)
    _store(session, dirty, states, stored)
    return changes, {k[1] for k in dirty if k[0] == "account"}


def _at(state: Decayed | None, now: datetime, hl: float) -> float:
    return 0.0 if state is None else state.at(now, hl)


def _load(session: Session, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, Decayed]]:
    out: dict[tuple[str, str], tuple[int, Decayed]] = {}
    for kind in ("prospect", "account"):
        subjects = [s for k, s in wanted if k == kind]
        for chunk in _chunks(subjects):
            for i, s, v, at in session.connection().execute(select(col(Score.id), col(Score.subject), col(Score.score), col(Score.updated_at)).where(
                    col(Score.subject_kind) == kind, col(Score.subject).in_(chunk))):
                out[(kind, s)] = (int(i or 0), Decayed(float(v), at))
    return out


_BULK_UPDATE_PG = text(
    "UPDATE scores AS s SET score = u.score, updated_at = u.at"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:scores AS double precision[]), CAST(:ats AS timestamptz[]))"
    " AS u(id, score, at) WHERE s.id = u.id")


def _store(session: Session, dirty: set[tuple[str, str]], states: dict[tuple[str, str], Decayed],
           stored: dict[tuple[str, str], tuple[int, Decayed]]) -> None:
    updates = [{"b_id": stored[k][0], "b_score": states[k].value, "b_at": states[k].ref} for k in dirty if k in stored]
    inserts = [{"subject_kind": k[0], "subject": k[1], "score": states[k].value, "updated_at": states[k].ref}
               for k in dirty if k not in stored]
    conn = session.connection()
    if updates and conn.dialect.name == "postgresql":
        # one statement per chunk, the values as three arrays: an executemany is one UPDATE per row
        for chunk in _chunks(updates):
            conn.execute(_BULK_UPDATE_PG, {"ids": [u["b_id"] for u in chunk], "scores": [u["b_score"] for u in chunk],
                                           "ats": [u["b_at"] for u in chunk]})
    elif updates:
        conn.execute(update(_score).where(_score.c.id == bindparam("b_id"))
                     .values(score=bindparam("b_score"), updated_at=bindparam("b_at")), updates)
    if inserts:
        conn.execute(insert(_score), inserts)
