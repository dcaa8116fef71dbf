"""Scoring rules on a reply's intent: ``when: {event: replied, intent: [...]}``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from outbound.core import events as ev
from outbound.inbox.intent import INTENTS
from outbound.scoring.rules import EventView, ProspectChange, evaluate
from outbound.scoring.spec import REPLY_INTENTS, ScoringSpec

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_rule_matches_the_replies_of_its_intents() -> None:
    spec = ScoringSpec.model_validate({"rules": [
        {"name": "meetings", "when": {"event": "replied", "intent": ["meeting_request", "interested"]}, "hot": True}]})
    events = [EventView(1, ev.REPLIED, T0, 7, 70, {"intent": "later"}),
              EventView(2, ev.REPLIED, T0, 7, 70, {"intent": "meeting_request", "positive": True})]
    got = evaluate(spec.rules, ProspectChange(7, None, before=0, after=15, events=events))
    assert [(d.rule, d.event.id) for d in got] == [("meetings", 2)]


def test_intent_conditions_are_checked() -> None:
    with pytest.raises(ValidationError, match="unknown intent 'meeting'"):
        ScoringSpec.model_validate({"rules": [{"name": "x", "when": {"event": "replied", "intent": "meeting"},
                                               "hot": True}]})
    with pytest.raises(ValidationError, match="only applies to event: replied"):
        ScoringSpec.model_validate({"rules": [{"name": "x", "when": {"event": "opened", "intent": "interested"},
                                               "hot": True}]})
    assert REPLY_INTENTS == INTENTS
