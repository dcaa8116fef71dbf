"""Recording what happened to a claimed send, each in one transaction with its events.

State machine of a send: claimed -> sending -> sent | retry | failed | bounced | unknown.
``sending`` is written (and committed) before the SMTP transaction starts, so a daemon that dies
afterwards leaves a send that the next daemon marks ``unknown`` instead of sending it again.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, delete, exists, func, insert, literal, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.core.outcome import SendOutcome
from outbound.rulebook.decide import UNCONFIRMED, decide
from outbound.rulebook.effects import EnrollmentChange
from outbound.rulebook.facts import Policy, SendFacts, SmtpResult
from outbound.rulebook.retry import RetryPolicy
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply, transition
from outbound.store.prepared import Prepared
from outbound.store.tables import Enrollment, EnrollmentState, Event, Prospect, Send, SendState, Suppression


@dataclass(frozen=True)
class Delivered:
    subject: str
    variant_id: str | None
    references: tuple[str, ...]


_SENDS = Send.__table__  # type: ignore[attr-defined]
_SUPPRESSIONS = Suppression.__table__  # type: ignore[attr-defined]
# Suppression is checked again in the very statement that starts the send: an unsubscribe that
# lands between the claim and the SMTP session still stops it.
_NOT_SUPPRESSED = ~exists().where(_SUPPRESSIONS.c.value.in_([_SENDS.c.to_address, literal("@") + _SENDS.c.to_domain]))
# Built once and handed to the driver (``Prepared``): it runs once per send, on the hot path.
_MARK_SENDING = Prepared(update(_SENDS).where(
    _SENDS.c.id == bindparam("p_id"), _SENDS.c.state == SendState.claimed.value,
    _SENDS.c.lease_owner == bindparam("p_worker"), _SENDS.c.lease_until > bindparam("p_now"), _NOT_SUPPRESSED)
    .values(state=SendState.sending.value, attempts=_SENDS.c.attempts + 1, subject=bindparam("p_subject"),
            variant_id=bindparam("p_variant")))


def mark_sending_in(session: Session, send_id: int, worker: str, now: datetime, *, subject: str | None = None,
                    variant_id: str | None = None) -> bool:
    """Fixes the send as under way; False when this worker no longer holds its lease or the
    recipient was suppressed since the claim.

    The subject and variant are stored now: if the outcome is lost (``unknown``) and the Sent
    folder later shows the message went out, the next step threads under the right subject.
    """
    return _mark_one(session.connection(), Marking(send_id, worker, now, subject, variant_id))


@dataclass(frozen=True)
class Marking:
    """One ``mark_sending_in`` call, for ``mark_sending_many``."""

    send_id: int
    worker: str
    at: datetime
    subject: str | None = None
    variant_id: str | None = None


def _connection(session: Session | Connection) -> Connection:
    return session if isinstance(session, Connection) else session.connection()


def _mark_params(m: Marking) -> dict[str, object]:
    return {"p_id": m.send_id, "p_worker": m.worker, "p_now": m.at, "p_subject": m.subject, "p_variant": m.variant_id}


def _mark_one(conn: Connection, m: Marking) -> bool:
    return _MARK_SENDING.execute(conn, _mark_params(m)) > 0


def mark_sending_many(session: Session | Connection, marks: list[Marking]) -> set[int]:
    """``mark_sending_in`` for several sends: one executemany of the prebuilt statement (each mark
    checked against its own time), then one read of which ones took; returns the ids marked."""
    if not marks:
        return set()
    conn = _connection(session)
    if len(marks) == 1:
        m = marks[0]
        return {m.send_id} if _mark_one(conn, m) else set()
    if _MARK_SENDING.executemany(conn, [_mark_params(m) for m in marks]) == len(marks):
        return {m.send_id for m in marks}  # the usual case: every mark took
    # each send is marked once per claim, so a row of ours in ``sending`` now is one this statement marked
    s = _SENDS
    owners = {m.send_id: m.worker for m in marks}
    rows = conn.execute(core_select(s.c.id, s.c.lease_owner).where(
        s.c.id.in_(list(owners)), s.c.state == SendState.sending.value))
    return {send_id for send_id, owner in rows if owners.get(send_id) == owner}


def record_delivered_in(session: Session, send_id: int, delivered: Delivered, now: datetime) -> None:
    send, enr = _load(session, send_id)
    _delivered(session, send, enr, delivered, now)


_ENROLLMENTS = Enrollment.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_SEND_SENT = (update(_SENDS).where(_SENDS.c.id == bindparam("p_id"))
              .values(state=SendState.sent.value, sent_at=bindparam("p_now"), subject=bindparam("p_subject"),
                      variant_id=bindparam("p_variant"), lease_owner=None, lease_until=None, last_error=None))
_E = _ENROLLMENTS
# an owner that recorded the send after lease recovery had marked it ``unknown``: the truth wins
_ACTIVE_AGAIN = case((and_(_E.c.state == EnrollmentState.paused.value, _E.c.paused_until.is_(None),
                           _E.c.reason.startswith(UNCONFIRMED)), EnrollmentState.active.value), else_=_E.c.state)
# the step joins the enrollment's done steps (steps are followed by id: outbound.engine.planner.resume_index);
# which step comes next is the planner's to say, from the sequence as it is then
_DONE_STEPS = func.coalesce(_E.c.done_steps + literal(" "), literal("")) + bindparam("p_step_id")
_ENROLLMENT_SENT = (update(_ENROLLMENTS).where(_ENROLLMENTS.c.id == bindparam("p_id"))
                    .values(state=_ACTIVE_AGAIN, next_step=bindparam("p_next"), anchor_at=bindparam("p_now"), last_sent_at=bindparam("p_now"),
                            done_steps=_DONE_STEPS, next_step_id=None,
                            last_message_id=bindparam("p_mid"), thread_references=bindparam("p_refs"),
                            last_subject=bindparam("p_subject"), mailbox=bindparam("p_mailbox"),
                            started_at=bindparam("p_started"), next_due_at=None, reason=None,
                            updated_at=bindparam("p_now")))


@dataclass(frozen=True)
class SentSend:
    """A delivered send with what its claim already knows, so recording it reads nothing back."""

    send_id: int
    enrollment_id: int
    prospect_id: int
    sequence_name: str
    step_id: str
    step_index: int
    mailbox: str
    message_id: str
    delivered: Delivered
    at: datetime


# the enrollment moves on only if this send's step is still its next one (as ``_delivered`` checks)
_ENROLLMENT_SENT_IF_NEXT = (
    update(_ENROLLMENTS).where(_ENROLLMENTS.c.id == bindparam("p_id"), _ENROLLMENTS.c.next_step == bindparam("p_step"))
    .values(state=_ACTIVE_AGAIN, next_step=bindparam("p_next"), anchor_at=bindparam("p_now"), last_sent_at=bindparam("p_now"),
            done_steps=_DONE_STEPS, next_step_id=None,
            last_message_id=bindparam("p_mid"), thread_references=bindparam("p_refs"),
            last_subject=bindparam("p_subject"), mailbox=bindparam("p_mailbox"),
            started_at=func.coalesce(_ENROLLMENTS.c.started_at, bindparam("p_now", type_=_ENROLLMENTS.c.started_at.type)),
            next_due_at=None, reason=None, updated_at=bindparam("p_now")))


_SEND_SENT_FAST = Prepared(_SEND_SENT)
_ENROLLMENT_SENT_FAST = Prepared(_ENROLLMENT_SENT_IF_NEXT)
_SENT_EVENT = Prepared(insert(_EVENTS).values(
    type=ev.SENT, at=bindparam("p_at", type_=_EVENTS.c.at.type), prospect_id=bindparam("p_pid"),
    enrollment_id=bindparam("p_eid"), send_id=bindparam("p_sid"), mailbox=bindparam("p_mailbox"),
    dedupe_key=bindparam("p_key"), data=bindparam("p_data", type_=_EVENTS.c.data.type)))


def record_sent_many(session: Session | Connection, items: list[SentSend]) -> None:
    """``record_delivered_many`` when the claims are known: three executemany statements, no reads."""
    if not items:
        return
    conn = _connection(session)
    _SEND_SENT_FAST.executemany(conn, [{"p_id": i.send_id, "p_now": i.at, "p_subject": i.delivered.subject,
                                        "p_variant": i.delivered.variant_id} for i in items])
    _ENROLLMENT_SENT_FAST.executemany(conn, [
        {"p_id": i.enrollment_id, "p_step": i.step_index, "p_next": i.step_index + 1, "p_step_id": i.step_id, "p_now": i.at,
         "p_mid": i.message_id, "p_refs": " ".join((*i.delivered.references, i.message_id))[-4000:],
         "p_subject": i.delivered.subject, "p_mailbox": i.mailbox} for i in items])
    _SENT_EVENT.executemany(conn, [
        {"p_at": i.at, "p_pid": i.prospect_id, "p_eid": i.enrollment_id, "p_sid": i.send_id, "p_mailbox": i.mailbox,
         "p_key": f"sent:{i.send_id}", "p_data": {"sequence": i.sequence_name, "step": i.step_id,
                                                   "variant": i.delivered.variant_id, "message_id": i.message_id}}
        for i in items])


def record_delivered_many(session: Session, items: list[tuple[int, Delivered, datetime]]) -> None:
    """``record_delivered_in`` for many sends in a few statements (the engine's hot path).

    Same effects as ``_delivered``, written with executemany instead of one ORM flush per send.
    """
    if not items:
        return
    conn = session.connection()
    ids = [send_id for send_id, _, _ in items]
    sends = {r.id: r for r in conn.execute(core_select(
        _SENDS.c.id, _SENDS.c.enrollment_id, _SENDS.c.step_index, _SENDS.c.message_id, _SENDS.c.prospect_id,
        _SENDS.c.mailbox, _SENDS.c.sequence_name, _SENDS.c.step_id).where(_SENDS.c.id.in_(ids)))}
    missing = [i for i in ids if i not in sends]
    if missing:
        raise LookupError(f"send {missing[0]} does not exist")
    enrollments = {r.id: r for r in conn.execute(core_select(
        _ENROLLMENTS.c.id, _ENROLLMENTS.c.next_step, _ENROLLMENTS.c.started_at).where(
        _ENROLLMENTS.c.id.in_({s.enrollment_id for s in sends.values()})))}
    send_rows, enr_rows, events = [], [], []
    for send_id, delivered, now in items:
        send = sends[send_id]
        enr = enrollments[send.enrollment_id]
        send_rows.append({"p_id": send_id, "p_now": now, "p_subject": delivered.subject,
                          "p_variant": delivered.variant_id})
        if enr.next_step == send.step_index:
            enr_rows.append({"p_id": enr.id, "p_next": send.step_index + 1, "p_step_id": send.step_id, "p_now": now,
                             "p_mid": send.message_id,
                             "p_refs": " ".join((*delivered.references, send.message_id or ""))[-4000:],
                             "p_subject": delivered.subject, "p_mailbox": send.mailbox,
                             "p_started": enr.started_at or now})
        events.append({"type": ev.SENT, "at": now, "prospect_id": send.prospect_id, "enrollment_id": enr.id,
                       "send_id": send_id, "mailbox": send.mailbox, "dedupe_key": f"sent:{send_id}",
                       "data": {"sequence": send.sequence_name, "step": send.step_id,
                                "variant": delivered.variant_id, "message_id": send.message_id}})
    conn.execute(_SEND_SENT, send_rows)
    if enr_rows:
        conn.execute(_ENROLLMENT_SENT, enr_rows)
    conn.execute(insert(_EVENTS), events)


def _delivered(session: Session, send: Send, enr: Enrollment, delivered: Delivered, now: datetime) -> None:
    send.state, send.sent_at, send.subject, send.variant_id = SendState.sent, now, delivered.subject, delivered.variant_id
    send.lease_owner = send.lease_until = None
    send.last_error = None
    _unpause_unconfirmed(enr)
    if enr.next_step == send.step_index:
        enr.next_step = send.step_index + 1
        enr.done_steps = f"{enr.done_steps} {send.step_id}" if enr.done_steps else send.step_id
        enr.next_step_id = None
        enr.anchor_at = enr.last_sent_at = now
        enr.last_message_id = send.message_id
        enr.thread_references = " ".join((*delivered.references, send.message_id or ""))[-4000:]
        enr.last_subject = delivered.subject
        enr.mailbox = send.mailbox
        enr.started_at = enr.started_at or now
        enr.next_due_at = None
        enr.reason = None
        enr.updated_at = now
    session.add(Event(type=ev.SENT, at=now, prospect_id=send.prospect_id, enrollment_id=enr.id, send_id=send.id,
                      mailbox=send.mailbox, dedupe_key=f"sent:{send.id}",
                      data={"sequence": send.sequence_name, "step": send.step_id, "variant": delivered.variant_id,
                            "message_id": send.message_id}))


def record_failure_in(session: Session, send_id: int, outcome: SendOutcome, now: datetime, *, rng: random.Random,
                      policy: RetryPolicy, stop_on: Iterable[str], soft_bounce_limit: int,
                      stop_account_on_reply: bool = False) -> str:
    """Applies a non-delivered outcome as the rulebook decides; returns what was done, for the log."""
    facts = send_facts(session, send_id)
    fact = SmtpResult(facts, outcome, now,
                      Policy(stop_on=frozenset(str(s) for s in stop_on), stop_account_on_reply=stop_account_on_reply,
                             soft_bounce_limit=soft_bounce_limit, retry=policy),
                      soft_bounces=soft_bounces(session, facts.to_address, send_id) if outcome.is_bounce else 0,
                      jitter=rng.random() if outcome.kind == "temporary" else 0.5)
    effects = decide(fact)
    apply(session, effects, subject_of_send(facts), now)
    return effects.outcome


_P = Prospect.__table__  # type: ignore[attr-defined]


def send_facts(session: Session | Connection, send_id: int) -> SendFacts:
    """What the rulebook needs of a send, in one read."""
    s, p = _SENDS, _P
    row = _connection(session).execute(
        core_select(s.c.id, s.c.enrollment_id, s.c.prospect_id, s.c.mailbox, s.c.to_address, s.c.sequence_name,
                    s.c.step_id, s.c.step_index, s.c.attempts, s.c.state, s.c.message_id, p.c.company_domain)
        .join(p, p.c.id == s.c.prospect_id, isouter=True).where(s.c.id == send_id)).first()
    if row is None:
        raise LookupError(f"send {send_id} does not exist")
    return SendFacts(row.id, row.enrollment_id, row.prospect_id, row.mailbox, row.to_address, row.sequence_name,
                     row.step_id, row.step_index, row.attempts, str(row.state), row.message_id, row.company_domain)


def subject_of_send(facts: SendFacts) -> Subject:
    return Subject(prospect_id=facts.prospect_id, enrollment_id=facts.enrollment_id, send_id=facts.send_id,
                   mailbox=facts.mailbox, step_index=facts.step_index, company_domain=facts.company_domain,
                   step_id=facts.step_id)


def soft_bounces(session: Session | Connection, address: str, other_than: int) -> int:
    """Other sends to ``address`` that bounced (each send counts once, whatever path reported it)."""
    s = _SENDS
    return int(_connection(session).execute(
        core_select(func.count()).where(s.c.to_address == address, s.c.state == SendState.bounced.value,
                                        s.c.id != other_than)).scalar_one())


def block_unrenderable_in(session: Session, send_id: int, reason: str, now: datetime) -> None:
    """The message cannot be rendered (a variable the prospect lacks): nothing is sent, ever blank."""
    s = _SENDS
    gone = session.connection().execute(
        delete(s).where(s.c.id == send_id, s.c.state.in_([SendState.claimed.value, SendState.retry.value]))
        .returning(s.c.state, s.c.mailbox, s.c.claimed_at, s.c.enrollment_id)).first()
    if gone is None:  # it moved on meanwhile (another worker owns it now): not ours to block
        return
    if gone.state == SendState.claimed.value:  # a ``retry`` row's slot was given back when it was requeued
        mailbox_store.release(session, gone.mailbox, gone.claimed_at)
    transition(session, EnrollmentChange("block", "enrollment", reason), Subject(enrollment_id=gone.enrollment_id), now)


def release_claim_in(session: Session, send_id: int, now: datetime, worker: str | None = None) -> None:
    """Hands back a claim that was not attempted (shutdown before its turn).

    Only while the claim is still ``claimed`` (by ``worker``, when given): a conditional UPDATE,
    so a claim that lease recovery requeued meanwhile is not given back twice.
    """
    s = _SENDS
    stmt = update(s).where(s.c.id == send_id, s.c.state == SendState.claimed.value)
    if worker is not None:
        stmt = stmt.where(s.c.lease_owner == worker)
    released = session.connection().execute(
        stmt.values(state=SendState.retry.value, lease_owner=None, lease_until=None, not_before=now)
        .returning(s.c.mailbox, s.c.claimed_at, s.c.enrollment_id)).first()
    if released is None:
        return
    mailbox_store.release(session, released.mailbox, released.claimed_at)
    transition(session, EnrollmentChange("due", "enrollment", "", at=now), Subject(enrollment_id=released.enrollment_id),
               now)


# One transaction each; the engine batches the ``*_in`` forms instead (outbound.engine.recorder).

def mark_sending(engine: Engine, send_id: int, worker: str, now: datetime, *, subject: str | None = None,
                 variant_id: str | None = None) -> bool:
    with session_scope(engine) as session:
        return mark_sending_in(session, send_id, worker, now, subject=subject, variant_id=variant_id)


def record_delivered(engine: Engine, send_id: int, delivered: Delivered, now: datetime) -> None:
    with session_scope(engine) as session:
        record_delivered_in(session, send_id, delivered, now)


def record_failure(engine: Engine, send_id: int, outcome: SendOutcome, now: datetime, *, rng: random.Random,
                   policy: RetryPolicy, stop_on: Iterable[str], soft_bounce_limit: int) -> str:
    with session_scope(engine) as session:
        return record_failure_in(session, send_id, outcome, now, rng=rng, policy=policy, stop_on=stop_on,
                                 soft_bounce_limit=soft_bounce_limit)


def block_unrenderable(engine: Engine, send_id: int, reason: str, now: datetime) -> None:
    with session_scope(engine) as session:
        block_unrenderable_in(session, send_id, reason, now)


def release_claim(engine: Engine, send_id: int, now: datetime) -> None:
    with session_scope(engine) as session:
        release_claim_in(session, send_id, now)


def recover_expired(engine: Engine, now: datetime) -> tuple[int, int]:
    """Leases that ran out: ``claimed`` ones go back to the queue, ``sending`` ones become ``unknown``.

    Each transition is a conditional UPDATE on the state and the lease, so it never overwrites a
    live owner that marked the send ``sending`` (or recorded it) meanwhile, and a cap slot is given
    back only for the rows that really moved. On PostgreSQL rows locked by a live transaction are
    skipped (the next tick looks again), so recovery never waits on, or deadlocks with, a claim.
    """
    with session_scope(engine) as session:
        requeued = _requeue_expired(session, now)
    with session_scope(engine) as session:
        unknown = _unknown_expired(session, now)
    return requeued, unknown


def _expired(session: Session, state: SendState, now: datetime) -> Any:
    s = _SENDS
    query = core_select(s.c.id).where(s.c.state == state.value, s.c.lease_until < now)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query.scalar_subquery()


def _requeue_expired(session: Session, now: datetime) -> int:
    s = _SENDS
    rows = session.connection().execute(
        update(s).where(s.c.id.in_(_expired(session, SendState.claimed, now)), s.c.state == SendState.claimed.value,
                        s.c.lease_until < now)
        .values(state=SendState.retry.value, lease_owner=None, lease_until=None, not_before=now)
        .returning(s.c.mailbox, s.c.claimed_at)).all()
    # the enrollment needs no change: the claim set it due at the end of the lease
    for row in rows:
        mailbox_store.release(session, row.mailbox, row.claimed_at)
    return len(rows)


def _unknown_expired(session: Session, now: datetime) -> int:
    s = _SENDS
    rows = session.connection().execute(
        update(s).where(s.c.id.in_(_expired(session, SendState.sending, now)), s.c.state == SendState.sending.value,
                        s.c.lease_until < now)
        .values(state=SendState.unknown.value, lease_owner=None, lease_until=None)
        .returning(s.c.id, s.c.enrollment_id, s.c.prospect_id, s.c.mailbox, s.c.message_id, s.c.attempts)).all()
    for row in rows:
        hold = EnrollmentChange("hold", "enrollment", f"{UNCONFIRMED}: the daemon stopped during the SMTP transaction "
                                f"of {row.message_id}; never resent unless the Sent folder shows it was not sent")
        transition(session, hold, Subject(enrollment_id=row.enrollment_id), now)
        session.add(Event(type=ev.SEND_UNKNOWN, at=now, prospect_id=row.prospect_id, enrollment_id=row.enrollment_id,
                          send_id=row.id, mailbox=row.mailbox, dedupe_key=f"unknown:{row.attempts}:{row.id}",
                          data={"reason": "lease expired while sending"}))
    return len(rows)


def unknown_sends(engine: Engine) -> list[Send]:
    with session_scope(engine) as session:
        return list(session.exec(select(Send).where(col(Send.state) == SendState.unknown).order_by(col(Send.id))))


def reconcile(engine: Engine, send_id: int, found_in_sent: bool, now: datetime) -> None:
    """Settles an ``unknown`` send: found in the Sent folder -> sent; not found -> sent again later."""
    with session_scope(engine) as session:
        send, enr = _load(session, send_id)
        if send.state != SendState.unknown:
            return
        _unpause_unconfirmed(enr)
        if found_in_sent:
            _delivered(session, send, enr, Delivered(send.subject or enr.last_subject or "", send.variant_id,
                                                     tuple((enr.thread_references or "").split())), send.claimed_at)
            send.sent_at = send.claimed_at
        else:
            mailbox_store.release(session, send.mailbox, send.claimed_at)  # nothing went out: the slot is free
            send.state, send.not_before = SendState.retry, now
            _reschedule(enr, now, now, "reconciled: not in the Sent folder, will be sent again")


def _load(session: Session, send_id: int) -> tuple[Send, Enrollment]:
    send = session.get(Send, send_id)
    if send is None:
        raise LookupError(f"send {send_id} does not exist")
    enr = session.get(Enrollment, send.enrollment_id)
    assert enr is not None
    return send, enr


def _reschedule(enr: Enrollment, now: datetime, at: datetime, reason: str | None) -> None:
    if enr.state == EnrollmentState.active:
        enr.next_due_at, enr.reason = at, reason
    enr.updated_at = now


def _unpause_unconfirmed(enr: Enrollment) -> None:
    if enr.state == EnrollmentState.paused and enr.paused_until is None and (enr.reason or "").startswith(UNCONFIRMED):
        enr.state = EnrollmentState.active


def prefetch(session: Session, send_ids: list[int]) -> list[object]:
    """Loads the sends and their enrollments into the session, so ``session.get`` finds them
    without a query (the caller holds the returned rows: the identity map only keeps weak references)."""
    if not send_ids:
        return []
    sends = list(session.exec(select(Send).where(col(Send.id).in_(send_ids))))
    enrollment_ids = list({s.enrollment_id for s in sends})
    enrollments = list(session.exec(select(Enrollment).where(col(Enrollment.id).in_(enrollment_ids))))
    return [*sends, *enrollments]
