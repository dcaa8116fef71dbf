"""Pure scoring logic: decay, weights, rule evaluation, scoring.yaml problems, statistics, signing, outcome rows."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import pytest

from outbound.core import events as ev
from outbound.errors import WorkspaceError
from outbound.reports.html import ALERT, bar_chart, date_ticks, line_chart, nice_ceiling, stacked_bars
from outbound.reports.stats import two_proportion_z
from outbound.scoring.decay import Decayed, weight_of
from outbound.scoring.outcomes_in import parse_file
from outbound.scoring.rules import EventView, ProspectChange, evaluate
from outbound.scoring.spec import ScoringSpec, Weights, check_scoring_file, load_scoring
from outbound.scoring.webhooks import backoff, sign, verify
from tests.fixtures.common import DATA

T0 = datetime(2026, 12, 1, tzinfo=UTC)
HL = 86400.0


def test_decay_in_any_order_matches_the_definition() -> None:
    rng = random.Random(3)
    events = [(rng.uniform(-20, 20), T0 + timedelta(hours=rng.uniform(-200, 200))) for _ in range(200)]
    state: Decayed | None = None
    for w, at in events:
        state = Decayed(w, at) if state is None else state.add(w, at, HL)
    assert state is not None
    when = T0 + timedelta(days=10)
    want = sum(w * 0.5 ** ((when - at).total_seconds() / HL) for w, at in events)
    assert state.at(when, HL) == pytest.approx(want, rel=1e-9)
    assert state.ref == max(at for _, at in events)
    assert Decayed(8.0, T0).at(T0 + timedelta(days=3), HL) == pytest.approx(1.0)


def test_weights_by_reply_tone_and_machine_opens() -> None:
    w = Weights()
    assert weight_of(ev.REPLIED, {"positive": True}, w) == w.replied_positive
    assert weight_of(ev.REPLIED, {"positive": False}, w) == w.replied_negative
    assert weight_of(ev.REPLIED, {}, w) == w.replied
    assert weight_of(ev.OPENED, {"machine": True}, w) == 0 and weight_of(ev.OPENED, {}, w) == w.opened
    assert weight_of(ev.STEP_SKIPPED, {}, w) == 0 and weight_of(ev.WON, None, w) == w.won


def _event(i: int, kind: str, **data: object) -> EventView:
    return EventView(i, kind, T0, 7, 70, dict(data))


def test_score_rules_fire_on_crossing_and_event_rules_on_each_match() -> None:
    spec = ScoringSpec.model_validate({"rules": [
        {"name": "warm", "when": {"score_at_least": 10}, "hot": True, "webhook": "crm"},
        {"name": "positive", "when": {"event": "replied", "positive": True, "account_score_at_least": 5}, "stop": True},
    ], "webhooks": {"crm": {"url": "https://x.test/h"}}})
    crossing = ProspectChange(7, "acme.test", before=4, after=12, account_before=4, account_after=12,
                              events=[_event(1, ev.OPENED), _event(2, ev.REPLIED, positive=True)])
    got = evaluate(spec.rules, crossing)
    assert [(d.rule, d.kind, d.event.id) for d in got] == [("warm", "hot", 2), ("warm", "webhook", 2), ("positive", "stop", 2)]
    assert got[0].key == "warm:hot:prospect:7:2" and "score 12.0 >= 10" in got[0].reason
    assert "replied (positive)" in got[2].reason and "account acme.test score 12.0 >= 5" in got[2].reason
    above_already = ProspectChange(7, None, before=11, after=13, events=[_event(3, ev.OPENED)])
    assert evaluate(spec.rules, above_already) == [], "no second fire while it stays above"
    negative = ProspectChange(7, None, before=0, after=0, account_after=100, events=[_event(4, ev.REPLIED, positive=False)])
    assert evaluate(spec.rules, negative) == []


def test_scoring_file_problems_have_lines() -> None:
    problems = [str(p).split("scoring/")[1] for p in check_scoring_file(DATA / "scoring" / "bad_scoring.yaml")]
    assert "bad_scoring.yaml:1:1: half_life: half_life must be longer than zero" in problems
    assert "bad_scoring.yaml:3:3: unknown key 'weights.replyed'; did you mean 'replied'?" in problems
    assert any(p.startswith("bad_scoring.yaml:9:5: rules[1]: give either pause or stop") for p in problems)
    assert any("unknown event type 'teleported'" in p and p.startswith("bad_scoring.yaml:14:") for p in problems)
    assert any(p.startswith("bad_scoring.yaml:17:") and "needs an event or a score condition" in p for p in problems)
    assert any("secret_env is the NAME" in p for p in problems) and any("url starts with http" in p for p in problems)
    cross = [str(p).split("scoring/")[1] for p in check_scoring_file(DATA / "scoring" / "cross_scoring.yaml", {"main"})]
    assert cross == ["cross_scoring.yaml:4:5: rules[0].webhook: no webhook named 'slack' (known: crm)",
                     "cross_scoring.yaml:5:5: rules[1].name: rule 'a' is defined twice",
                     "cross_scoring.yaml:7:5: rules[1].move_to: no sequence named 'nowhere'"]
    assert check_scoring_file(DATA / "scoring" / "missing.yaml") == []


def test_load_scoring_defaults_and_errors(tmp_path: Path) -> None:
    assert load_scoring(tmp_path) == ScoringSpec()
    (tmp_path / "scoring.yaml").write_text("half_life: 12h\nsources: {bought: {cost_per_lead: 2.5}}\n")
    spec = load_scoring(tmp_path)
    assert spec.half_life == timedelta(hours=12) and spec.sources["bought"].cost_per_lead == 2.5
    (tmp_path / "scoring.yaml").write_text("half_life: soon\n")
    with pytest.raises(WorkspaceError, match=r"scoring.yaml:1:1: half_life"):
        load_scoring(tmp_path)


def test_two_proportion_z_test() -> None:
    t = two_proportion_z(10, 100, 25, 100)
    assert t is not None
    pooled = 35 / 200
    z = (0.25 - 0.10) / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert t.z == pytest.approx(z) and t.difference == pytest.approx(0.15)
    assert t.p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)), rel=1e-9)
    assert 0.005 < t.p_value < 0.0055  # z = 2.79
    same = two_proportion_z(5, 50, 5, 50)
    assert same is not None and same.p_value == pytest.approx(1.0)
    assert two_proportion_z(0, 0, 1, 10) is None


def test_signature_and_backoff() -> None:
    body = b"what do ya want for nothing?"
    header = sign(b"Jefe", body)  # RFC 4231 test case 2
    assert header == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert verify(b"Jefe", body, header) and not verify(b"Jefe", body + b" ", header)
    assert not verify(b"other", body, header) and not verify(b"Jefe", body, None)
    hook = ScoringSpec.model_validate({"webhooks": {"h": {"url": "http://x.test", "backoff": "30s"}}}).webhooks["h"]
    assert [backoff(hook, n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(hook, 40) == timedelta(hours=6)


def test_outcome_rows_report_bad_lines() -> None:
    rows, problems = parse_file(DATA / "scoring" / "outcomes.csv", T0)
    assert [(r.email, r.type, r.line) for r in rows] == [
        ("ann@acme.test", "qualified", 2), ("ben@acme.test", "meeting_booked", 3), ("nobody@acme.test", "won", 4),
        ("ann@acme.test", "won", 7)]
    assert rows[3].at == datetime(2026, 12, 4, 8, 0, tzinfo=UTC) and rows[0].note == "good call"
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [(5, "type"), (6, "'yesterday'")]


def test_charts_are_svg_with_one_shape_per_value() -> None:
    svg = bar_chart("f", "Funnel <x>", {"contacted": 10, "replied": 3})
    assert svg.count("<rect") == 2 and "Funnel &lt;x&gt;" in svg and svg.startswith("<svg")
    lines = line_chart("l", "t", {"a": {"2026-12-01": 1.0, "2026-12-02": 3.0}, "b": {"2026-12-02": 2.0}})
    assert lines.count("<polyline") == 2 and lines.count("<circle") == 3
    assert ALERT not in svg + lines, "red is kept for what is wrong"


def test_a_two_percent_bounce_rate_is_not_flat_on_the_axis() -> None:
    assert [nice_ceiling(v) for v in (0.0, 0.013, 0.02, 0.031, 0.5, 7, 130)] == [1.0, 0.02, 0.02, 0.05, 0.5, 10, 200]
    svg = line_chart("b", "bounces", {"s1.test": {"2026-12-01": 0.01, "2026-12-02": 0.025}}, percent=True,
                     threshold=0.02)
    assert ">5.0%<" in svg and ">100.0%<" not in svg, "the axis tops at 5 %, not 100 %"
    assert ALERT in svg and "pause at 2.0%" in svg


def test_days_are_labelled_and_stacked_bars_do_not_overlap() -> None:
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    ticks = date_ticks(days)
    assert len(ticks) == 8 and ticks[0] == days[0] and ticks[-1] == days[-1]
    svg = stacked_bars("s", "sends", {"a@x": {"2026-11-01": 3, "2026-11-02": 1}, "b@x": {"2026-11-01": 2}})
    assert svg.count("<rect") == 3 + 2, "one rect per non-zero day and mailbox, plus a legend swatch each"
    assert ">Nov 01<" in svg and ">Nov 02<" in svg
    bars = {m.group(5): (float(m.group(2)), float(m.group(4))) for m in re.finditer(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="[^"]+"><title>([^<]+)</title>', svg)}
    (a_y, _a_h), (b_y, b_h) = bars["a@x 2026-11-01: 3"], bars["b@x 2026-11-01: 2"]
    assert b_y + b_h == pytest.approx(a_y, abs=0.11), "b's bar sits on a's, not over it"
