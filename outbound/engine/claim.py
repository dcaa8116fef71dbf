"""Claiming due work in one transaction: plan each due enrollment, then reserve a mailbox and a send.

Caps are enforced here, where sends are claimed, not where they are counted afterwards: the
mailbox rows are locked (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises
writers) while the counters move, and due enrollments are taken with ``SKIP LOCKED`` so several
daemons share the work without waiting on each other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert
from sqlmodel import Session, col, select

from outbound.engine.context import EngineContext
from outbound.engine.planner import ActionKind, Facts, admit_new, next_action, order_due, step_rng
from outbound.engine.rotation import PoolError, draw_next_allowed, pick_mailbox, pool_mailboxes
from outbound.prospects.values import ProspectData
from outbound.render.headers import make_message_id
from outbound.render.message import ThreadInfo
from outbound.store import event_types as ev
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.prospects import suppressed_among, to_data
from outbound.store.tables import Enrollment, EnrollmentState, Event, Prospect, Send, SendState

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


@dataclass
class ClaimReport:
    claims: list[Claim]
    planned: int = 0
    waiting: dict[str, int] | None = None  # reason -> enrollments that could not get a mailbox


@dataclass
class _Due:
    enrollment: Enrollment
    prospect: Prospect
    enrollment_id: int
    step_index: int
    due_at: datetime


def claim_due(ctx: EngineContext, now: datetime, *, limit: int | None = None, commit: bool = True) -> ClaimReport:
    """Plans due enrollments and claims up to ``limit`` sends (``commit=False``: a dry run)."""
    limit = limit or ctx.settings.daemon.batch_size
    with session_scope(ctx.engine) as session:
        report = _claim(ctx, session, now, limit)
        if not commit:
            session.rollback()
    return report


def _claim(ctx: EngineContext, session: Session, now: datetime, limit: int) -> ClaimReport:
    rows = _load_due(session, now, limit * 4, for_update=ctx.engine.dialect.name == "postgresql")
    facts = _facts(session, [p.id for _, p in rows if p.id is not None])
    report = ClaimReport(claims=[], waiting=defaultdict(int))
    candidates: list[_Due] = []
    default_tz = ctx.settings.sending.default_timezone
    for enr, prospect in rows:
        if len(candidates) >= 2 * limit:
            # enough due work for this tick (twice the claims, for those that find no mailbox); the
            # rest stays due and is planned by the next tick instead of being planned for nothing
            break
        loaded = ctx.workspace.sequences.get(enr.sequence_name)
        if loaded is None:
            _set(enr, now, state=EnrollmentState.blocked, reason=f"sequence {enr.sequence_name!r} is not in the workspace")
            continue
        seq = loaded.sequence
        for _ in range(len(seq.steps) + 1):  # skipped steps chain into the next one
            previous_at = enr.anchor_at or enr.created_at
            action = next_action(seq, enr.next_step, previous_at, facts.get(prospect.id or 0, Facts()), now,
                                 step_rng(enr.id, enr.next_step), prospect_timezone=prospect.timezone,
                                 default_timezone=default_tz)
            if action.kind is not ActionKind.skip:
                break
            _record_skip(session, enr, prospect, seq.steps[enr.next_step].id, action.reason, now)
            enr.next_step += 1
            enr.anchor_at = action.at
        if action.kind is ActionKind.complete:
            _set(enr, now, state=EnrollmentState.completed, reason=action.reason, next_due_at=None)
        elif action.kind is ActionKind.stop:
            _set(enr, now, state=EnrollmentState.stopped, reason=action.reason, next_due_at=None)
        elif not action.due:
            report.planned += 1
            _set(enr, now, next_due_at=action.at, reason=action.reason)
        else:
            assert enr.id is not None and action.step is not None
            candidates.append(_Due(enr, prospect, enr.id, action.step, now))
    if candidates:
        _assign(ctx, session, order_due(candidates), now, limit, report)
    return report


def _load_due(session: Session, now: datetime, limit: int, *, for_update: bool) -> list[tuple[Enrollment, Prospect]]:
    query = (select(Enrollment, Prospect).join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
             .where(col(Enrollment.state) == EnrollmentState.active,
                    (col(Enrollment.next_due_at).is_(None)) | (col(Enrollment.next_due_at) <= now))
             .order_by(case((col(Enrollment.next_step) > 0, 0), else_=1), col(Enrollment.next_due_at), col(Enrollment.id))
             .limit(limit))
    if for_update:
        query = query.with_for_update(skip_locked=True, of=Enrollment)
    return [(e, p) for e, p in session.exec(query)]


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
            _set(d.enrollment, now, next_due_at=_next_day(now), reason=admission.reason)
            waiting[admission.reason] = waiting.get(admission.reason, 0) + 1
    lease_until = now + ctx.settings.daemon.lease
    existing = _existing_sends(session, due)
    reserved: list[_Reserved] = []
    for d in due:
        enr, prospect = d.enrollment, d.prospect
        if d.step_index == 0 and id(d) not in first_touch_room.get(enr.sequence_name, set()):
            continue
        if prospect.email in suppressed:
            _set(enr, now, state=EnrollmentState.stopped, reason=suppressed[prospect.email], next_due_at=None)
            continue
        pool = pools[enr.sequence_name]
        if isinstance(pool, PoolError):
            _set(enr, now, state=EnrollmentState.blocked, reason=pool.reason)
            continue
        if len(reserved) >= limit:
            break
        rdom = prospect.email.rsplit("@", 1)[1]
        pick = pick_mailbox(pool, usage, enr.mailbox, rdom, now)
        if pick.mailbox is None or pick.domain is None:
            retry = pick.retry_at or now + ctx.settings.daemon.send_interval
            _set(enr, now, next_due_at=max(retry, now + timedelta(seconds=1)), reason=f"waiting: {pick.reason}")
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
        mailbox_store.count_claim(states[mb.address], now, usage[mb.address].next_allowed_at)
        _set(enr, now, next_due_at=lease_until, mailbox=mb.address, reason=None)
        reserved.append(held)
    _insert_new(session, reserved)
    report.claims.extend(_claim_of(r, lease_until) for r in reserved)


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


def _existing_sends(session: Session, due: list[_Due]) -> dict[tuple[int, str], Send]:
    """The sends already made for these enrollments (a retry, or a step done meanwhile), in one query."""
    ids = [d.enrollment_id for d in due]
    if not ids:
        return {}
    rows = session.exec(select(Send).where(col(Send.enrollment_id).in_(ids)))
    return {(s.enrollment_id, s.step_id): s for s in rows}


def _reserve(session: Session, ctx: EngineContext, d: _Due, existing: dict[tuple[int, str], Send], mailbox: str,
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
            "enrollment_id": d.enrollment_id, "prospect_id": d.prospect.id or 0, "sequence_name": seq.name,
            "step_id": step.id, "step_index": d.step_index, "mailbox": mailbox, "to_address": email,
            "to_domain": email.rsplit("@", 1)[1], "state": SendState.claimed.value, "message_id": make_message_id(domain),
            "lease_owner": ctx.worker, "lease_until": lease_until, "attempts": 0, "claimed_at": now}
        return _Reserved(d, thread, mailbox, str(row["message_id"]), row=row)
    if send.state not in (SendState.claimed, SendState.retry):
        # already sent, unknown or bounced: never again; the enrollment catches up on the next tick
        _set(enr, now, next_due_at=None, reason=f"step {step.id} already {send.state}")
        if send.state == SendState.sent:
            enr.next_step = d.step_index + 1
        elif send.state == SendState.sending:  # another worker is in the SMTP session: look again after its lease
            enr.next_due_at = max(send.lease_until or now, now + timedelta(seconds=1))
        return None
    if send.message_id is None or not send.message_id.endswith(f"@{domain}>"):
        send.message_id = make_message_id(domain)
    send.mailbox, send.state, send.lease_owner, send.lease_until = mailbox, SendState.claimed, ctx.worker, lease_until
    send.claimed_at = now
    assert send.id is not None
    return _Reserved(d, thread, mailbox, send.message_id, send_id=send.id)


def _insert_new(session: Session, reserved: list[_Reserved]) -> None:
    new = [r for r in reserved if r.row is not None]
    rows = [r.row for r in new if r.row is not None]
    if not rows:
        return
    stmt = insert(_SENDS).returning(_SENDS.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(stmt, rows).scalars().all()
    for r, send_id in zip(new, ids, strict=True):
        r.send_id = send_id


def _claim_of(r: _Reserved, lease_until: datetime) -> Claim:
    d = r.due
    assert r.send_id is not None
    return Claim(r.send_id, d.enrollment_id, to_data(d.prospect), d.enrollment.sequence_name, d.step_index, r.mailbox,
                 r.message_id, r.thread, lease_until)


def _record_skip(session: Session, enr: Enrollment, prospect: Prospect, step_id: str, reason: str, now: datetime) -> None:
    session.add(Event(type=ev.STEP_SKIPPED, at=now, prospect_id=prospect.id, enrollment_id=enr.id,
                      dedupe_key=f"skip:{enr.id}:{step_id}", data={"step": step_id, "reason": reason}))


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


def _set(enr: Enrollment, now: datetime, **values: object) -> None:
    for key, value in values.items():
        setattr(enr, key, value)
    enr.updated_at = now


