"""A person corrects a reply's intent: the event says the corrected intent and tone from then on, and a
score that already counted the reply is moved by the difference, so scores and reports use the correction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from outbound.core import events as ev
from outbound.rulebook.decide import decide, reply_tone
from outbound.rulebook.facts import OptOut
from outbound.scoring.apply import WATERMARK
from outbound.scoring.decay import Decayed, weight_of
from outbound.scoring.spec import REPLY_INTENTS, ScoringSpec
from outbound.store import scores as score_store
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply
from outbound.store.reply_intent import reply_event, set_data
from outbound.store.scores import Key


class IntentError(ValueError):
    """The event or the intent is not one that can be corrected (the message says why)."""


@dataclass
class Corrected:
    event_id: int
    was: str | None
    now: str
    score_delta: float = 0.0
    actions: list[str] = field(default_factory=list)


def set_intent(engine: Engine, spec: ScoringSpec, event_id: int, intent: str, now: datetime,
               by: str = "hand") -> Corrected:
    if intent not in REPLY_INTENTS:
        raise IntentError(f"unknown intent {intent!r}; expected one of: {', '.join(REPLY_INTENTS)}")
    with session_scope(engine) as session:
        last_scored = score_store.lock_watermark(session, WATERMARK, now)  # no score pass meanwhile
        event = reply_event(session, event_id)
        if event is None:
            raise IntentError(f"no event {event_id}")
        if event.type != ev.REPLIED:
            raise IntentError(f"event {event_id} is {event.type!r}, not a reply")
        was = event.data.get("intent")
        data = {**event.data, "intent": intent, "positive": reply_tone(intent), "intent_set_by": by,
                "intent_was": event.data.get("intent_was", was)}
        done = Corrected(event_id, was if isinstance(was, str) else None, intent)
        delta = weight_of(ev.REPLIED, data, spec.weights) - weight_of(ev.REPLIED, event.data, spec.weights)
        if event.id <= last_scored and delta and event.prospect_id is not None:
            keys: list[Key] = [("prospect", str(event.prospect_id))]
            if event.company_domain:
                keys.append(("account", event.company_domain))
            stored = score_store.load_scores(session, set(keys))
            hl = spec.half_life.total_seconds()
            updates, inserts = [], []
            for key in keys:
                if key in stored:
                    row_id, value, at = stored[key]
                    moved = Decayed(value, at).add(delta, event.at, hl)
                    updates.append((row_id, moved.value, moved.ref))
                else:
                    inserts.append((key, delta, event.at))
            score_store.save_scores(session, updates, inserts)
            done.score_delta = delta
        set_data(session, event_id, data)
        if intent == "do_not_contact" and event.email:
            # "do not contact" has an unsubscribe's effects by whatever path it is known
            fact = OptOut(event.email, "hand", now, event.prospect_id, mailbox=event.mailbox, by=by)
            subject = Subject(prospect_id=event.prospect_id, enrollment_id=event.enrollment_id, send_id=event.send_id,
                              mailbox=event.mailbox)
            done.actions = apply(session, decide(fact), subject, now, key=f"intent:{event_id}:do_not_contact",
                                 extra={"how": "hand", "intent": intent, "reply_event": event_id}).actions
    return done
