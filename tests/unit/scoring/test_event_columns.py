"""What scoring.yaml and the report take from the event definitions: weight keys, outcome columns, complaints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from outbound.core import events as ev
from outbound.reports import queries
from outbound.reports.html import metrics_head, metrics_rows
from outbound.reports.queries import EventRow, SendRow
from outbound.scoring.spec import DEFAULT_POINTS, REPLY_TONES, ScoringSpec, Weights, check_scoring_file, weights_model

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]
ARF = {"kind": "complaint", "via": "message-id"}   # as the inbox records an ARF report
CRM = {"by": "import"}                              # as events add/import record a row


def test_weight_keys_are_the_weighable_types_and_the_reply_tones() -> None:
    keys = list(Weights.model_fields)
    assert set(keys) == set(ev.WEIGHABLE) | set(REPLY_TONES)
    assert keys[keys.index(ev.REPLIED) + 1:][:2] == list(REPLY_TONES), "the tones follow replied"
    assert set(DEFAULT_POINTS) <= set(ev.WEIGHABLE), "a default for a type that cannot be weighed"
    assert Weights().complained == -50.0 and Weights().sent == 0.0
    for shipped in (ROOT / "scoring.yaml", ROOT / "outbound" / "workspace_template" / "scoring.yaml"):
        assert check_scoring_file(shipped) == [], shipped


def test_a_weighable_type_added_to_a_copy_of_the_definitions_is_a_weight_key() -> None:
    extra = ev.EventType("demo_signal", "outcome", ("by",), "{by}:{email}:demo_signal:{at}", crm=True,
                         weighable=True, report=None, doc="test")
    model = weights_model(ev.catalogue({**ev.DEFINITIONS, extra.name: extra}).weighable)
    assert model.model_validate({"demo_signal": 2}).demo_signal == 2  # type: ignore[attr-defined]
    assert model().demo_signal == 0.0, "no default points: weighs 0 until scoring.yaml says"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="demo_signal"):
        Weights.model_validate({"demo_signal": 2})


def test_a_mistyped_rule_event_gets_a_suggestion() -> None:
    with pytest.raises(ValidationError, match=r"unknown event type 'complaind'; did you mean 'complained'\?"):
        ScoringSpec.model_validate({"rules": [{"name": "a", "when": {"event": "complaind"}, "stop": True}]})
    with pytest.raises(ValidationError, match="expected one of: auto_replied, bounced"):
        ScoringSpec.model_validate({"rules": [{"name": "a", "when": {"event": "teleported"}, "stop": True}]})


def test_the_outcome_columns_follow_the_report_labels() -> None:
    assert [(c.key, c.header, c.rate_key) for c in queries.COLUMNS] == [
        (ev.BOUNCED, "bounce %", "bounce_rate"), (ev.REPLIED, "reply %", "reply_rate"),
        ("positive", "positive %", "positive_rate"), (ev.UNSUBSCRIBED, "unsubscribe %", "unsubscribe_rate"),
        (ev.COMPLAINED, "complaint %", "complaint_rate")]
    demo = queries.columns({**ev.REPORT_COLUMNS, "demo_signal": "demo"})
    assert demo[-1] == queries.Column("demo_signal", "demo") and demo[:-1] == queries.COLUMNS
    assert metrics_head("step", demo)[-1] == "demo %"


def _send(sid: int, pid: int, at: datetime, step: str = "intro") -> SendRow:
    return (sid, pid * 10, pid, "s", step, None, "m@x.test", at, at)


def _sent(sid: int, pid: int, at: datetime) -> EventRow:
    return (ev.SENT, at, pid, pid * 10, sid, {})


def test_unsubscribes_and_complaints_count_from_every_path_once_per_send() -> None:
    later = T + timedelta(hours=5)
    sends = [_send(i, i, T) for i in range(1, 8)] + [_send(8, 8, T + timedelta(days=2)),
                                                     _send(9, 9, T), _send(10, 9, T + timedelta(days=3), "bump")]
    events: list[EventRow] = [_sent(i, i, T) for i in range(1, 7)] + [
        (ev.BOUNCED, T, 7, 70, 7, {"hard": True}), _sent(8, 8, T + timedelta(days=2)), _sent(9, 9, T),
        _sent(10, 9, T + timedelta(days=3)),
        (ev.COMPLAINED, later, 1, 10, 1, ARF),                  # ARF report through the inbox
        (ev.COMPLAINED, later, 2, None, None, CRM),             # from a CRM: tied to the prospect's send
        (ev.UNSUBSCRIBED, later, 3, 30, 3, {"via": "one-click"}),   # link
        (ev.UNSUBSCRIBED, later, 4, 40, 4, {"how": "reply"}),      # reply
        (ev.UNSUBSCRIBED, later, 5, None, None, CRM),              # CRM
        # every path for one send: still one unsubscribe and one complaint
        (ev.UNSUBSCRIBED, later, 6, 60, 6, {"via": "page"}), (ev.UNSUBSCRIBED, later, 6, 60, 6, {"how": "reply"}),
        (ev.UNSUBSCRIBED, later, 6, None, None, CRM), (ev.COMPLAINED, later, 6, 60, 6, ARF),
        (ev.COMPLAINED, later, 6, None, None, CRM),
        (ev.COMPLAINED, later, 7, None, None, CRM),             # on a bounced send: not delivered, not counted
        (ev.COMPLAINED, T, 8, None, None, CRM),                 # before the prospect's only send: answers none
        (ev.COMPLAINED, T + timedelta(days=1), 9, None, None, CRM),  # the intro's, not the later bump's
    ]
    facts = queries.tie(events, sends, {}, {"(none)": 9})
    total = queries.grouped(facts, "sequence")["s"]
    assert (total.sent, total.delivered, total.bounced) == (10, 9, 1)
    got = total.as_json()
    assert (got["complained"], got["unsubscribed"]) == (4, 4)
    assert got["complaint_rate"] == pytest.approx(4 / 9) and got["unsubscribe_rate"] == pytest.approx(4 / 9)
    assert got["bounce_rate"] == pytest.approx(1 / 10)
    by_step = queries.grouped(facts, "step")
    assert by_step["s/intro"].counts[ev.COMPLAINED] == 4 and by_step["s/bump"].counts[ev.COMPLAINED] == 0
    head, row = metrics_head("sequence"), metrics_rows({"s": total})[0]
    assert row[head.index("complaint %")] == "44.4% (4)" and row[head.index("bounce %")] == "10.0% (1)"


def test_positive_replies_and_an_empty_group() -> None:
    events: list[EventRow] = [_sent(1, 1, T), _sent(2, 2, T),
                              (ev.REPLIED, T + timedelta(hours=1), 1, None, None, {"positive": True}),
                              (ev.REPLIED, T + timedelta(hours=1), 2, 20, 2, {"positive": None})]
    m = queries.grouped(queries.tie(events, [_send(1, 1, T), _send(2, 2, T)], {}, {}), "sequence")["s"]
    assert (m.replied, m.counts["positive"]) == (2, 1)
    empty = queries.Metrics()
    assert empty.as_json()["complaint_rate"] is None
    assert metrics_rows({"x": empty})[0][3:] == ["-"] * len(queries.COLUMNS)


def test_report_by_reply_intent() -> None:
    events: list[EventRow] = [_sent(1, 1, T), _sent(2, 2, T), _sent(3, 3, T),
                              (ev.REPLIED, T + timedelta(hours=1), 1, None, 1, {"intent": "interested", "positive": True}),
                              (ev.REPLIED, T + timedelta(hours=1), 2, None, 2, {"positive": None})]
    by = queries.grouped(queries.tie(events, [_send(1, 1, T), _send(2, 2, T), _send(3, 3, T)], {}, {}), "intent")
    assert {k: (m.sent, m.replied, m.counts["positive"]) for k, m in by.items()} == {
        "interested": (1, 1, 1), "unknown": (1, 1, 0), "(no reply)": (1, 0, 0)}

