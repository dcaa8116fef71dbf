"""What the Prometheus gauges read at scrape time: one read transaction of index ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select

from outbound.core.mailbox import MailboxUsage
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Send, SendState

IN_THE_AIR = (SendState.claimed, SendState.sending, SendState.retry, SendState.unknown)


@dataclass(frozen=True)
class GaugeRows:
    due: int                                      # active enrollments whose next step may be planned now
    sends: dict[str, int]                         # claimed / sending / retry / unknown
    mailboxes: list[tuple[str, MailboxUsage]]     # (state, today's usage) of every mailbox row, by address


def gauge_rows(engine: Engine, now: datetime) -> GaugeRows:
    """Due enrollments, unsettled sends by state, and every mailbox row's usage today (each query an index range)."""
    e, s = Enrollment.__table__, Send.__table__  # type: ignore[attr-defined]
    active = EnrollmentState.active.value
    with session_scope(engine) as session:
        conn = session.connection()
        due = conn.execute(select(func.count()).select_from(e).where(or_(
            and_(e.c.state == active, e.c.next_due_at.is_(None)),
            and_(e.c.state == active, e.c.next_due_at <= now)))).scalar_one()
        sends = {str(state): 0 for state in IN_THE_AIR}
        for state, n in conn.execute(select(s.c.state, func.count()).where(s.c.state.in_(IN_THE_AIR))
                                     .group_by(s.c.state)):
            sends[str(state)] = int(n)
        rows = list(session.scalars(select(MailboxState).order_by(MailboxState.address)))
        boxes = [(row.state, mailbox_store.usage(row, now, {})) for row in rows]
    return GaugeRows(int(due), sends, boxes)
