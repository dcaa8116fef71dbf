"""The rows a report is computed from: events of the reported types (the data of replies only), sends, and
prospects' sources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Engine, case, func, null, select, type_coerce
from sqlmodel import col

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.tables import Event, Prospect, Send

# (type, at, prospect_id, enrollment_id, send_id, data) and
# (id, enrollment_id, prospect_id, sequence, step, variant, mailbox, sent_at, claimed_at)
EventRow = tuple[str, datetime, int | None, int | None, int | None, dict[str, Any] | None]
SendRow = tuple[int, int, int, str, str, str | None, str, datetime | None, datetime]


@dataclass(frozen=True)
class ReportRows:
    events: list[EventRow]
    sends: list[SendRow]
    source_of: dict[int, str | None]
    prospects_by_source: dict[str, int]


def replies_data() -> Any:
    """``events.data`` of replies, NULL for the rest: reports read only a reply's (positive, intent), and not
    parsing the others' JSON saves about a third of the time and memory on a million events."""
    return type_coerce(case((col(Event.type) == ev.REPLIED, col(Event.data)), else_=null()), JSON)


def report_rows(engine: Engine, types: Iterable[str], since: datetime | None = None) -> ReportRows:
    """Everything a report reads, in one transaction (events in id order)."""
    with session_scope(engine) as session:
        query = select(col(Event.type), col(Event.at), col(Event.prospect_id), col(Event.enrollment_id),
                       col(Event.send_id), replies_data()).where(col(Event.type).in_(list(types)))
        if since is not None:
            query = query.where(col(Event.at) >= since)
        events = cast(list[EventRow], list(session.execute(query.order_by(col(Event.id)))))
        sources = {int(i): s for i, s in session.execute(select(col(Prospect.id), col(Prospect.source)))}
        by_source = {s or "(none)": int(n) for s, n in session.execute(
            select(col(Prospect.source), func.count()).group_by(col(Prospect.source)))}
        sends = cast(list[SendRow], list(session.execute(
            select(col(Send.id), col(Send.enrollment_id), col(Send.prospect_id), col(Send.sequence_name),
                   col(Send.step_id), col(Send.variant_id), col(Send.mailbox), col(Send.sent_at),
                   col(Send.claimed_at)))))
    return ReportRows(events, sends, sources, by_source)
