"""The funnel by source and by vendor on a seeded database, against counts and intervals computed here."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select
from typer.testing import CliRunner

from outbound.cli.app import app
from outbound.prospects.values import ProspectData
from outbound.store.db import open_store, session_scope
from outbound.store.prospects import upsert_prospects
from outbound.store.tables import Event, Prospect

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
STEPS = ("contacted", "replied", "positive", "mql", "sql")
COSTS = {"zoominfo": 3.0, "apollo": 1.0, "conference": 20.0, "linkedin": 2.0}


def _interval(k: int, n: int) -> tuple[float, float]:
    """Wilson's bounds as the roots of (k/n - p)^2 = z^2 p (1 - p) / n, solved for p (another route to them)."""
    z2, p = 1.959963984540054 ** 2, k / n
    a, b, c = 1 + z2 / n, -(2 * p + z2 / n), p * p
    root = math.sqrt(max(b * b - 4 * a * c, 0.0))
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def _seed(database_url: str) -> list[dict[str, Any]]:
    rng = random.Random(22)
    engine = open_store(database_url)
    leads: list[dict[str, Any]] = []
    for i in range(120):
        lead: dict[str, Any] = {"email": f"p{i}@x{i % 7}.test", "source": rng.choice(["conference", "linkedin"]),
                                "vendor": rng.choice(["zoominfo", "apollo", None]), "account": f"x{i % 7}.test"}
        steps: set[str] = set()
        if rng.random() < 0.8:
            steps.add("contacted")
            if rng.random() < 0.4:
                steps.add("replied")
                if rng.random() < 0.5:
                    steps.add("positive")
            if rng.random() < (0.6 if "positive" in steps else 0.1):  # an MQL without a positive reply, too
                steps.add("mql")
                if rng.random() < 0.5:
                    steps.add("sql")
        lead["steps"] = steps
        leads.append(lead)
    upsert_prospects(engine, [ProspectData(email=p["email"], source=p["source"], vendor=p["vendor"],
                                           company_domain=p["account"]) for p in leads])
    with session_scope(engine) as s:
        ids = {p.email: p.id for p in s.exec(select(Prospect))}
        for n, lead in enumerate(leads):
            pid, at = ids[lead["email"]], T0 + timedelta(hours=n)
            steps = lead["steps"]
            if "contacted" in steps:
                s.add(Event(type="sent", at=at, prospect_id=pid, dedupe_key=f"sent:{n}", data={}))
                s.add(Event(type="sent", at=at + timedelta(days=2), prospect_id=pid, dedupe_key=f"sent2:{n}", data={}))
            if "replied" in steps:
                s.add(Event(type="replied", at=at + timedelta(days=1), prospect_id=pid, dedupe_key=f"r:{n}",
                            data={"positive": "positive" in steps}))
            for stage in ("mql", "sql"):
                if stage in steps:
                    s.add(Event(type=stage, at=at + timedelta(days=3), prospect_id=pid, dedupe_key=f"{stage}:{n}", data={}))
    return leads


def _expected(leads: list[dict[str, Any]], by: str) -> dict[str, list[tuple[int, int, int]]]:
    """Per group: (count, converted, of) for each step, computed from the plan."""
    out: dict[str, list[tuple[int, int, int]]] = {}
    for group in {p[by] or "(none)" for p in leads}:
        mine = [p["steps"] for p in leads if (p[by] or "(none)") == group]
        rows, previous = [], mine
        for step in STEPS:
            now = [s for s in mine if step in s]
            rows.append((len(now), sum(1 for s in previous if step in s), len(previous)))
            previous = now
        out[group] = rows
    return out


def test_funnel_by_vendor_and_source_matches_the_seeding(database_url: str, tmp_path: Path) -> None:
    leads = _seed(database_url)
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "{database_url}"\n')
    (tmp_path / "scoring.yaml").write_text("sources:\n  conference: {cost_per_lead: 20}\n  linkedin: {cost_per_lead: 2}\n"
                                           "vendors:\n  zoominfo: {cost_per_lead: 3}\n  apollo: {cost_per_lead: 1}\n")
    for by in ("vendor", "source", "account"):
        result = CliRunner().invoke(app, ["--config", str(tmp_path / "config.toml"), "report", "--by", by, "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)["funnel"]
        want = _expected(leads, by)
        assert {r["group"] for r in rows} == set(want)
        for r in rows:
            mine = [p for p in leads if (p[by] or "(none)") == r["group"]]
            assert r["leads"] == len(mine)
            got = [(s["count"], s["converted"], s["of"]) for s in r["steps"]]
            assert [s["step"] for s in r["steps"]] == list(STEPS)
            assert got == want[r["group"]], (by, r["group"])
            cpl = COSTS.get(r["group"])
            for s in r["steps"]:
                if s["of"]:
                    lo, hi = _interval(s["converted"], s["of"])
                    assert math.isclose(s["ci_low"], lo, abs_tol=1e-9) and math.isclose(s["ci_high"], hi, abs_tol=1e-9)
                # seeded: replies a day after the first send, the stages three days after it
                days = {"contacted": None, "replied": 1.0, "positive": 1.0, "mql": 3.0, "sql": 3.0}[s["step"]]
                assert s["median_days"] == (days if s["count"] else None), (r["group"], s)
                cpl = None if by == "account" else cpl
                want_cost = None if cpl is None or not s["count"] else cpl * len(mine) / s["count"]
                assert s["cost"] == want_cost or math.isclose(s["cost"], want_cost or 0.0)
        costs = [r["steps"][-1]["cost"] for r in rows]
        known = [c for c in costs if c is not None]
        assert known == sorted(known) and costs[:len(known)] == known, "ranked by cost per SQL, unknown last"
    text = CliRunner().invoke(app, ["--config", str(tmp_path / "config.toml"), "report", "--by", "vendor"])
    assert text.exit_code == 0 and "Funnel by vendor" in text.output and "zoominfo" in text.output, text.output
