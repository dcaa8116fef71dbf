"""Applying a rulebook decision: every part of :class:`Effects` inside the caller's transaction.

The one writer for enrollment transitions (:func:`transition`), the one for suppressions
(:func:`suppress_values`) and the one for pausing and resuming senders (:func:`change_senders`) live
here; every path that brings a fact (SMTP, DSN, reply, link, CRM, rule, operator) ends in
:func:`apply`. Each write is a conditional UPDATE or an INSERT ... ON CONFLICT DO NOTHING, so a fact
applied twice, or by two daemons at once, changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from outbound.core import events as ev
from outbound.rulebook.decide import UNCONFIRMED
from outbound.rulebook.effects import (
    AddReferral,
    Effects,
    EnrollmentChange,
    Record,
    SendChange,
    SenderChange,
    StopAccount,
)
from outbound.store import mailboxes as mailbox_store
from outbound.store.prospects import stopped_accounts_among, suppressed_among
from outbound.store.tables import (
    Account,
    Enrollment,
    EnrollmentState,
    Event,
    MailboxState,
    Prospect,
    Send,
    SendState,
    SequenceVersion,
)
from outbound.store.tables import Suppression as SuppressionRow

_E = Enrollment.__table__  # type: ignore[attr-defined]
_S = Send.__table__  # type: ignore[attr-defined]
_P = Prospect.__table__  # type: ignore[attr-defined]
_M = MailboxState.__table__  # type: ignore[attr-defined]
_A = Account.__table__  # type: ignore[attr-defined]
_SUP = SuppressionRow.__table__  # type: ignore[attr-defined]
_EV = Event.__table__  # type: ignore[attr-defined]
OPEN = (EnrollmentState.active.value, EnrollmentState.paused.value, EnrollmentState.blocked.value)


@dataclass(frozen=True)
class Subject:
    """Whom a decision is about; each reach of the effects is resolved from it."""

    prospect_id: int | None = None
    enrollment_id: int | None = None
    send_id: int | None = None
    mailbox: str | None = None
    step_index: int | None = None
    company_domain: str | None = None
    step_id: str | None = None          # the send's step, which an "advance" marks done


@dataclass
class Applied:
    """What a decision changed, in words (the poll summary, the CLI, the log)."""

    outcome: str
    actions: list[str] = field(default_factory=list)
    recorded: bool = True       # False: the event was known already (a repeated fact)
    moved: int = 0              # enrollments that changed state
    suppressed: int = 0         # new suppression entries


def apply(session: Session, effects: Effects, subject: Subject, now: datetime, *, key: str | None = None,
          extra: Mapping[str, Any] | None = None) -> Applied:
    """Writes ``effects`` about ``subject``. ``key`` and ``extra`` complete the records whose key the
    rulebook left to the path (the inbound message's key, a CRM row's key) with the path's own data."""
    done = Applied(effects.outcome)
    if effects.send is not None and subject.send_id is not None:
        _send(session, effects.send, subject.send_id, now)
    suppressing = effects.suppress.values if effects.suppress is not None else ()
    for change in effects.enrollments:
        ids = transition(session, change, subject, now, suppressing)
        done.moved += len(ids)
        if ids:
            done.actions.append(f"{change.action} {len(ids)} enrollment(s): {change.reason}")
    if effects.suppress is not None:
        added = suppress_values(session, effects.suppress.values, effects.suppress.reason, now)
        done.suppressed += added
        done.actions.append(f"suppressed {', '.join(effects.suppress.values)} ({added} new): {effects.suppress.reason}")
    for sender in effects.senders:
        changed = change_senders(session, sender, now, subject)
        if changed:
            done.actions.append(f"{sender.action}d {', '.join(changed)}: {sender.reason}")
    if effects.account is not None:
        stop_account(session, effects.account, now)
        word = "resumed" if effects.account.lift else "stopped"
        done.actions.append(f"account {effects.account.domain} {word}: {effects.account.reason}")
    if effects.referral is not None:
        referred = add_referral(session, effects.referral, now)
        if referred:
            done.actions.append(referred)
    # the records come last, so the path's own record can say what its fact changed
    for record in effects.records:
        said = {"actions": done.actions, "enrollments_changed": done.moved}
        if not _record(session, record, subject, now, key, {**(extra or {}), **said}):
            done.recorded = False
    return done


# ------------------------------------------------------------------ events

def _record(session: Session, record: Record, subject: Subject, now: datetime, key: str | None,
            extra: Mapping[str, Any] | None) -> bool:
    own_key = record.key is None
    values = {"type": record.type, "at": record.at or now, "prospect_id": subject.prospect_id,
              "enrollment_id": subject.enrollment_id, "send_id": subject.send_id,
              "mailbox": record.mailbox or subject.mailbox,
              "dedupe_key": key if own_key else record.key,
              "data": {**(extra or {}), **record.data} if own_key else dict(record.data)}
    if values["dedupe_key"] is None:
        session.connection().execute(insert(_EV).values(**values))
        return True
    return insert_once(session, _EV, values, "dedupe_key")


def insert_once(session: Session, table: Any, values: Mapping[str, Any], key: str) -> bool:
    """INSERT ... ON CONFLICT (key) DO NOTHING: True when the row is new (one statement, race-free)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite_insert if dialect == "sqlite" else pg_insert
        # RETURNING, not rowcount: PostgreSQL's driver reports -1 for an INSERT with RETURNING, which
        # SQLAlchemy adds on its own, so a conflict looked like a new row there
        statement = make(table).values(**values).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
        return session.connection().execute(statement).first() is not None
    if session.connection().execute(select(table.c[key]).where(table.c[key] == values[key])).first() is not None:
        return False
    session.connection().execute(insert(table).values(**values))
    return True


# ------------------------------------------------------------------ the send

def _send(session: Session, change: SendChange, send_id: int, now: datetime) -> None:
    conn = session.connection()
    where: list[ColumnElement[bool]] = [_S.c.id == send_id]
    if change.only_if_sent:  # a DSN about a send that is no longer ``sent`` (bounced already) changes nothing
        where.append(_S.c.state == SendState.sent.value)
    values: dict[str, Any] = {"state": change.state, "last_error": change.error[:1000], "lease_owner": None,
                              "lease_until": None}
    if change.not_before is not None:
        values["not_before"] = change.not_before
    moved = conn.execute(update(_S).where(*where).values(**values).returning(_S.c.mailbox, _S.c.claimed_at)).first()
    if change.release_slot and moved is not None:  # nothing left the machine: the cap slot is free again
        mailbox_store.release(session, moved.mailbox, moved.claimed_at)


# ------------------------------------------------------------------ enrollments: the one writer

def _reach(change: EnrollmentChange, subject: Subject, suppressing: tuple[str, ...]) -> ColumnElement[bool] | None:
    if change.reach == "suppressed":
        return _of_suppressed(suppressing)
    if change.reach == "enrollment":
        return None if subject.enrollment_id is None else _E.c.id == subject.enrollment_id
    if change.reach == "prospect":
        return None if subject.prospect_id is None else _E.c.prospect_id == subject.prospect_id
    domain = subject.company_domain
    if not domain:
        return None
    in_account: ColumnElement[bool] = _E.c.prospect_id.in_(select(_P.c.id).where(_P.c.company_domain == domain.lower()))
    return in_account


def _of_suppressed(values: tuple[str, ...]) -> ColumnElement[bool] | None:
    """Enrollments of prospects whose address, or whose address's domain, is among ``values``."""
    addresses = [v for v in values if not v.startswith("@")]
    domains = [v for v in values if v.startswith("@")]
    matches: list[ColumnElement[bool]] = [_P.c.email.in_(addresses)] if addresses else []
    matches += [_P.c.email.endswith(d, autoescape=True) for d in domains]
    if not matches:
        return None
    reached: ColumnElement[bool] = _E.c.prospect_id.in_(select(_P.c.id).where(or_(*matches)))
    return reached


def transition(session: Session, change: EnrollmentChange, subject: Subject, now: datetime,
               suppressing: tuple[str, ...] = ()) -> list[int]:
    """Moves the enrollments ``change`` reaches (``suppressing``: the values the same decision suppresses);
    returns the ids that moved. Each action has its own precondition, so a stopped enrollment is never
    paused again, nor a paused one stopped twice."""
    reach = _reach(change, subject, suppressing)
    if reach is None:
        return []
    where: list[ColumnElement[bool]] = [reach]
    if change.keep_sequence:
        where.append(_E.c.sequence_name != change.keep_sequence)
    reason = change.reason[:1000]
    values: dict[str, Any] = {"updated_at": now}
    active, paused = EnrollmentState.active.value, EnrollmentState.paused.value
    if change.action == "stop":
        where.append(_E.c.state.in_(OPEN))
        values |= {"state": EnrollmentState.stopped.value, "reason": reason, "next_due_at": None, "paused_until": None}
    elif change.action == "pause":
        if change.extend_only:
            # active ones, or ones a timed pause holds; the pause only ever moves later
            where.append(or_(_E.c.state == active, and_(_E.c.state == paused, _E.c.paused_until.is_not(None))))
            at = change.at
            later = and_(_E.c.paused_until.is_not(None), _E.c.paused_until > at)
            values |= {"state": paused, "next_due_at": None,
                       "paused_until": case((later, _E.c.paused_until), else_=at),
                       "reason": case((later, _E.c.reason), else_=reason)}
        else:
            where.append(_E.c.state == active)
            values |= {"state": paused, "reason": reason, "next_due_at": None, "paused_until": change.at}
    elif change.action == "advance":
        if subject.step_index is None:
            return []
        where.append(_E.c.next_step == subject.step_index)
        values |= {"next_step": subject.step_index + 1, "anchor_at": now, "next_due_at": None, "reason": reason,
                   "next_step_id": None}
        if subject.step_id:  # steps are followed by id: the planner derives the next one from the done ones
            values["done_steps"] = func.coalesce(_E.c.done_steps + literal(" "), literal("")) + literal(subject.step_id)
    elif change.action == "due":
        where.append(_E.c.state == active)
        values |= {"next_due_at": change.at, "reason": reason or None}
    elif change.action == "block":
        values |= {"state": EnrollmentState.blocked.value, "reason": reason, "next_due_at": None}
    elif change.action == "hold":
        values |= {"state": paused, "reason": reason, "next_due_at": None, "paused_until": None}
    elif change.action == "resume":
        where += [_E.c.state == paused, or_(_E.c.reason.is_(None), ~_E.c.reason.startswith(UNCONFIRMED))]
        if change.only_reason_prefix is not None:
            where.append(_E.c.reason.startswith(change.only_reason_prefix, autoescape=True))
        values |= {"state": active, "paused_until": None, "next_due_at": None, "reason": None}
    elif change.action == "release_hold":
        where += [_E.c.state == paused, _E.c.paused_until.is_(None), _E.c.reason.startswith(UNCONFIRMED)]
        values |= {"state": active}
    rows = session.connection().execute(update(_E).where(*where).values(**values).returning(_E.c.id)).all()
    return [int(r[0]) for r in rows]


# ------------------------------------------------------------------ suppressions: the one writer

def suppress_values(session: Session, values: Iterable[str], reason: str, now: datetime) -> int:
    """Adds addresses or ``@domains`` (an existing entry keeps its reason); returns how many were new."""
    added = 0
    for value in sorted({v.strip().lower() for v in values if v and v.strip()}):
        kind = "domain" if value.startswith("@") else "address"
        added += insert_once(session, _SUP, {"value": value, "kind": kind, "reason": reason[:1000],
                                             "created_at": now}, "value")
    return added


# ------------------------------------------------------------------ senders and accounts

def change_senders(session: Session, change: SenderChange, now: datetime, subject: Subject | None = None) -> list[str]:
    """Pauses or resumes a mailbox or every mailbox of a domain; records one event per mailbox that moved."""
    conn = session.connection()
    target = change.target.strip().lower()
    match = _M.c.domain == target if change.scope == "domain" else _M.c.address == target
    if change.action == "pause":
        if change.scope == "mailbox":  # a mailbox the daemon has not synced yet still gets its pause
            insert_once(session, _M, {"address": target, "domain": target.rsplit("@", 1)[-1], "state": "active",
                                      "send_days": 0, "sent_on_last_day": 0}, "address")
        moved = conn.execute(update(_M).where(match, _M.c.state != "paused")
                             .values(state="paused", pause_reason=change.reason[:1000], paused_at=now)
                             .returning(_M.c.address)).all()
        kind = ev.MAILBOX_PAUSED
    else:
        where = [match, _M.c.state == "paused"]
        if change.only_reason_prefix is not None:  # the pauser lifts only its own pauses
            where.append(_M.c.pause_reason.startswith(change.only_reason_prefix, autoescape=True))
        moved = conn.execute(update(_M).where(*where)
                             .values(state="active", pause_reason=None, paused_at=None).returning(_M.c.address)).all()
        kind = ev.MAILBOX_RESUMED
    addresses = sorted(str(r[0]) for r in moved)
    data: dict[str, Any] = {"reason": change.reason, "scope": change.scope}
    if change.by is not None:
        data["by"] = change.by
    if subject is not None and subject.send_id is not None:
        data["send_id"] = subject.send_id
    for address in addresses:
        conn.execute(insert(_EV).values(type=kind, at=now, mailbox=address, data=data))
    return addresses


def stop_account(session: Session, stop: StopAccount, now: datetime) -> None:
    """Marks the account stopped (the first reason stays), or lifts the mark; enrollment and claim read it."""
    domain = stop.domain.lower()
    conn = session.connection()
    if stop.lift:
        conn.execute(update(_A).where(_A.c.domain == domain).values(stopped_reason=None))
        return
    conn.execute(update(_A).where(_A.c.domain == domain, _A.c.stopped_reason.is_(None))
                 .values(stopped_reason=stop.reason[:1000]))
    insert_once(session, _A, {"domain": domain, "stopped_reason": stop.reason[:1000], "created_at": now}, "domain")


# ------------------------------------------------------------------ referrals

_V = SequenceVersion.__table__  # type: ignore[attr-defined]


def add_referral(session: Session, referral: AddReferral, now: datetime) -> str | None:
    """Creates the prospect (an existing one is kept as it is) and its enrollment; says what it did, or
    None when nothing changed (enrolled already). A suppressed address or a stopped account is never enrolled."""
    email = referral.email.strip().lower()
    conn = session.connection()
    first, _, last = (referral.name or "").partition(" ")
    domain = (referral.company_domain or email.rsplit("@", 1)[-1]).lower()
    created = insert_once(session, _P, {
        "email": email, "first_name": first or None, "last_name": last or None, "company_domain": domain,
        "source": "referral", "fields": {"referred": referral.reason}, "hot": False, "created_at": now,
        "updated_at": now}, "email")
    prospect_id = conn.execute(select(_P.c.id).where(_P.c.email == email)).scalar_one()
    blocked = suppressed_among(conn, [email]).get(email) or stopped_accounts_among(conn, [domain]).get(domain)
    if blocked:
        return f"referral {email} {'added' if created else 'known'}, not enrolled: {blocked}"
    already = conn.execute(select(_E.c.id).where(_E.c.prospect_id == prospect_id,
                                                 _E.c.sequence_name == referral.sequence)).first()
    if already is not None:
        return None
    version = conn.execute(select(func.max(_V.c.version)).where(_V.c.name == referral.sequence)).scalar() or 1
    conn.execute(_E.insert().values(prospect_id=prospect_id, sequence_name=referral.sequence, sequence_version=version,
                                    state=EnrollmentState.active.value, next_step=0, reason=None, created_at=now,
                                    updated_at=now))
    return f"referral {email} {'added' if created else 'known'} and enrolled in {referral.sequence}: {referral.reason}"
