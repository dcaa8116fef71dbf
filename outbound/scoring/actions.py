"""Carrying out rule decisions in the batch's transaction, each once (a unique key per action).

Enrolling into another sequence opens its own transactions, so a move is recorded as ``pending``
here and finished by ``finish_moves`` after the commit; a crash in between leaves it pending.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.scoring.rules import Decision
from outbound.spec.sequence import Sequence
from outbound.store.db import session_scope
from outbound.store.enrollments import enroll
from outbound.store.scoring_tables import ScoringAction, WebhookDelivery
from outbound.store.tables import Account, Enrollment, EnrollmentState, Event, Prospect

LIVE = (EnrollmentState.active, EnrollmentState.paused, EnrollmentState.blocked)


def carry_out(session: Session, decisions: list[Decision], now: datetime) -> list[Decision]:
    """Applies the decisions not taken before; returns those newly taken."""
    if not decisions:
        return []
    done: set[str] = set()
    keys = [d.key for d in decisions]
    for i in range(0, len(keys), 1000):
        done.update(session.scalars(select(ScoringAction.key).where(col(ScoringAction.key).in_(keys[i:i + 1000]))))
    taken: list[Decision] = []
    for d in decisions:
        if d.key in done:
            continue
        done.add(d.key)
        state, detail = _do(session, d, now)
        session.add(ScoringAction(key=d.key, rule=d.rule, kind=d.kind, subject_kind=d.subject_kind, subject=d.subject,
                                  prospect_id=d.prospect_id, event_id=d.event.id, reason=d.reason, state=state,
                                  detail=detail, created_at=now, done_at=now if state == "done" else None))
        taken.append(d)
    session.flush()
    return taken


def _do(session: Session, d: Decision, now: datetime) -> tuple[str, dict[str, Any]]:
    if d.kind == "stop_account":
        account = session.scalars(select(Account).where(col(Account.domain) == d.subject)).first()
        if account is not None:
            account.stopped_reason = d.reason
        ids = list(session.scalars(select(Prospect.id).where(col(Prospect.company_domain) == d.subject)))
        return "done", {"stopped": _set_state(session, _live(session, ids), EnrollmentState.stopped, d.reason, now)}
    if d.kind in ("stop", "move"):
        why = d.reason if d.kind == "stop" else f"moved to {d.move_to} ({d.reason})"
        stopped = _set_state(session, _current(session, d, exclude=d.move_to), EnrollmentState.stopped, why, now)
        if d.kind == "move":
            return "pending", {"move_to": d.move_to, "stopped": stopped}
        return "done", {"stopped": stopped}
    if d.kind == "pause":
        until = None if d.pause_for is None else now + d.pause_for
        rows = [e for e in _current(session, d) if e.state == EnrollmentState.active]
        return "done", {"paused": _set_state(session, rows, EnrollmentState.paused, d.reason, now, until)}
    if d.kind == "hot":
        prospect = session.get(Prospect, d.prospect_id)
        if prospect is not None and not prospect.hot:
            prospect.hot, prospect.updated_at = True, now
        return "done", {}
    if d.kind == "webhook":
        assert d.webhook is not None
        session.add(WebhookDelivery(key=d.key, webhook=d.webhook, body=_payload(session, d), next_attempt_at=now,
                                    created_at=now))
        return "done", {"webhook": d.webhook}
    raise ValueError(f"unknown action {d.kind}")


def _live(session: Session, prospect_ids: list[int | None]) -> list[Enrollment]:
    ids = [i for i in prospect_ids if i is not None]
    if not ids:
        return []
    return list(session.scalars(select(Enrollment).where(col(Enrollment.prospect_id).in_(ids),
                                                         col(Enrollment.state).in_(LIVE))))


def _current(session: Session, d: Decision, exclude: str | None = None) -> list[Enrollment]:
    """The triggering event's enrollment when it names one, else every live one of the prospect."""
    rows = _live(session, [d.prospect_id])
    if d.event.enrollment_id is not None:
        rows = [e for e in rows if e.id == d.event.enrollment_id]
    return [e for e in rows if e.sequence_name != exclude]


def _set_state(session: Session, rows: list[Enrollment], state: str, reason: str, now: datetime,
               until: datetime | None = None) -> list[int]:
    for e in rows:
        e.state, e.reason, e.next_due_at, e.paused_until, e.updated_at = state, reason[:1000], None, until, now
    return [e.id for e in rows if e.id is not None]


def _payload(session: Session, d: Decision) -> str:
    p = session.get(Prospect, d.prospect_id)
    text = d.event.data.get("text")
    if text is None and p is not None:  # the latest reply gives the escalation its context
        text = session.scalars(select(Event.data).where(col(Event.prospect_id) == d.prospect_id,
                                                        col(Event.type) == ev.REPLIED)
                               .order_by(col(Event.id).desc()).limit(1)).first() or {}
        text = text.get("text") if isinstance(text, dict) else None
    prospect = None if p is None else {
        "id": p.id, "email": p.email, "first_name": p.first_name, "last_name": p.last_name, "company": p.company,
        "company_domain": p.company_domain, "title": p.title, "source": p.source, "hot": p.hot or d.kind == "hot"}
    account = None if not (p and p.company_domain) else {"domain": p.company_domain.lower(), "score": round(d.account_score, 4)}
    body = {"rule": d.rule, "reason": d.reason, "prospect": prospect, "account": account,
            "score": round(d.score, 4),
            "event": {"id": d.event.id, "type": d.event.type, "at": d.event.at.isoformat(),
                      "enrollment_id": d.event.enrollment_id,
                      "data": {k: v for k, v in d.event.data.items() if k != "text"}},
            "reply_text": text}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def finish_moves(engine: Engine, sequences: Mapping[str, Sequence], now: datetime) -> int:
    """Enrolls prospects whose move is pending; returns how many moves were finished."""
    with session_scope(engine) as session:
        pending = list(session.scalars(select(ScoringAction).where(col(ScoringAction.kind) == "move",
                                                                   col(ScoringAction.state) == "pending")))
    finished = 0
    for action in pending:
        target = str(action.detail.get("move_to"))
        seq = sequences.get(target)
        if seq is None or action.prospect_id is None:
            state, detail = "failed", {**action.detail, "error": f"no sequence named {target!r} in the workspace"}
        else:
            res = enroll(engine, seq, [action.prospect_id], now=now)
            state = "done"
            detail = {**action.detail, "enrolled": res.enrolled + res.blocked, "already": res.already,
                      "skipped": [r for _, r in res.skipped]}
            finished += 1
        with session_scope(engine) as session:
            row = session.get(ScoringAction, action.id)
            if row is not None:
                row.state, row.detail, row.done_at = state, detail, now
    return finished
