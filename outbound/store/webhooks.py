"""The webhook delivery queue: what is due, and each attempt's result (``outbound.scoring.webhooks`` posts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.scoring_tables import WebhookDelivery

State = Literal["delivered", "failed", "pending"]


@dataclass(frozen=True)
class DueDelivery:
    id: int
    webhook: str  # its name in scoring.yaml
    body: str     # the exact JSON that is signed and posted


@dataclass(frozen=True)
class AttemptResult:
    state: State                        # pending: tried again at ``next_attempt_at``
    error: str | None = None
    next_attempt_at: datetime | None = None


def due_deliveries(engine: Engine, now: datetime, limit: int) -> list[DueDelivery]:
    with session_scope(engine) as session:
        return [DueDelivery(int(d.id or 0), d.webhook, d.body) for d in session.scalars(
            select(WebhookDelivery).where(col(WebhookDelivery.state) == "pending",
                                          col(WebhookDelivery.next_attempt_at) <= now)
            .order_by(col(WebhookDelivery.id)).limit(limit))]


def record_attempt(engine: Engine, delivery_id: int, now: datetime,
                   result_of: Callable[[int], AttemptResult]) -> AttemptResult | None:
    """Counts one attempt; ``result_of(attempts)`` says what follows. None: no longer pending (another daemon)."""
    with session_scope(engine) as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None or row.state != "pending":
            return None
        row.attempts += 1
        result = result_of(row.attempts)
        row.last_error, row.state = result.error, result.state
        if result.state == "delivered":
            row.delivered_at = now
        if result.next_attempt_at is not None:
            row.next_attempt_at = result.next_attempt_at
        return result
