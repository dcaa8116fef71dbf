"""The scoring rules' bookkeeping: which actions were taken, webhook deliveries queued, moves pending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.scoring_tables import ScoringAction, WebhookDelivery
from outbound.store.tables import Event, Prospect

_CHUNK = 1000


@dataclass(frozen=True)
class Taken:
    """One action a rule took, as it is kept (each key once)."""

    key: str
    rule: str
    kind: str
    subject_kind: str
    subject: str
    prospect_id: int | None
    event_id: int
    reason: str
    state: str                  # done | pending (a move waiting for its enrollment) | failed
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class PendingMove:
    id: int
    prospect_id: int | None
    move_to: str
    detail: Mapping[str, Any]


def taken_keys(session: Session, keys: list[str]) -> set[str]:
    done: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        done.update(session.scalars(select(ScoringAction.key).where(col(ScoringAction.key).in_(keys[i:i + _CHUNK]))))
    return done


def keep(session: Session, taken: Taken, now: datetime) -> None:
    session.add(ScoringAction(key=taken.key, rule=taken.rule, kind=taken.kind, subject_kind=taken.subject_kind,
                              subject=taken.subject, prospect_id=taken.prospect_id, event_id=taken.event_id,
                              reason=taken.reason, state=taken.state, detail=dict(taken.detail), created_at=now,
                              done_at=now if taken.state == "done" else None))


def mark_hot(session: Session, prospect_id: int, now: datetime) -> None:
    prospect = session.get(Prospect, prospect_id)
    if prospect is not None and not prospect.hot:
        prospect.hot, prospect.updated_at = True, now


def queue_webhook(session: Session, key: str, webhook: str, body: str, now: datetime) -> None:
    session.add(WebhookDelivery(key=key, webhook=webhook, body=body, next_attempt_at=now, created_at=now))


def prospect_view(session: Session, prospect_id: int) -> dict[str, Any] | None:
    """The prospect as a webhook payload shows it."""
    p = session.get(Prospect, prospect_id)
    if p is None:
        return None
    return {"id": p.id, "email": p.email, "first_name": p.first_name, "last_name": p.last_name, "company": p.company,
            "company_domain": p.company_domain, "title": p.title, "source": p.source, "hot": p.hot}


def latest_reply(session: Session, prospect_id: int) -> dict[str, Any]:
    """The data of the prospect's latest ``replied`` event (its text, intent, referral); empty when none."""
    data = session.scalars(select(Event.data).where(col(Event.prospect_id) == prospect_id,
                                                    col(Event.type) == ev.REPLIED)
                           .order_by(col(Event.id).desc()).limit(1)).first()
    return dict(data) if isinstance(data, dict) else {}


def pending_moves(engine: Engine) -> list[PendingMove]:
    with session_scope(engine) as session:
        rows = list(session.scalars(select(ScoringAction).where(col(ScoringAction.kind).in_(("move", "enroll")),
                                                                col(ScoringAction.state) == "pending")))
        return [PendingMove(int(r.id or 0), r.prospect_id, str(r.detail.get("move_to")), dict(r.detail)) for r in rows]


def settle(engine: Engine, action_id: int, state: str, detail: Mapping[str, Any], now: datetime) -> None:
    with session_scope(engine) as session:
        row = session.get(ScoringAction, action_id)
        if row is not None:
            row.state, row.detail, row.done_at = state, dict(detail), now
