"""Scores and rules through the real store (SQLite and PostgreSQL), webhooks to a loopback HTTP server."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.scoring.apply import read_scores, rebuild_scores, score_pass
from outbound.scoring.job import run_scoring
from outbound.scoring.spec import ScoringSpec, load_scoring
from outbound.store.db import open_store, session_scope
from outbound.store.scoring_tables import ScoringAction, WebhookDelivery
from outbound.store.tables import Account, Enrollment, EnrollmentState, Prospect
from tests.integration.scoring.helpers import Hook, add_events, add_people, sequence, webhook_server

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KINDS = [ev.SENT, ev.REPLIED, ev.AUTO_REPLIED, ev.BOUNCED, ev.OPENED, ev.CLICKED, ev.QUALIFIED, ev.MEETING_BOOKED,
         ev.WON, ev.LOST, ev.UNSUBSCRIBED, ev.COMPLAINED, ev.STEP_SKIPPED]


def _random_events(rng: random.Random, ids: list[int], n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for _ in range(n):
        kind = rng.choice(KINDS)
        data: dict[str, object] = {}
        if kind == ev.REPLIED:
            data["positive"] = rng.choice([True, False, None])
        if kind == ev.OPENED:
            data["machine"] = rng.random() < 0.3
        rows.append({"type": kind, "at": T0 + timedelta(hours=rng.uniform(-400, 400)), "prospect_id": rng.choice(ids),
                     "data": data})
    return rows


def _expected(spec: ScoringSpec, rows: list[dict[str, object]], domain_of: dict[int, str | None], now: datetime
              ) -> tuple[dict[str, float], dict[str, float]]:
    """The scores as of ``now``, straight from the definition (sum of decayed weights)."""
    w, hl = spec.weights, spec.half_life.total_seconds()
    prospects: dict[str, float] = {}
    accounts: dict[str, float] = {}
    for r in rows:
        kind, data = str(r["type"]), r["data"]
        assert isinstance(data, dict)
        if kind == ev.REPLIED:
            weight = {True: w.replied_positive, False: w.replied_negative}.get(data["positive"], w.replied)
        elif kind == ev.OPENED and data.get("machine"):
            weight = 0.0
        else:
            weight = getattr(w, kind, 0.0) if kind in type(w).model_fields else 0.0
        if weight == 0:
            continue
        at = r["at"]
        assert isinstance(at, datetime)
        value = weight * 0.5 ** ((now - at).total_seconds() / hl)
        pid = r["prospect_id"]
        assert isinstance(pid, int)
        prospects[str(pid)] = prospects.get(str(pid), 0.0) + value
        if domain_of[pid]:
            accounts[str(domain_of[pid])] = accounts.get(str(domain_of[pid]), 0.0) + value
    return prospects, accounts


def test_incremental_scores_equal_rebuild_and_definition(database_url: str) -> None:
    engine = open_store(database_url)
    rng = random.Random(5)
    emails = [f"p{i}@c{i % 7}.test" for i in range(60)]
    domains = {e: (f"c{i % 7}.test" if i % 5 else "") for i, e in enumerate(emails)}
    ids = add_people(engine, emails, domain_of={k: v for k, v in domains.items() if v})
    spec = ScoringSpec.model_validate({"half_life": "5d", "weights": {"sent": 0.5}})
    all_rows: list[dict[str, object]] = []
    touched_per_pass = []
    for _ in range(4):  # events arrive between passes, out of time order
        rows = _random_events(rng, list(ids.values()), 300)
        add_events(engine, rows)
        all_rows += rows
        result = score_pass(engine, spec, T0, batch_size=97)
        assert result.events == sum(1 for r in rows if r["type"] != ev.STEP_SKIPPED), "unscored types are not read"
        touched_per_pass.append(result.changed_prospects)
    assert score_pass(engine, spec, T0).events == 0, "a second pass finds nothing new"
    incremental = read_scores(engine, "prospect"), read_scores(engine, "account")
    rebuilt = rebuild_scores(engine, spec, T0, batch_size=1000)
    assert rebuilt.events == sum(1 for r in all_rows if r["type"] != ev.STEP_SKIPPED)
    again = read_scores(engine, "prospect"), read_scores(engine, "account")
    assert incremental == again, "incremental updates give exactly the rebuilt table"

    hl = spec.half_life.total_seconds()
    later = T0 + timedelta(days=40)
    by_id = {v: domains[k] or None for k, v in ids.items()}
    want_p, want_a = _expected(spec, all_rows, by_id, later)
    got_p = {k: v.at(later, hl) for k, v in again[0].items()}
    got_a = {k: v.at(later, hl) for k, v in again[1].items()}
    assert set(got_p) == set(want_p) and set(got_a) == set(want_a)
    for k, v in want_p.items():
        assert got_p[k] == pytest.approx(v, rel=1e-9, abs=1e-9)
    for k, v in want_a.items():
        assert got_a[k] == pytest.approx(v, rel=1e-9, abs=1e-9)
    assert all(0 < n <= len(ids) for n in touched_per_pass)


SCORING_YAML = """\
half_life: 30d
weights: {{opened: 2}}
rules:
  - name: hot-reply
    when: {{event: replied, positive: true}}
    hot: true
    move_to: fast-track
    webhook: crm
  - name: not-interested
    when: {{event: [replied], positive: false}}
    stop: true
  - name: out-of-office
    when: {{event: auto_replied}}
    pause: 3d
  - name: lost-account
    when: {{event: lost}}
    stop_account: true
  - name: warm
    when: {{score_at_least: 5}}
    webhook: crm
webhooks:
  crm: {{url: "{url}", secret_env: TEST_CRM_SECRET, backoff: 1m}}
"""


def test_rules_act_once_and_webhook_is_signed_and_retried(database_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    engine = open_store(database_url)
    main, fast = sequence("main"), sequence("fast-track")
    emails = ["hot@acme.test", "no@beta.test", "ooo@beta.test", "lost@gamma.test", "peer@gamma.test", "opens@delta.test"]
    ids = add_people(engine, emails, domain_of={e: e.split("@")[1] for e in emails}, seq=main, now=T0)
    with session_scope(engine) as s:
        enr = {e.prospect_id: e.id for e in s.exec(select(Enrollment))}
    hook = Hook(secret=b"s3cret-for-tests", fail_first=1)
    monkeypatch.setenv("TEST_CRM_SECRET", hook.secret.decode())
    with webhook_server(hook):
        (tmp_path / "scoring.yaml").write_text(SCORING_YAML.format(url=hook.url))
        spec = load_scoring(tmp_path, {"main", "fast-track"})
        reply = {"type": ev.REPLIED, "at": T0, "prospect_id": ids["hot@acme.test"], "enrollment_id": enr[ids["hot@acme.test"]],
                 "data": {"positive": True, "text": "Sounds great, let's talk Tuesday", "intent": "meeting_request",
                          "referral": {"email": "cto@acme.test", "name": "Jo Cto"}}}
        add_events(engine, [
            reply,
            {"type": ev.REPLIED, "at": T0, "prospect_id": ids["no@beta.test"], "data": {"positive": False}},
            {"type": ev.AUTO_REPLIED, "at": T0, "prospect_id": ids["ooo@beta.test"], "data": {}},
            {"type": ev.LOST, "at": T0, "prospect_id": ids["lost@gamma.test"], "data": {"note": "went elsewhere"}},
            {"type": ev.OPENED, "at": T0, "prospect_id": ids["opens@delta.test"], "data": {}},
        ])
        sequences = {"main": main, "fast-track": fast}
        first = run_scoring(engine, spec, sequences, T0)
        assert first.events == 5
        assert first.moves == 1
        # two webhooks are due (hot-reply; and warm, crossed by the positive reply's 15 points): the first call fails
        assert (first.webhooks.delivered, first.webhooks.retrying) == (1, 1)

        with session_scope(engine) as s:
            states = {(e.prospect_id, e.sequence_name): (e.state, e.reason, e.paused_until) for e in s.exec(select(Enrollment))}
            hot = s.get(Prospect, ids["hot@acme.test"])
            account = s.exec(select(Account).where(col(Account.domain) == "gamma.test")).one()
            actions = list(s.exec(select(ScoringAction)))
        assert hot is not None and hot.hot
        st, why, _ = states[(ids["hot@acme.test"], "main")]
        assert st == EnrollmentState.stopped and "moved to fast-track" in str(why)
        assert states[(ids["hot@acme.test"], "fast-track")][0] == EnrollmentState.active
        assert states[(ids["no@beta.test"], "main")][0] == EnrollmentState.stopped
        st, why, until = states[(ids["ooo@beta.test"], "main")]
        assert st == EnrollmentState.paused and until == T0 + timedelta(days=3) and "out-of-office" in str(why)
        assert states[(ids["lost@gamma.test"], "main")][0] == EnrollmentState.stopped
        assert states[(ids["peer@gamma.test"], "main")][0] == EnrollmentState.stopped, "the whole account stops"
        assert "lost" in str(account.stopped_reason)
        assert states[(ids["opens@delta.test"], "main")][0] == EnrollmentState.active, "2 points cross no rule"
        assert all(a.reason.startswith("rule ") for a in actions)
        kinds = sorted((a.rule, a.kind) for a in actions)
        assert kinds == sorted([("hot-reply", "hot"), ("hot-reply", "move"), ("hot-reply", "webhook"),
                                ("not-interested", "stop"), ("out-of-office", "pause"), ("lost-account", "stop_account"),
                                ("warm", "webhook")])

        # later passes: nothing is done twice; the failed delivery waits its backoff, then goes
        add_events(engine, [{"type": ev.OPENED, "at": T0, "prospect_id": ids["hot@acme.test"], "data": {}}])
        second = run_scoring(engine, spec, sequences, T0 + timedelta(seconds=30))
        assert second.actions == [] and second.webhooks.delivered == 0, "not due yet, no rule crossed again"
        third = run_scoring(engine, spec, sequences, T0 + timedelta(minutes=2))
        assert third.webhooks.delivered == 1 and third.actions == []
        assert run_scoring(engine, spec, sequences, T0 + timedelta(hours=1)).webhooks.delivered == 0

    statuses = [c[0] for c in hook.calls]
    assert statuses == [500, 200, 200], "one failure, then each delivery exactly once"
    assert all(ok for _, _, ok in hook.calls), "every request carries a valid HMAC-SHA256 signature"
    bodies = {c[1]["rule"]: c[1] for c in hook.calls if c[0] == 200}
    body = bodies["hot-reply"]
    assert body["prospect"]["email"] == "hot@acme.test" and body["prospect"]["hot"] is True
    assert body["account"]["domain"] == "acme.test"
    assert body["event"]["type"] == ev.REPLIED and body["event"]["data"]["positive"] is True
    assert body["reply_text"] == "Sounds great, let's talk Tuesday"
    for name in ("hot-reply", "warm"):  # what the reply wants and whom it names, on top for the CRM
        assert bodies[name]["intent"] == "meeting_request"
        assert bodies[name]["referral"] == {"email": "cto@acme.test", "name": "Jo Cto"}
    assert body["score"] == pytest.approx(15.0)
    assert "score 15.0 >= 5" in bodies["warm"]["reason"]
    with session_scope(engine) as s:
        rows = list(s.exec(select(WebhookDelivery)))
    assert sorted((r.state, r.attempts) for r in rows) in ([("delivered", 1), ("delivered", 2)],)
    assert all("s3cret" not in (r.last_error or "") + r.body for r in rows)


def test_webhook_without_its_secret_is_retried_with_a_clear_error(database_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine = open_store(database_url)
    ids = add_people(engine, ["a@x.test"])
    monkeypatch.delenv("TEST_CRM_SECRET", raising=False)
    spec = ScoringSpec.model_validate({"rules": [{"name": "w", "when": {"event": "won"}, "webhook": "crm"}],
                                       "webhooks": {"crm": {"url": "http://127.0.0.1:9/x", "secret_env": "TEST_CRM_SECRET",
                                                            "max_attempts": 2}}})
    earlier = {"intent": "information_request", "positive": True, "text": "Send me the pricing?",
               "referral": {"email": "cfo@x.test", "name": None}}
    add_events(engine, [{"type": ev.REPLIED, "at": T0 - timedelta(days=1), "prospect_id": ids["a@x.test"], "data": earlier},
                        {"type": ev.WON, "at": T0, "prospect_id": ids["a@x.test"], "data": {}}])
    first = run_scoring(engine, spec, {}, T0)
    assert first.webhooks.retrying == 1
    with session_scope(engine) as s:
        row = s.exec(select(WebhookDelivery)).one()
    assert row.last_error and "TEST_CRM_SECRET is not set" in row.last_error
    assert run_scoring(engine, spec, {}, T0 + timedelta(minutes=5)).webhooks.failed == 1
    payload = json.loads(row.body)
    assert payload["rule"] == "w" and payload["event"]["type"] == ev.WON
    # a rule on another event still tells the CRM what the person's latest reply said and wanted
    assert (payload["reply_text"], payload["intent"], payload["referral"]) == (
        "Send me the pricing?", "information_request", {"email": "cfo@x.test", "name": None})
