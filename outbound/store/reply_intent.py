"""Reading and correcting one reply event's intent (``outbound replies set-intent``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from outbound.store.tables import Event, Prospect

_EV = Event.__table__  # type: ignore[attr-defined]
_P = Prospect.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ReplyEvent:
    id: int
    type: str
    at: datetime
    prospect_id: int | None
    enrollment_id: int | None
    send_id: int | None
    mailbox: str | None
    email: str | None                    # the prospect's address
    company_domain: str | None
    data: Mapping[str, Any]


def reply_event(session: Session, event_id: int) -> ReplyEvent | None:
    row = session.connection().execute(
        select(_EV.c.id, _EV.c.type, _EV.c.at, _EV.c.prospect_id, _EV.c.enrollment_id, _EV.c.send_id, _EV.c.mailbox,
               _P.c.email, _P.c.company_domain, _EV.c.data)
        .select_from(_EV.outerjoin(_P, _P.c.id == _EV.c.prospect_id)).where(_EV.c.id == event_id)).first()
    if row is None:
        return None
    return ReplyEvent(int(row.id), row.type, row.at, row.prospect_id, row.enrollment_id, row.send_id, row.mailbox,
                      row.email, row.company_domain, dict(row.data or {}))


def set_data(session: Session, event_id: int, data: Mapping[str, Any]) -> None:
    session.connection().execute(update(_EV).where(_EV.c.id == event_id).values(data=dict(data)))
