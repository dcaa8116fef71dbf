"""The forward outbox: one ``reply_forwarded`` event per forwarded reply, keyed ``forward:{reply id}``,
that carries the forward's state until it is sent.

The row is inserted before the first attempt (``claim_first``: one caller wins, across restarts and
daemons) with the Message-ID the forward will carry and the original message, so an attempt that
fails, or a daemon that dies mid-send, leaves everything a later attempt needs. Every later attempt
is claimed by a compare-and-set on the attempt count (``claim_retry``), so two daemons never make
the same attempt. Once sent, the kept original is dropped.

States in ``data.outcome``: ``sending`` (an attempt is under way until ``lease_until``), ``retry``
(due at ``next_at``), ``sent``, ``failed`` (attempts used up).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.effects import insert_once
from outbound.store.replies import Reply
from outbound.store.tables import Event

_EV = Event.__table__  # type: ignore[attr-defined]
KEEP_ORIGINAL_UP_TO = 2 * 1024 * 1024  # bytes; a larger original is not kept for retries (the summary still goes)


@dataclass(frozen=True)
class Forward:
    event_id: int
    reply_id: int
    to: str
    message_id: str
    attempts: int
    original: bytes | None


def forward_key(reply_id: int) -> str:
    return f"forward:{reply_id}"


def claim_first(engine: Engine, reply: Reply, to: str, message_id: str, original: bytes, now: datetime,
                lease: timedelta) -> Forward | None:
    """The one right to forward this reply (its first attempt): the claimed forward for exactly one
    caller, ever; None for everyone else."""
    kept = base64.b64encode(original).decode() if len(original) <= KEEP_ORIGINAL_UP_TO else None
    data = {"reply": reply.id, "to": to, "outcome": "sending", "attempts": 1, "message_id": message_id,
            "original": kept, "lease_until": (now + lease).isoformat(), "reason": ""}
    with session_scope(engine) as session:
        won = insert_once(session, _EV, {"type": ev.REPLY_FORWARDED, "at": now, "prospect_id": reply.prospect_id,
                                         "enrollment_id": reply.enrollment_id, "mailbox": reply.mailbox,
                                         "dedupe_key": forward_key(reply.id), "data": data}, "dedupe_key")
        if not won:
            return None
        event_id = session.exec(select(Event.id).where(col(Event.dedupe_key) == forward_key(reply.id))).one()
    return Forward(int(event_id or 0), reply.id, to, message_id, 1, original if kept else None)


def due(engine: Engine, now: datetime, limit: int = 50) -> list[Forward]:
    """Forwards whose retry is due, or whose attempt was abandoned (its lease ran out: a crash)."""
    with session_scope(engine) as session:
        rows = session.exec(select(Event.id, Event.data).where(
            col(Event.type) == ev.REPLY_FORWARDED,
            _EV.c.data["outcome"].as_string().in_(("retry", "sending"))).order_by(col(Event.id))).all()
    out: list[Forward] = []
    for event_id, data in rows:
        when = data.get("next_at") if data.get("outcome") == "retry" else data.get("lease_until")
        if when is None or datetime.fromisoformat(str(when)) <= now:
            out.append(_forward(int(event_id or 0), data))
        if len(out) >= limit:
            break
    return out


def claim_retry(engine: Engine, forward: Forward, now: datetime, lease: timedelta) -> bool:
    """Attempt ``forward.attempts + 1``, for this caller only (a compare-and-set on the attempt count)."""
    with session_scope(engine) as session:
        data = session.exec(select(Event.data).where(col(Event.id) == forward.event_id)).first()
        if data is None or data.get("attempts") != forward.attempts or data.get("outcome") not in ("retry", "sending"):
            return False
        changed = {**data, "outcome": "sending", "attempts": forward.attempts + 1,
                   "lease_until": (now + lease).isoformat()}
        done = session.connection().execute(
            update(_EV).where(_EV.c.id == forward.event_id,
                              _EV.c.data["attempts"].as_integer() == forward.attempts).values(data=changed))
        return done.rowcount == 1


def settle(engine: Engine, event_id: int, attempt: int, outcome: str, reason: str = "",
           next_at: datetime | None = None) -> None:
    """Attempt ``attempt``'s result: ``sent`` (the kept original is dropped), ``retry`` at ``next_at``, or
    ``failed``; nothing when a later attempt took over (this one outlived its lease)."""
    with session_scope(engine) as session:
        row = session.get(Event, event_id)
        if row is None or (row.data or {}).get("attempts") != attempt:
            return
        data: dict[str, Any] = {**(row.data or {}), "outcome": outcome, "reason": reason[:1000],
                                "next_at": next_at.isoformat() if next_at else None}
        if outcome in ("sent", "failed"):
            data["original"] = None
        row.data = data
        session.add(row)


def find(engine: Engine, reply_id: int) -> Forward | None:
    with session_scope(engine) as session:
        row = session.exec(select(Event.id, Event.data).where(col(Event.dedupe_key) == forward_key(reply_id))).first()
    return None if row is None else _forward(int(row[0] or 0), row[1])


def _forward(event_id: int, data: Mapping[str, Any]) -> Forward:
    kept = data.get("original")
    return Forward(event_id, int(data.get("reply") or 0), str(data.get("to") or ""), str(data.get("message_id") or ""),
                   int(data.get("attempts") or 1), base64.b64decode(kept) if kept else None)
