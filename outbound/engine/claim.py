"""Claiming due work in one transaction: plan each due enrollment, then reserve a mailbox and a send.

Caps are enforced here, where sends are claimed, not where they are counted afterwards: the
mailbox rows are locked (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises
writers) while the counters move, and due enrollments are taken with ``SKIP LOCKED`` so several
daemons share the work without waiting on each other.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, true, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.engine.context import EngineContext
from outbound.engine.planner import (
    ActionKind,
    Facts,
    StepRng,
    admit_new,
    next_action,
    order_due,
    resume_index,
    step_positions,
    with_done,
)
from outbound.engine.rotation import PoolError, draw_next_allowed, pick_mailbox, pool_mailboxes
from outbound.prospects.values import ProspectData
from outbound.render.headers import make_message_id
from outbound.render.message import ThreadInfo
from outbound.spec.sequence import Step
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.enrollments import record_version, steps_passed
from outbound.store.prepared import Prepared
from outbound.store.prospects import (
    first_touches_by_account,
    prospect_columns,
    prospect_data,
    stopped_accounts_among,
    suppressed_among,
)
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState
from outbound.store.verification import skip_reason, stored_among

FACT_EVENTS = {ev.REPLIED: "replied", ev.OPENED: "opened", ev.CLICKED: "clicked"}


@dataclass(frozen=True)
class Claim:
    """A send reserved for this worker: everything delivery needs, detached from the session."""

    send_id: int
    enrollment_id: int
    prospect: ProspectData
    sequence_name: str
    step_index: int
    mailbox: str
    message_id: str
    thread: ThreadInfo | None
    lease_until: datetime
    prospect_id: int = 0  # 0: not known (a preview); recording a delivery then reads the send back


@dataclass
class ClaimReport:
    claims: list[Claim]
    planned: int = 0
    waiting: dict[str, int] | None = None  # reason -> enrollments that could not get a mailbox


class _Enrollment:
    """An enrollment as the claim reads it (a core row) and changes it: the changed columns are
    written back together, one executemany per set of columns (``_write_back``)."""

    def __init__(self, row: Any) -> None:
        self.id: int = row.id
        self.prospect_id: int = row.prospect_id
        self.sequence_name: str = row.sequence_name
        self.next_step: int = row.next_step
        self.next_due_at: datetime | None = row.next_due_at
        self.mailbox: str | None = row.mailbox
        self.anchor_at: datetime | None = row.anchor_at
        self.created_at: datetime = row.created_at
        self.last_message_id: str | None = row.last_message_id
        self.thread_references: str | None = row.thread_references
        self.last_subject: str | None = row.last_subject
        self.done_steps: str | None = row.done_steps
        self.next_step_id: str | None = row.next_step_id
        self.changes: dict[str, object] = {}

    def set(self, now: datetime, **values: object) -> None:
        for key, value in values.items():
            setattr(self, key, value)
            self.changes[key] = value
        self.changes["updated_at"] = now


_ENROLLMENTS = Enrollment.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_ENROLLMENT_COLUMNS = ("id", "prospect_id", "sequence_name", "next_step", "next_due_at", "mailbox", "anchor_at",
                       "created_at", "last_message_id", "thread_references", "last_subject", "done_steps", "next_step_id")


@dataclass
class _Due:
    enrollment: _Enrollment
    prospect: ProspectData
    prospect_id: int
    enrollment_id: int
    step_index: int
    due_at: datetime


def claim_due(ctx: EngineContext, now: datetime, *, limit: int | None = None, commit: bool = True) -> ClaimReport:
    """Plans due enrollments and claims up to ``limit`` sends (``commit=False``: a dry run)."""
    limit = limit or ctx.settings.daemon.batch_size
    if commit:
        follow_edits(ctx, now)
    with session_scope(ctx.engine) as session:
        report = _claim(ctx, session, now, limit)
        if not commit:
            session.rollback()
    return report


# Due rows are read in windows of ``limit`` until enough are sendable now (or none is left). A
# wider window only plans rows that the claim then has no room for, and plans them again next tick.
WINDOWS = 4


def _claim(ctx: EngineContext, session: Session, now: datetime, limit: int) -> ClaimReport:
    report = ClaimReport(claims=[], waiting=defaultdict(int))
    candidates: list[_Due] = []
    seen: list[_Enrollment] = []
    skips: list[dict[str, object]] = []
    for _ in range(WINDOWS):
        # rows already taken as candidates are still due (and locked by us): read past them
        rows = _load_due(session, now, limit, for_update=ctx.engine.dialect.name == "postgresql",
                         exclude=[d.enrollment_id for d in candidates])
        seen.extend(rows)
        candidates.extend(_plan(ctx, session, rows, now, report, skips))
        if len(candidates) >= limit or len(rows) < limit:
            break
        _write_back(session, rows)  # those completed or planned for later leave the due range
    if candidates:
        _assign(ctx, session, order_due(candidates), now, limit, report)
    if skips:
        session.connection().execute(insert(_EVENTS), skips)
    _write_back(session, seen)
    return report


def _plan(ctx: EngineContext, session: Session, rows: list[_Enrollment], now: datetime, report: ClaimReport,
          skips: list[dict[str, object]]) -> list[_Due]:
    """Plans each row (pure functions of values and ``now``); returns those with a step to send now."""
    prospects = _prospects(session, [e.prospect_id for e in rows])
    facts = _facts(session, list(prospects))
    default_tz = ctx.settings.sending.default_timezone
    candidates = []
    _follow_steps(ctx, session, rows, now)
    for enr in rows:
        prospect = prospects[enr.prospect_id]
        loaded = ctx.workspace.sequences.get(enr.sequence_name)
        if loaded is None:
            enr.set(now, state=EnrollmentState.blocked.value, reason=f"sequence {enr.sequence_name!r} is not in the workspace")
            continue
        seq = loaded.sequence
        for _ in range(len(seq.steps) + 1):  # skipped steps chain into the next one
            previous_at = enr.anchor_at or enr.created_at
            action = next_action(seq, enr.next_step, previous_at, facts.get(enr.prospect_id, Facts()), now,
                                 StepRng(enr.id, enr.next_step), prospect_timezone=prospect.timezone,
                                 default_timezone=default_tz)
            if action.kind is not ActionKind.skip:
                break
            skipped = seq.steps[enr.next_step].id
            skips.append(_skip_event(enr, skipped, action.reason, now))
            enr.set(now, next_step=enr.next_step + 1, anchor_at=action.at, done_steps=with_done(enr.done_steps, skipped))
        if action.step is not None and action.kind is ActionKind.send:
            waiting_for = seq.steps[action.step].id
            if enr.next_step_id != waiting_for:  # once per step: what `outbound validate` compares an edit with
                enr.set(now, next_step_id=waiting_for)
        if action.kind is ActionKind.complete:
            enr.set(now, state=EnrollmentState.completed.value, reason=action.reason, next_due_at=None)
        elif action.kind is ActionKind.stop:
            enr.set(now, state=EnrollmentState.stopped.value, reason=action.reason, next_due_at=None)
        elif not action.due:
            report.planned += 1
            enr.set(now, next_due_at=action.at, reason=action.reason)
        else:
            assert action.step is not None
            candidates.append(_Due(enr, prospect, enr.prospect_id, enr.id, action.step, now))
    return candidates


def _follow_steps(ctx: EngineContext, session: Session, rows: list[_Enrollment], now: datetime) -> None:
    """Puts each row on the step it does next in the sequence as it is now (steps are followed by
    id: ``resume_index``). A row whose stored index is ahead of that had a step moved past by a
    writer that does not know step ids (a soft bounce): its sends say which, in one query for all."""
    positions: dict[str, dict[str, int]] = {}
    behind: list[tuple[_Enrollment, int]] = []
    for enr in rows:
        loaded = ctx.workspace.sequences.get(enr.sequence_name)
        if loaded is None:
            continue
        at = positions.get(enr.sequence_name)
        if at is None:
            at = positions[enr.sequence_name] = step_positions(loaded.sequence)
        index = resume_index(at, enr.done_steps, enr.next_step_id, enr.next_step)
        if index < enr.next_step:
            behind.append((enr, index))
        elif index != enr.next_step:
            enr.set(now, next_step=index)
    if not behind:
        return
    passed = steps_passed(session, [enr.id for enr, _ in behind])
    for enr, index in behind:
        done = enr.done_steps
        for step_id in passed.get(enr.id, ()):
            done = with_done(done, step_id)
        if done != enr.done_steps:
            enr.set(now, done_steps=done)
            index = resume_index(positions[enr.sequence_name], done, enr.next_step_id, enr.next_step)
        if index != enr.next_step:
            enr.set(now, next_step=index)


# ---------------------------------------------------------------- edits of a live sequence

FOLLOW_BATCH = 5000  # enrollments brought onto an edited sequence per sequence and tick
_LIVE = (EnrollmentState.active.value, EnrollmentState.paused.value, EnrollmentState.blocked.value)
_IN_FLIGHT = (SendState.claimed.value, SendState.sending.value)


@dataclass
class _Following:
    version: int          # of the sequence's content in this process's workspace
    after: int = 0        # enrollments up to this id are on it
    finished: bool = False


_FOLLOWING: dict[int, dict[str, _Following]] = {}  # id of a live EngineContext -> its sequences


def _following(ctx: EngineContext) -> dict[str, _Following]:
    found = _FOLLOWING.get(id(ctx))
    if found is None:
        found = _FOLLOWING[id(ctx)] = {}
        weakref.finalize(ctx, _FOLLOWING.pop, id(ctx), None)  # a context is unhashable (a dataclass)
    return found


def follow_edits(ctx: EngineContext, now: datetime) -> int:
    """Brings live enrollments onto their sequence as this process has it, once per process and
    content of the file, ``FOLLOW_BATCH`` per sequence and tick: each one's stored next step (index
    and id) becomes the one ``resume_index`` finds, and an active one whose next step changed is
    planned again (with that step's wait). The claim finds the same next step for every due row
    anyway; this keeps those waiting for later right for `outbound status`, and marks them as
    seen, so `outbound validate` compares the next edit with this one. Returns the rows looked at.
    """
    following = _following(ctx)
    looked = 0
    for name, loaded in ctx.workspace.sequences.items():
        state = following.get(name)
        if state is None:
            state = following[name] = _Following(record_version(ctx.engine, loaded.sequence))
        if state.finished:
            continue
        with session_scope(ctx.engine) as session:
            rows, states = _stale(session, name, state, for_update=ctx.engine.dialect.name == "postgresql")
            _onto_sequence(ctx, session, rows, states, loaded.sequence.steps, state.version, now)
        looked += len(rows)
        if rows:
            state.after = rows[-1].id
        state.finished = len(rows) < FOLLOW_BATCH
    return looked


def _stale(session: Session, name: str, state: _Following, *, for_update: bool) -> tuple[list[_Enrollment], list[str]]:
    """Live enrollments of the sequence last seen with another content of it, none with a send under way."""
    e, s = _ENROLLMENTS, _SENDS
    in_flight = core_select(s.c.id).where(s.c.enrollment_id == e.c.id, s.c.state.in_(_IN_FLIGHT)).exists()
    query = (core_select(*(e.c[c] for c in _ENROLLMENT_COLUMNS), e.c.state)
             .where(e.c.sequence_name == name, e.c.sequence_version != state.version, e.c.state.in_(_LIVE),
                    e.c.id > state.after, ~in_flight)
             .order_by(e.c.id).limit(FOLLOW_BATCH))
    if for_update:
        query = query.with_for_update(of=e, skip_locked=True)
    found = list(session.connection().execute(query))
    return [_Enrollment(r) for r in found], [r.state for r in found]


def _onto_sequence(ctx: EngineContext, session: Session, rows: list[_Enrollment], states: list[str],
                   steps: list[Step], version: int, now: datetime) -> None:
    before = [(enr.next_step, enr.next_step_id) for enr in rows]
    _follow_steps(ctx, session, rows, now)
    for enr, state, (index, step_id) in zip(rows, states, before, strict=True):
        waiting_for = steps[enr.next_step].id if enr.next_step < len(steps) else None
        if enr.next_step_id != waiting_for:
            enr.set(now, next_step_id=waiting_for)
        moved = waiting_for != step_id if step_id is not None else enr.next_step != index
        if moved and state == EnrollmentState.active.value:
            enr.set(now, next_due_at=None)  # its wait is the new step's: planned again on this tick
        enr.set(now, sequence_version=version)
    _write_back(session, rows)


def _load_due(session: Session, now: datetime, limit: int, *, for_update: bool,
              exclude: list[int]) -> list[_Enrollment]:
    """Up to ``limit`` due enrollments: core rows of the columns planning needs, not ORM objects."""
    e = _ENROLLMENTS
    active = EnrollmentState.active.value
    query = (core_select(*(e.c[name] for name in _ENROLLMENT_COLUMNS))
             # two index ranges of ix_enrollments_due, written so SQLite's OR optimisation finds both
             # (``state = ? AND (a OR b)`` made it walk every active enrollment)
             .where(or_(and_(e.c.state == active, e.c.next_due_at.is_(None)),
                        and_(e.c.state == active, e.c.next_due_at <= now)))
             .where(e.c.id.not_in(exclude) if exclude else true())
             .order_by(case((e.c.next_step > 0, 0), else_=1), e.c.next_due_at, e.c.id)
             .limit(limit))
    if for_update:
        query = query.with_for_update(skip_locked=True)
    return [_Enrollment(row) for row in session.connection().execute(query)]


def _prospects(session: Session, ids: list[int]) -> dict[int, ProspectData]:
    if not ids:
        return {}
    rows = session.connection().execute(core_select(*prospect_columns()).where(prospect_columns()[0].in_(set(ids))))
    return {row.id: prospect_data(row) for row in rows}


def _write_back(session: Session, rows: list[_Enrollment]) -> None:
    """The changed enrollments, one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
    for enr in rows:
        if enr.changes:
            keys = tuple(sorted(enr.changes))
            groups[keys].append({"p_id": enr.id, **{f"p_{k}": v for k, v in enr.changes.items()}})
    conn = session.connection()
    for keys, params in groups.items():
        _write_back_statement(keys).executemany(conn, params)
    for enr in rows:
        enr.changes = {}


_WRITE_BACKS: dict[tuple[str, ...], Prepared] = {}


def _write_back_statement(keys: tuple[str, ...]) -> Prepared:
    """The UPDATE of these enrollment columns, built once per set of columns (a handful occur)."""
    found = _WRITE_BACKS.get(keys)
    if found is None:
        found = _WRITE_BACKS[keys] = Prepared(update(_ENROLLMENTS).where(_ENROLLMENTS.c.id == bindparam("p_id")).values(
            {k: bindparam(f"p_{k}", type_=_ENROLLMENTS.c[k].type) for k in keys}))
    return found


def _facts(session: Session, prospect_ids: list[int]) -> dict[int, Facts]:
    if not prospect_ids:
        return {}
    seen: dict[int, set[str]] = defaultdict(set)
    rows = session.exec(select(Event.prospect_id, Event.type, Event.data).where(
        col(Event.prospect_id).in_(prospect_ids), col(Event.type).in_(list(FACT_EVENTS))))
    for pid, kind, data in rows:
        # a machine fetch (Apple MPP proxy, link scanner) is not a person opening or clicking
        if pid is not None and not (data or {}).get("machine"):
            seen[pid].add(kind)
    return {pid: Facts(replied="replied" in kinds, opened="opened" in kinds, clicked="clicked" in kinds)
            for pid, kinds in seen.items()}


def _assign(ctx: EngineContext, session: Session, due: list[_Due], now: datetime, limit: int,
            report: ClaimReport) -> None:
    waiting = report.waiting if report.waiting is not None else {}
    suppressed = suppressed_among(session, [d.prospect.email for d in due])
    stopped_accounts = stopped_accounts_among(session, [d.prospect.company_domain for d in due])
    verified = stored_among(session, [d.prospect_id for d in due])  # the addresses not found valid
    pools = {}
    for name in {d.enrollment.sequence_name for d in due}:
        pool = pool_mailboxes(ctx.workspace.sequences[name].sequence.senders, ctx.workspace.domains)
        pools[name] = pool
    addresses = sorted({mb.address for p in pools.values() if not isinstance(p, PoolError) for _, mb in p})
    states = mailbox_store.lock(session, addresses, ctx.workspace, for_update=ctx.engine.dialect.name == "postgresql")
    hourly = mailbox_store.sent_last_hour_by_domain(session, [a for a in addresses if _hourly_limited(ctx, a)], now)
    usage = {a: mailbox_store.usage(states[a], now, hourly.get(a, {})) for a in addresses}
    started = _started_today(session, {d.enrollment.sequence_name for d in due if d.step_index == 0}, now)
    first_touch_room = {}
    for name, count in started.items():
        limit_new = ctx.workspace.sequences[name].sequence.daily_new_limit
        firsts = [d for d in due if d.enrollment.sequence_name == name and d.step_index == 0]
        admission = admit_new(limit_new, count, firsts)
        first_touch_room[name] = {id(d) for d in admission.admitted}
        for d in admission.deferred:
            d.enrollment.set(now, next_due_at=_next_day(now), reason=admission.reason)
            waiting[admission.reason] = waiting.get(admission.reason, 0) + 1
    # counted under the mailbox locks, as the day's first touches are: several daemons never exceed it
    per_account = _first_touches_by_account(ctx, session, due, now)
    lease_until = now + ctx.settings.daemon.lease
    existing = _existing_sends(session, due)
    reserved: list[_Reserved] = []
    counted: dict[str, int] = defaultdict(int)  # claims per mailbox, set on its row once at the end
    for d in due:
        enr, prospect = d.enrollment, d.prospect
        if d.step_index == 0 and id(d) not in first_touch_room.get(enr.sequence_name, set()):
            continue
        if prospect.email in suppressed:
            enr.set(now, state=EnrollmentState.stopped.value, reason=suppressed[prospect.email], next_due_at=None)
            continue
        if prospect.company_domain in stopped_accounts:  # stopped by a rule or a reply after enrollment
            enr.set(now, state=EnrollmentState.stopped.value, reason=stopped_accounts[prospect.company_domain],
                    next_due_at=None)
            continue
        unsendable = skip_reason(verified.get(d.prospect_id), ctx.workspace.sequences[enr.sequence_name].sequence.verify_policy,
                                 brief=True)
        if unsendable is not None:  # verified after it was enrolled: blocked, so `status` shows why
            enr.set(now, state=EnrollmentState.blocked.value, reason=unsendable, next_due_at=None)
            continue
        pool = pools[enr.sequence_name]
        if isinstance(pool, PoolError):
            enr.set(now, state=EnrollmentState.blocked.value, reason=pool.reason)
            continue
        if len(reserved) >= limit:
            break
        account = _account_key(ctx, d)
        if account is not None and per_account[account] >= (most := _account_limit(ctx, d)):
            why = f"account_daily_limit: {most} first touches per company per day"
            enr.set(now, next_due_at=_next_day(now), reason=f"waiting: {why} ({account[1]} reached it today)")
            waiting[why] = waiting.get(why, 0) + 1
            continue
        rdom = prospect.email.rsplit("@", 1)[1]
        pick = pick_mailbox(pool, usage, enr.mailbox, rdom, now)
        if pick.mailbox is None or pick.domain is None:
            retry = pick.retry_at or now + ctx.settings.daemon.send_interval
            enr.set(now, next_due_at=max(retry, now + timedelta(seconds=1)), reason=f"waiting: {pick.reason}")
            waiting[pick.reason] = waiting.get(pick.reason, 0) + 1
            continue
        mb = pick.mailbox
        held = _reserve(session, ctx, d, existing, mb.address, pick.domain.domain, now, lease_until)
        if held is None:
            continue
        u = usage[mb.address]
        by_dom = dict(u.sent_last_hour_by_domain)
        by_dom[rdom] = by_dom.get(rdom, 0) + 1
        usage[mb.address] = replace(u, sent_today=u.sent_today + 1, last_send_at=now,
                                    next_allowed_at=draw_next_allowed(mb, now, ctx.rng), sent_last_hour_by_domain=by_dom)
        counted[mb.address] += 1
        if account is not None:
            per_account[account] += 1
        enr.set(now, next_due_at=lease_until, mailbox=mb.address, reason=None)
        reserved.append(held)
    for address, count in counted.items():
        mailbox_store.count_claims(states[address], now, count, usage[address].next_allowed_at)
    _insert_new(session, reserved)
    report.claims.extend(_claim_of(r, lease_until) for r in reserved)


def _account_limit(ctx: EngineContext, d: _Due) -> int:
    return ctx.workspace.sequences[d.enrollment.sequence_name].sequence.account_daily_limit or 0


def _account_key(ctx: EngineContext, d: _Due) -> tuple[str, str] | None:
    """(sequence, company domain) of a first touch its sequence's ``account_daily_limit`` holds, else None."""
    if d.step_index != 0 or not d.prospect.company_domain or not _account_limit(ctx, d):
        return None
    return d.enrollment.sequence_name, d.prospect.company_domain


def _first_touches_by_account(ctx: EngineContext, session: Session, due: list[_Due],
                              now: datetime) -> defaultdict[tuple[str, str], int]:
    """Today's (UTC) first touches per (sequence, company domain) among the candidates' accounts."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for d in due:
        key = _account_key(ctx, d)
        if key is not None:
            wanted[key[0]].add(key[1])
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out: defaultdict[tuple[str, str], int] = defaultdict(int)
    for name, domains in wanted.items():
        for domain, n in first_touches_by_account(session, name, domains, start).items():
            out[(name, domain)] = n
    return out


def _hourly_limited(ctx: EngineContext, address: str) -> bool:
    found = ctx.mailbox(address)
    return found is not None and found[1].recipient_domain_hourly_limit is not None


@dataclass
class _Reserved:
    due: _Due
    thread: ThreadInfo | None
    mailbox: str
    message_id: str
    send_id: int | None = None              # known for a send claimed again; set by _insert_new otherwise
    row: dict[str, object] | None = None    # a new send, inserted with the whole batch


_SENDS = Send.__table__  # type: ignore[attr-defined]
_RECLAIM = (update(_SENDS).where(_SENDS.c.id == bindparam("p_id"), _SENDS.c.state == SendState.retry.value)
            .values(mailbox=bindparam("p_mailbox"), state=SendState.claimed.value, lease_owner=bindparam("p_owner"),
                    lease_until=bindparam("p_until", type_=_SENDS.c.lease_until.type),
                    claimed_at=bindparam("p_now", type_=_SENDS.c.claimed_at.type), message_id=bindparam("p_mid")))


@dataclass(frozen=True)
class _Existing:
    id: int
    state: str
    message_id: str | None
    lease_until: datetime | None


def _existing_sends(session: Session, due: list[_Due]) -> dict[tuple[int, str], _Existing]:
    """The sends already made for these enrollments (a retry, or a step done meanwhile), in one query."""
    ids = [d.enrollment_id for d in due]
    if not ids:
        return {}
    s = _SENDS
    rows = session.connection().execute(core_select(s.c.id, s.c.enrollment_id, s.c.step_id, s.c.state, s.c.message_id,
                                                    s.c.lease_until).where(s.c.enrollment_id.in_(ids)))
    return {(r.enrollment_id, r.step_id): _Existing(r.id, r.state, r.message_id, r.lease_until) for r in rows}


def _reserve(session: Session, ctx: EngineContext, d: _Due, existing: dict[tuple[int, str], _Existing], mailbox: str,
             domain: str, now: datetime, lease_until: datetime) -> _Reserved | None:
    enr = d.enrollment
    seq = ctx.workspace.sequences[enr.sequence_name].sequence
    step = seq.steps[d.step_index]
    thread = None
    if step.thread and enr.last_message_id and enr.last_subject:
        refs = tuple((enr.thread_references or "").split())
        thread = ThreadInfo(subject=enr.last_subject, message_id=enr.last_message_id, references=refs)
    send = existing.get((d.enrollment_id, step.id))
    if send is None:  # the usual case: a new row, inserted with the others in one statement
        email = d.prospect.email
        row: dict[str, object] = {
            "enrollment_id": d.enrollment_id, "prospect_id": d.prospect_id, "sequence_name": seq.name,
            "step_id": step.id, "step_index": d.step_index, "mailbox": mailbox, "to_address": email,
            "to_domain": email.rsplit("@", 1)[1], "state": SendState.claimed.value, "message_id": make_message_id(domain),
            "lease_owner": ctx.worker, "lease_until": lease_until, "attempts": 0, "claimed_at": now}
        return _Reserved(d, thread, mailbox, str(row["message_id"]), row=row)
    if send.state in (SendState.claimed, SendState.sending):
        # another worker holds it, or held it and died: lease recovery (the only one to requeue a
        # claim and give back its slot) settles it once the lease is over; look again then
        enr.set(now, next_due_at=max(send.lease_until or now, now + timedelta(seconds=1)),
                reason=f"step {step.id} {send.state} by another worker")
        return None
    if send.state != SendState.retry:
        # already sent, unknown or bounced: never again; the enrollment catches up on the next tick
        enr.set(now, next_due_at=None, reason=f"step {step.id} already {send.state}")
        if send.state in (SendState.sent, SendState.bounced):  # done: a bounce that did not stop moves on
            enr.set(now, next_step=d.step_index + 1, done_steps=with_done(enr.done_steps, step.id))
        return None
    message_id = send.message_id
    if message_id is None or not message_id.endswith(f"@{domain}>"):
        message_id = make_message_id(domain)
    taken = session.connection().execute(_RECLAIM, {"p_id": send.id, "p_mailbox": mailbox, "p_owner": ctx.worker,
                                                    "p_until": lease_until, "p_now": now, "p_mid": message_id})
    if not taken.rowcount:  # it left ``retry`` since it was read: look again on the next tick
        enr.set(now, next_due_at=now + timedelta(seconds=1))
        return None
    return _Reserved(d, thread, mailbox, message_id, send_id=send.id)


_SEND_COLUMNS = ("enrollment_id", "prospect_id", "sequence_name", "step_id", "step_index", "mailbox", "to_address",
                 "to_domain", "state", "message_id", "lease_owner", "lease_until", "attempts", "claimed_at")
_INSERT_SEND = Prepared(insert(_SENDS).values({c: bindparam(c, type_=_SENDS.c[c].type) for c in _SEND_COLUMNS}))


def _insert_new(session: Session, reserved: list[_Reserved]) -> None:
    new = [r for r in reserved if r.row is not None]
    rows = [r.row for r in new if r.row is not None]
    if not rows:
        return
    conn = session.connection()
    _INSERT_SEND.executemany(conn, rows)
    # the ids, by each row's unique Message-ID (a driver's executemany returns no rows)
    by_message_id: dict[str, int] = {}
    for start in range(0, len(new), 1000):
        chunk = [r.message_id for r in new[start:start + 1000]]
        by_message_id.update((mid, sid) for sid, mid in conn.execute(
            core_select(_SENDS.c.id, _SENDS.c.message_id).where(_SENDS.c.message_id.in_(chunk))))
    for r in new:
        r.send_id = by_message_id[r.message_id]


def _claim_of(r: _Reserved, lease_until: datetime) -> Claim:
    d = r.due
    assert r.send_id is not None
    return Claim(r.send_id, d.enrollment_id, d.prospect, d.enrollment.sequence_name, d.step_index, r.mailbox,
                 r.message_id, r.thread, lease_until, d.prospect_id)


def _skip_event(enr: _Enrollment, step_id: str, reason: str, now: datetime) -> dict[str, object]:
    return {"type": ev.STEP_SKIPPED, "at": now, "prospect_id": enr.prospect_id, "enrollment_id": enr.id,
            "dedupe_key": f"skip:{enr.id}:{step_id}", "data": {"step": step_id, "reason": reason}}


def _started_today(session: Session, names: set[str], now: datetime) -> dict[str, int]:
    if not names:
        return {}
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.exec(select(Send.sequence_name, func.count()).where(
        col(Send.sequence_name).in_(names), col(Send.step_index) == 0, col(Send.claimed_at) >= start,
        col(Send.state) != SendState.skipped).group_by(col(Send.sequence_name)))
    counts = {name: 0 for name in names}
    counts.update({name: int(n) for name, n in rows})
    return counts


def _next_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
