"""Applying events to the ``scores`` table: incrementally past a watermark, or rebuilt from scratch.

Both paths replay events in id order through the same ``Decayed.add``, so they give the same floats.
The reads and bulk writes are ``outbound.store.scores``; this module does the arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from outbound.scoring.decay import Decayed, weight_of
from outbound.scoring.rules import Decision, EventView, ProspectChange
from outbound.scoring.spec import ScoringSpec
from outbound.store import scores as store
from outbound.store.db import session_scope
from outbound.store.scores import EventRow, Key

WATERMARK = "scores"
BatchHook = Callable[[Session, dict[int, ProspectChange]], list[Decision]]


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


def score_pass(engine: Engine, spec: ScoringSpec, now: datetime, *, batch_size: int = 20000,
               on_batch: BatchHook | None = None) -> PassResult:
    """Applies every event past the watermark; ``on_batch`` (the rules) runs in each batch's transaction."""
    result = PassResult()
    bound = store.upper_bound(engine)
    types = spec.scored_types
    while True:
        with session_scope(engine) as session:
            last = store.lock_watermark(session, WATERMARK, now)
            if last >= bound:
                result.last_event_id = last
                return result
            rows = store.events_after(session, last, bound, batch_size, types)
            changes, accounts = _apply(session, rows, spec, now, keep_events=on_batch is not None)
            if on_batch is not None and changes:
                result.decisions.extend(on_batch(session, changes))
            last = rows[-1][0] if len(rows) == batch_size else bound
            store.set_watermark(session, WATERMARK, last, now)
            result.events += len(rows)
            result.changed.update(changes)
            result.accounts.update(accounts)
            result.last_event_id = last


def rebuild_scores(engine: Engine, spec: ScoringSpec, now: datetime, *, batch_size: int = 20000) -> PassResult:
    """Recomputes prospect and account scores from every event, in one transaction; fires no rules."""
    result = PassResult()
    bound = store.upper_bound(engine)
    types = spec.scored_types
    with session_scope(engine) as session:
        store.lock_watermark(session, WATERMARK, now)
        store.clear_scores(session)
        last = 0
        while last < bound:
            rows = store.events_after(session, last, bound, batch_size, types)
            changes, accounts = _apply(session, rows, spec, now)
            last = rows[-1][0] if len(rows) == batch_size else bound
            result.events += len(rows)
            result.changed.update(changes)
            result.accounts.update(accounts)
        store.set_watermark(session, WATERMARK, bound, now)
        result.last_event_id = bound
    return result


def read_scores(engine: Engine, kind: str = "prospect") -> dict[str, Decayed]:
    return {s: Decayed(v, at) for s, (v, at) in store.scores_of(engine, kind).items()}


def _apply(session: Session, rows: list[EventRow], spec: ScoringSpec, now: datetime, *,
           keep_events: bool = False) -> tuple[dict[int, ProspectChange], set[str]]:
    """Adds a batch to the scores; returns the changed prospects and the changed accounts."""
    hl = spec.half_life.total_seconds()
    rule_types = spec.rule_event_types
    pids = {r[3] for r in rows if r[3] is not None}
    domains = store.company_domains(session, pids)
    wanted = {("prospect", str(p)) for p in pids} | {("account", d) for d in domains.values() if d}
    stored = store.load_scores(session, wanted)
    states: dict[Key, Decayed] = {k: Decayed(v, at) for k, (_, v, at) in stored.items()}
    dirty: set[Key] = set()
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
    store.save_scores(session, [(stored[k][0], states[k].value, states[k].ref) for k in dirty if k in stored],
                      [(k, states[k].value, states[k].ref) for k in dirty if k not in stored])
    return changes, {k[1] for k in dirty if k[0] == "account"}


def _at(state: Decayed | None, now: datetime, hl: float) -> float:
    return 0.0 if state is None else state.at(now, hl)
