"""A workspace's own event types (CRM signals) in scoring.yaml: accepted by the CRM rows, weighed, named in rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from outbound.core import events as ev
from outbound.scoring.decay import weight_of
from outbound.scoring.outcomes_in import Accepted, make_row, parse_file
from outbound.scoring.spec import check_scoring_file, load_scoring

T0 = datetime(2026, 12, 1, tzinfo=UTC)
OWN = """event_types:
  job_change: {fields: [company, title]}
  funding_round: {fields: [amount]}
weights:
  job_change: 12
rules:
  - name: back
    when: {event: job_change}
    resume: true
  - name: parked
    when: {ghosted: true}
    pause: {until_event: funding_round}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "scoring.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "scoring.yaml"


def test_own_types_join_the_derived_lists_weights_and_rules(tmp_path: Path) -> None:
    _write(tmp_path, OWN)
    spec = load_scoring(tmp_path)
    assert spec.catalogue.all[-2:] == ("job_change", "funding_round")
    assert set(spec.catalogue.crm_types) == {*ev.CRM_TYPES, "job_change", "funding_round"}
    assert "job_change" in spec.scored_types and "funding_round" in spec.scored_types
    assert weight_of("job_change", {}, spec.weights) == 12 and weight_of("funding_round", {}, spec.weights) == 0
    assert "job_change" not in ev.ALL, "the built-in lists stay as defined"
    accepted = Accepted.of(spec.catalogue, spec.custom_types)
    row = make_row({"email": "A@x.test", "type": "job_change", "company": "Newco", "extra": "no"}, 3, T0, accepted)
    assert (row.email, row.type, row.data) == ("a@x.test", "job_change", (("company", "Newco"),))
    with pytest.raises(ValueError, match="'job_change' is not one of"):
        make_row({"email": "a@x.test", "type": "job_change"}, 1, T0)   # not without the workspace's types
    csv = tmp_path / "rows.csv"
    csv.write_text("email,type,at,amount\na@x.test,funding_round,2026-12-01,5M\nb@x.test,job_chnge,,\n")
    rows, problems = parse_file(csv, T0, accepted)
    assert [(r.type, r.data) for r in rows] == [("funding_round", (("amount", "5M"),))]
    assert [(p.line, p.message.split(" is not")[0]) for p in problems] == [(3, "type 'job_chnge'")]


@pytest.mark.parametrize(("text", "where", "message"), [
    ("event_types:\n  replied: {fields: [x]}\n", ":2:", "'replied' is built in"),
    ("event_types:\n  Job-Change: {}\n", ":2:", "lower-case letters"),
    ("event_types:\n  job_change: {fields: [email]}\n", ":2:", "not email, type, at, note or by"),
    ("event_types:\n  job_change: {}\nrules:\n  - name: r\n    when: {event: job_chang}\n    hot: true\n", ":5:",
     "did you mean 'job_change'?"),
    ("weights:\n  job_change: 3\n", ":2:", "unknown key 'weights.job_change'"),
])
def test_own_type_mistakes_have_their_line(tmp_path: Path, text: str, where: str, message: str) -> None:
    problems = [str(p) for p in check_scoring_file(_write(tmp_path, text))]
    assert any(where in p and message in p for p in problems), problems


def test_wilson_interval_matches_known_values() -> None:
    from outbound.reports.stats import wilson

    assert wilson(0, 0) is None
    lo, hi = wilson(5, 10) or (0, 0)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10) or (1, 1)
    assert lo == 0.0 and round(hi, 4) == 0.2775
    lo, hi = wilson(10, 10) or (0, 0)
    assert round(lo, 4) == 0.7225 and hi == 1.0
    lo, hi = wilson(81, 263) or (0, 0)   # the textbook example (Wilson 1927 / Newcombe 1998): 0.2553-0.3662
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
