"""What the engine is doing: mailboxes (today's sends against caps, pauses), queues, blocked work."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from outbound.engine.rotation import PoolError, daily_cap, pool_mailboxes
from outbound.engine.window import is_open, next_opening, resolve_zone
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.spec.workspace import Workspace
from outbound.store import mailboxes as mailbox_store
from outbound.store.status_queries import StatusRows, read_status
from outbound.store.tables import MailboxState, SendState


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
    window_open: bool | None = None  # whether a sequence it sends for may send now (None: it sends for none)
    next_opening: datetime | None = None  # when the first of those windows opens, while all are shut
    provider_limits: str | None = None  # an OAuth2 provider's per-mailbox limits, in words (Microsoft 365: ...)


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


def _limits(found: tuple[SendingDomain, Mailbox] | None) -> str | None:
    auth = found[0].auth_for(found[1]) if found else None
    if auth is None or (auth.preset is None and auth.limits is None):
        return None
    return f"{auth.preset.label if auth.preset else auth.provider}: {auth.provider_limits.describe()}"


def engine_status(engine: Engine, workspace: Workspace, now: datetime) -> EngineStatus:
    return shape_status(read_status(engine, now), workspace, now)


def _windows(workspace: Workspace, zones: dict[str, list[str | None]], default_timezone: str,
             now: datetime) -> dict[str, tuple[bool, datetime | None]]:
    """Per mailbox: is a window it sends in open now (for a zone of the sequence's active prospects,
    or the sequence's fallback when it has none), else when the first one opens."""
    open_now: dict[str, bool] = {}
    opening: dict[str, datetime] = {}
    for name, loaded in workspace.sequences.items():
        seq = loaded.sequence
        pool = pool_mailboxes(seq.senders, workspace.domains)
        if isinstance(pool, PoolError):
            continue
        tzs = {resolve_zone(seq.window, z, default_timezone).tz for z in zones.get(name) or [None]}
        is_now = any(is_open(seq.window, tz, now) for tz in tzs)
        first: datetime | None = None
        if not is_now:
            try:
                first = min(next_opening(seq.window, tz, now) for tz in tzs)
            except ValueError:  # a window that never opens: validate reports it
                first = None
        for _, mb in pool:
            open_now[mb.address] = open_now.get(mb.address, False) or is_now
            if first is not None and (mb.address not in opening or first < opening[mb.address]):
                opening[mb.address] = first
    return {a: (o, None if o else opening.get(a)) for a, o in open_now.items()}


def shape_status(rows: StatusRows, workspace: Workspace, now: datetime) -> EngineStatus:
    """The status of the rows read: mailboxes of the workspace and of the database, caps, step ids."""
    status = EngineStatus(now=now)
    known = workspace.mailboxes()
    windows = _windows(workspace, rows.zones, workspace.config.settings.sending.default_timezone, now)
    found_rows = {r.address: r for r in rows.mailboxes}
    for address in sorted(set(found_rows) | set(known)):
        row = found_rows.get(address) or MailboxState(address=address, domain=address.rsplit("@", 1)[1])
        usage = mailbox_store.usage(row, now, {})
        found = known.get(address)
        cap = daily_cap(found[1], usage) if found else 0
        status.mailboxes.append(MailboxStatus(
            address, row.domain, row.state, row.pause_reason, usage.sent_today, cap, usage.sending_day,
            row.next_allowed_at if row.next_allowed_at and row.next_allowed_at > now else None, found is not None,
            *windows.get(address, (None, None))))
        if limits := _limits(found):
            status.mailboxes[-1] = replace(status.mailboxes[-1], provider_limits=limits)
    for q in sorted(rows.queue, key=lambda q: (q.sequence, q.step)):  # Python's order, not the database's collation
        loaded = workspace.sequences.get(q.sequence)
        steps = loaded.sequence.steps if loaded else []
        step_id = steps[q.step].id if q.step < len(steps) else f"#{q.step + 1}"
        status.queue.append(QueueRow(q.sequence, step_id, q.due_now, q.later))
    status.stuck = sorted((StuckRow(r.state, r.reason or "no reason recorded", r.count) for r in rows.stuck),
                          key=lambda r: -r.count)
    status.enrollments = dict(rows.enrollments)
    status.sends = dict(rows.sends)
    status.sends.setdefault(SendState.sent, 0)
    return status
