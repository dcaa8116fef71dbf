"""What the scoring rules read of a prospect's past beyond the batch: events in a window, an enrollment's sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from outbound.core import events as ev
from outbound.store.tables import Enrollment, Event, Prospect


def events_of(session: Session, prospect_id: int, types: list[str], since: datetime | None,
              upto_id: int) -> list[tuple[str, datetime, dict[str, Any]]]:
    """The prospect's events of ``types`` with id up to ``upto_id`` (at ``since`` or later)."""
    q = select(col(Event.type), col(Event.at), col(Event.data)).where(
        col(Event.prospect_id) == prospect_id, col(Event.type).in_(types), col(Event.id) <= upto_id)
    if since is not None:
        q = q.where(col(Event.at) >= since)
    return [(str(t), at, dict(d or {})) for t, at, d in session.execute(q)]


def account_events(session: Session, domain: str, types: list[str], since: datetime | None,
                   upto_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    """(prospect id, type, data) of the events of ``types`` of every contact at the company domain."""
    q = (select(col(Event.prospect_id), col(Event.type), col(Event.data))
         .join(Prospect, col(Prospect.id) == col(Event.prospect_id))
         .where(col(Prospect.company_domain) == domain, col(Event.type).in_(types), col(Event.id) <= upto_id))
    if since is not None:
        q = q.where(col(Event.at) >= since)
    return [(int(p), str(t), dict(d or {})) for p, t, d in session.execute(q)]


@dataclass(frozen=True)
class EnrollmentFacts:
    prospect_id: int
    sequence: str
    state: str
    created_at: datetime
    steps_sent: int
    steps_done: int                     # sent or skipped


def enrollment_facts(session: Session, enrollment_id: int) -> EnrollmentFacts | None:
    row = session.get(Enrollment, enrollment_id)
    if row is None:
        return None
    counts = {str(t): int(n) for t, n in session.execute(select(col(Event.type), func.count()).where(
        col(Event.enrollment_id) == enrollment_id, col(Event.type).in_((ev.SENT, ev.STEP_SKIPPED)))
        .group_by(col(Event.type)))}
    sent = int(counts.get(ev.SENT, 0))
    return EnrollmentFacts(row.prospect_id, row.sequence_name, str(row.state), row.created_at, sent,
                           sent + int(counts.get(ev.STEP_SKIPPED, 0)))
