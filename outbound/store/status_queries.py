"""The reads behind `outbound status`: mailbox rows, queued steps, stuck enrollments, counts by state.

Every query runs on SQLite and PostgreSQL alike: the queue groups by columns only and counts the
due rows with an aggregate, since PostgreSQL refuses to match a GROUP BY expression whose bound
``now`` appears twice (two parameters) with the same expression in the SELECT list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, case, func, or_
from sqlmodel import Session, col, select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Prospect, Send


@dataclass(frozen=True)
class QueueCount:
    """Active enrollments waiting at one step of a sequence: due now, and due later."""

    sequence: str
    step: int
    due_now: int
    later: int


@dataclass(frozen=True)
class StuckCount:
    state: str
    reason: str | None
    count: int


@dataclass(frozen=True)
class StatusRows:
    mailboxes: list[MailboxState]
    queue: list[QueueCount]
    stuck: list[StuckCount]
    enrollments: dict[str, int]
    sends: dict[str, int]
    zones: dict[str, list[str | None]] = field(default_factory=dict)  # sequence -> its active prospects' zones


def read_status(engine: Engine, now: datetime) -> StatusRows:
    """Everything `status` shows, read in one transaction (the figures agree with each other)."""
    with session_scope(engine) as session:
        return StatusRows(mailbox_rows(session), queued(session, now), stuck(session),
                          enrollment_counts(session), send_counts(session), active_zones(session))


def active_zones(session: Session) -> dict[str, list[str | None]]:
    """The distinct time zones (None: none given) of the prospects with an active enrollment, per sequence."""
    rows = session.exec(select(Enrollment.sequence_name, Prospect.timezone).distinct()
                        .join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
                        .where(col(Enrollment.state) == EnrollmentState.active))
    out: dict[str, list[str | None]] = {}
    for name, zone in rows:
        out.setdefault(name, []).append(zone)
    return out


def mailbox_rows(session: Session) -> list[MailboxState]:
    return list(session.exec(select(MailboxState).order_by(col(MailboxState.address))))


def queued(session: Session, now: datetime) -> list[QueueCount]:
    """Active enrollments per (sequence, next step); due now means no due time yet or one that has passed."""
    due = col(Enrollment.next_due_at)
    rows = session.exec(select(Enrollment.sequence_name, Enrollment.next_step,
                               func.count(case((or_(due.is_(None), due <= now), 1))), func.count())
                        .where(col(Enrollment.state) == EnrollmentState.active)
                        .group_by(col(Enrollment.sequence_name), col(Enrollment.next_step)))
    return [QueueCount(name, int(step), int(due_now), int(total) - int(due_now)) for name, step, due_now, total in rows]


def stuck(session: Session) -> list[StuckCount]:
    """Blocked and paused enrollments per (state, reason)."""
    rows = session.exec(select(Enrollment.state, Enrollment.reason, func.count())
                        .where(col(Enrollment.state).in_([EnrollmentState.blocked, EnrollmentState.paused]))
                        .group_by(col(Enrollment.state), col(Enrollment.reason)))
    return [StuckCount(str(state), reason, int(n)) for state, reason, n in rows]


def enrollment_counts(session: Session) -> dict[str, int]:
    return {str(s): int(n) for s, n in session.exec(
        select(Enrollment.state, func.count()).group_by(col(Enrollment.state)))}


def send_counts(session: Session) -> dict[str, int]:
    return {str(s): int(n) for s, n in session.exec(select(Send.state, func.count()).group_by(col(Send.state)))}
