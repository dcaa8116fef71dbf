"""What the engine is doing: mailboxes (today's sends against caps, pauses), queues, blocked work."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import col, select

from outbound.engine.rotation import daily_cap
from outbound.spec.workspace import Workspace
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Send, SendState


@dataclass(frozen=True)
class MailboxStatus:
    address: str
    domain: str
    state: str
    pause_reason: str | None
    sent_today: int
    cap_today: int
    warmup_day: int
    next_send_at: datetime | None
    in_workspace: bool


@dataclass(frozen=True)
class QueueRow:
    sequence: str
    step: str
    due_now: int
    scheduled: int


@dataclass(frozen=True)
class StuckRow:
    state: str
    reason: str
    count: int


@dataclass
class EngineStatus:
    now: datetime
    mailboxes: list[MailboxStatus] = field(default_factory=list)
    queue: list[QueueRow] = field(default_factory=list)
    stuck: list[StuckRow] = field(default_factory=list)
    enrollments: dict[str, int] = field(default_factory=dict)
    sends: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def conv(v: Any) -> Any:
            if isinstance(v, datetime):
                return v.isoformat()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v
        return conv(asdict(self))  # type: ignore[no-any-return]


def engine_status(engine: Engine, workspace: Workspace, now: datetime) -> EngineStatus:
    status = EngineStatus(now=now)
    known = workspace.mailboxes()
    with session_scope(engine) as session:
        rows = {r.address: r for r in session.exec(select(MailboxState))}
        for address in sorted(set(rows) | set(known)):
            row = rows.get(address) or MailboxState(address=address, domain=address.rsplit("@", 1)[1])
            usage = mailbox_store.usage(row, now, {})
            found = known.get(address)
            cap = daily_cap(found[1], usage) if found else 0
            status.mailboxes.append(MailboxStatus(
                address, row.domain, row.state, row.pause_reason, usage.sent_today, cap, usage.sending_day,
                row.next_allowed_at if row.next_allowed_at and row.next_allowed_at > now else None, found is not None))
        queued = session.exec(select(Enrollment.sequence_name, Enrollment.next_step,
                                     (col(Enrollment.next_due_at).is_(None)) | (col(Enrollment.next_due_at) <= now),
                                     func.count())
                              .where(col(Enrollment.state) == EnrollmentState.active)
                              .group_by(col(Enrollment.sequence_name), col(Enrollment.next_step),
                                        (col(Enrollment.next_due_at).is_(None)) | (col(Enrollment.next_due_at) <= now)))
        table: dict[tuple[str, int], list[int]] = {}
        for name, step, due, n in queued:
            table.setdefault((name, step), [0, 0])[0 if due else 1] += int(n)
        for (name, step), (due_now, later) in sorted(table.items()):
            loaded = workspace.sequences.get(name)
            step_id = loaded.sequence.steps[step].id if loaded and step < len(loaded.sequence.steps) else f"#{step + 1}"
            status.queue.append(QueueRow(name, step_id, due_now, later))
        stuck = session.exec(select(Enrollment.state, Enrollment.reason, func.count())
                             .where(col(Enrollment.state).in_([EnrollmentState.blocked, EnrollmentState.paused]))
                             .group_by(col(Enrollment.state), col(Enrollment.reason)))
        status.stuck = sorted((StuckRow(s, r or "no reason recorded", int(n)) for s, r, n in stuck),
                              key=lambda r: -r.count)
        status.enrollments = {s: int(n) for s, n in session.exec(
            select(Enrollment.state, func.count()).group_by(col(Enrollment.state)))}
        status.sends = {s: int(n) for s, n in session.exec(select(Send.state, func.count()).group_by(col(Send.state)))}
        status.sends.setdefault(SendState.sent, 0)
    return status
