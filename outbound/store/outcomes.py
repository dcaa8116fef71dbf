"""Recording what happened to a claimed send, each in one transaction with its events.

State machine of a send: claimed -> sending -> sent | retry | failed | bounced | unknown.
``sending`` is written (and committed) before the SMTP transaction starts, so a daemon that dies
afterwards leaves a send that the next daemon marks ``unknown`` instead of sending it again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from outbound.engine.retry import GiveUp, RetryPolicy, retry_decision
from outbound.engine.smtp_outcome import SendOutcome
from outbound.spec.sequence import StopEvent
from outbound.store import event_types as ev
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.prospects import suppress_in
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState


@dataclass(frozen=True)
class Delivered:
    subject: str
    variant_id: str | None
    references: tuple[str, ...]


def mark_sending(engine: Engine, send_id: int, worker: str, now: datetime) -> bool:
    """Fixes the send as under way; False when this worker no longer holds its lease."""
    with session_scope(engine) as session:
        result = session.execute(update(Send).where(
            col(Send.id) == send_id, col(Send.state) == SendState.claimed, col(Send.lease_owner) == worker,
            col(Send.lease_until) > now).values(state=SendState.sending, attempts=col(Send.attempts) + 1))
        return bool(getattr(result, "rowcount", 0))


def record_delivered(engine: Engine, send_id: int, delivered: Delivered, now: datetime) -> None:
    with session_scope(engine) as session:
        send, enr = _load(session, send_id)
        _delivered(session, send, enr, delivered, now)


def _delivered(session: Session, send: Send, enr: Enrollment, delivered: Delivered, now: datetime) -> None:
    send.state, send.sent_at, send.subject, send.variant_id = SendState.sent, now, delivered.subject, delivered.variant_id
    send.lease_owner = send.lease_until = None
    send.last_error = None
    if enr.next_step == send.step_index:
        enr.next_step = send.step_index + 1
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


def record_failure(engine: Engine, send_id: int, outcome: SendOutcome, now: datetime, *, rng: random.Random,
                   policy: RetryPolicy, stop_on: list[StopEvent], soft_bounce_limit: int) -> str:
    """Applies a non-delivered outcome; returns what was done, for the log."""
    with session_scope(engine) as session:
        send, enr = _load(session, send_id)
        send.lease_owner = send.lease_until = None
        send.last_error = outcome.describe()[:1000]
        data: dict[str, object] = {"sequence": send.sequence_name, "step": send.step_id, "outcome": outcome.kind, "reason": outcome.reason,
                "code": outcome.code, "status": outcome.status, "text": outcome.text[:500]}

        def event(kind: str, key: str, payload: dict[str, object]) -> Event:
            return Event(type=kind, at=now, prospect_id=send.prospect_id, enrollment_id=enr.id, send_id=send.id,
                         mailbox=send.mailbox, dedupe_key=f"{key}:{send.id}", data=payload)

        if outcome.kind == "ambiguous":
            send.state = SendState.unknown
            _pause(enr, now, f"delivery unconfirmed ({outcome.reason}): message {send.message_id} may have been "
                             "accepted; it is never resent unless the Sent folder shows it was not")
            session.add(event(ev.SEND_UNKNOWN, "unknown", data))
            return "unknown"
        if outcome.kind in ("hard_bounce", "soft_bounce"):
            send.state = SendState.bounced
            hard = outcome.kind == "hard_bounce"
            session.add(event(ev.BOUNCED, "bounce", {**data, "hard": hard}))
            session.flush()
            if hard or _soft_bounces(session, send.to_address) >= soft_bounce_limit:
                suppress_in(session, [send.to_address], f"{'hard' if hard else 'repeated soft'} bounce: "
                            f"{outcome.status or outcome.code} {outcome.reason}", now)
            if hard or StopEvent.bounce in stop_on:
                _stop(enr, now, f"bounced at send ({outcome.status or outcome.code} {outcome.reason})")
            return outcome.kind
        mailbox_store.release(session, send.mailbox, send.claimed_at)
        if outcome.kind in ("auth_failure", "config_error"):
            reason = f"{outcome.kind.replace('_', ' ')}: {outcome.reason}" + (f" ({outcome.code})" if outcome.code else "")
            if mailbox_store.pause(session, send.mailbox, reason, now):
                session.add(Event(type=ev.MAILBOX_PAUSED, at=now, mailbox=send.mailbox, data={"reason": reason}))
            send.state, send.not_before = SendState.retry, now
            _reschedule(enr, now, now, f"moved off paused mailbox {send.mailbox}")
            return "mailbox paused"
        decision = retry_decision(send.attempts, outcome, rng, policy)
        if isinstance(decision, GiveUp):
            send.state = SendState.failed
            enr.state, enr.reason, enr.next_due_at, enr.updated_at = EnrollmentState.blocked, decision.reason, None, now
            session.add(event(ev.SEND_FAILED, "failed", data))
            return "failed"
        at = now + timedelta(seconds=decision.delay)
        send.state, send.not_before = SendState.retry, at
        _reschedule(enr, now, at, f"retry at {at:%Y-%m-%d %H:%M}Z: {decision.reason}")
        return "retry"


def block_unrenderable(engine: Engine, send_id: int, reason: str, now: datetime) -> None:
    """The message cannot be rendered (a variable the prospect lacks): nothing is sent, ever blank."""
    with session_scope(engine) as session:
        send, enr = _load(session, send_id)
        mailbox_store.release(session, send.mailbox, send.claimed_at)
        session.delete(send)
        enr.state, enr.reason, enr.next_due_at, enr.updated_at = EnrollmentState.blocked, reason, None, now


def release_claim(engine: Engine, send_id: int, now: datetime) -> None:
    """Hands back a claim that was not attempted (shutdown before its turn)."""
    with session_scope(engine) as session:
        send, enr = _load(session, send_id)
        if send.state != SendState.claimed:
            return
        mailbox_store.release(session, send.mailbox, send.claimed_at)
        send.state, send.lease_owner, send.lease_until, send.not_before = SendState.retry, None, None, now
        _reschedule(enr, now, now, None)


def recover_expired(engine: Engine, now: datetime) -> tuple[int, int]:
    """Leases that ran out: ``claimed`` ones go back to the queue, ``sending`` ones become ``unknown``."""
    with session_scope(engine) as session:
        stale = list(session.exec(select(Send).where(
            col(Send.state).in_([SendState.claimed, SendState.sending]), col(Send.lease_until) < now)))
        requeued = unknown = 0
        for send in stale:
            enr = session.get(Enrollment, send.enrollment_id)
            assert enr is not None
            if send.state == SendState.claimed:
                mailbox_store.release(session, send.mailbox, send.claimed_at)
                send.state, send.lease_owner, send.lease_until, send.not_before = SendState.retry, None, None, now
                _reschedule(enr, now, now, None)
                requeued += 1
            else:
                send.state, send.lease_owner, send.lease_until = SendState.unknown, None, None
                _pause(enr, now, f"delivery unconfirmed: the daemon stopped during the SMTP transaction of "
                                 f"{send.message_id}; never resent unless the Sent folder shows it was not sent")
                session.add(Event(type=ev.SEND_UNKNOWN, at=now, prospect_id=send.prospect_id, enrollment_id=enr.id,
                                  send_id=send.id, mailbox=send.mailbox, dedupe_key=f"unknown:{send.id}",
                                  data={"reason": "lease expired while sending"}))
                unknown += 1
        return requeued, unknown


def unknown_sends(engine: Engine) -> list[Send]:
    with session_scope(engine) as session:
        return list(session.exec(select(Send).where(col(Send.state) == SendState.unknown).order_by(col(Send.id))))


def reconcile(engine: Engine, send_id: int, found_in_sent: bool, now: datetime) -> None:
    """Settles an ``unknown`` send: found in the Sent folder -> sent; not found -> sent again later."""
    with session_scope(engine) as session:
        send, enr = _load(session, send_id)
        if send.state != SendState.unknown:
            return
        if found_in_sent:
            enr.state = EnrollmentState.active
            _delivered(session, send, enr, Delivered(send.subject or enr.last_subject or "", send.variant_id,
                                                     tuple((enr.thread_references or "").split())), send.claimed_at)
            send.sent_at = send.claimed_at
        else:
            send.state, send.not_before = SendState.retry, now
            _reschedule(enr, now, now, "reconciled: not in the Sent folder, will be sent again")
        enr.state = EnrollmentState.active if enr.state == EnrollmentState.paused else enr.state


def _soft_bounces(session: Session, address: str) -> int:
    rows = session.exec(select(Send.id).where(col(Send.to_address) == address, col(Send.state) == SendState.bounced))
    return len(list(rows))


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


def _pause(enr: Enrollment, now: datetime, reason: str) -> None:
    enr.state, enr.reason, enr.next_due_at, enr.paused_until, enr.updated_at = (
        EnrollmentState.paused, reason, None, None, now)


def _stop(enr: Enrollment, now: datetime, reason: str) -> None:
    enr.state, enr.reason, enr.next_due_at, enr.updated_at = EnrollmentState.stopped, reason, None, now
