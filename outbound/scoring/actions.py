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
from sqlmodel import Session

from outbound.core import events as ev
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import RuleAction
from outbound.scoring.rules import Decision
from outbound.spec.sequence import Sequence
from outbound.store import scoring_actions as actions_store
from outbound.store.effects import Subject, apply
from outbound.store.enrollments import enroll


def carry_out(session: Session, decisions: list[Decision], now: datetime) -> list[Decision]:
    """Applies the decisions not taken before; returns those newly taken."""
    if not decisions:
        return []
    done = actions_store.taken_keys(session, [d.key for d in decisions])
    taken: list[Decision] = []
    for d in decisions:
        if d.key in done:
            continue
        done.add(d.key)
        state, detail = _do(session, d, now)
        actions_store.keep(session, actions_store.Taken(d.key, d.rule, d.kind, d.subject_kind, d.subject, d.prospect_id,
                                                        d.event.id, d.reason, state, detail), now)
        if d.kind == "resume" and not detail.get("changed"):
            continue  # the awaited event came for someone nothing waited for: kept (once), not reported
        taken.append(d)
    session.flush()
    return taken


def _do(session: Session, d: Decision, now: datetime) -> tuple[str, dict[str, Any]]:
    if d.kind in ("stop", "pause", "stop_account", "move", "enroll", "resume"):
        until = None if d.pause_for is None else now + d.pause_for
        fact = RuleAction(d.kind, d.reason, d.prospect_id, now, enrollment_id=d.event.enrollment_id,  # type: ignore[arg-type]
                          pause_until=until, account=d.subject if d.subject_kind == "account" else None, move_to=d.move_to,
                          keep_current=d.keep_current, until_event=d.until_event)
        subject = Subject(prospect_id=d.prospect_id, enrollment_id=d.event.enrollment_id,
                          company_domain=d.subject if d.subject_kind == "account" else None)
        applied = apply(session, decide(fact), subject, now)
        detail: dict[str, Any] = {"changed": applied.moved}
        if d.kind in ("move", "enroll"):
            return "pending", {"move_to": d.move_to, **detail}
        return "done", detail
    if d.kind == "hot":
        actions_store.mark_hot(session, d.prospect_id, now)
        return "done", {}
    if d.kind == "webhook":
        assert d.webhook is not None
        actions_store.queue_webhook(session, d.key, d.webhook, _payload(session, d), now)
        return "done", {"webhook": d.webhook}
    raise ValueError(f"unknown action {d.kind}")


def _payload(session: Session, d: Decision) -> str:
    prospect = actions_store.prospect_view(session, d.prospect_id)
    # The reply gives the escalation its context: the triggering one, else the prospect's latest
    # (a score crossed by a click after a reply still says what the person wrote and wants).
    reply = dict(d.event.data) if d.event.type == ev.REPLIED else {}
    if not reply and prospect is not None:
        reply = actions_store.latest_reply(session, d.prospect_id)
    text = d.event.data.get("text", reply.get("text"))
    if prospect is not None:
        prospect["hot"] = prospect["hot"] or d.kind == "hot"
    domain = prospect.get("company_domain") if prospect else None
    account = None if not domain else {"domain": str(domain).lower(), "score": round(d.account_score, 4)}
    body = {"rule": d.rule, "reason": d.reason, "prospect": prospect, "account": account,
            "score": round(d.score, 4),
            "event": {"id": d.event.id, "type": d.event.type, "at": d.event.at.isoformat(),
                      "enrollment_id": d.event.enrollment_id,
                      "data": {k: v for k, v in d.event.data.items() if k != "text"}},
            "reply_text": text, "intent": reply.get("intent"), "referral": reply.get("referral")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def finish_moves(engine: Engine, sequences: Mapping[str, Sequence], now: datetime) -> int:
    """Enrolls prospects whose move is pending; returns how many moves were finished."""
    finished = 0
    for action in actions_store.pending_moves(engine):
        seq = sequences.get(action.move_to)
        if seq is None or action.prospect_id is None:
            state, detail = "failed", {**action.detail, "error": f"no sequence named {action.move_to!r} in the workspace"}
        else:
            res = enroll(engine, seq, [action.prospect_id], now=now)
            state = "done"
            detail = {**action.detail, "enrolled": res.enrolled + res.blocked, "already": res.already,
                      "skipped": [r for _, r in res.skipped]}
            finished += 1
        actions_store.settle(engine, action.id, state, detail, now)
    return finished
