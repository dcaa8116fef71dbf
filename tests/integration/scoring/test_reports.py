"""Reports on a seeded database, against counts computed here from the seeding plan; the HTML page in Chromium."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from outbound.cli.app import app
from outbound.core import events as ev
from outbound.reports import queries
from outbound.reports.stats import two_proportion_z
from outbound.store.db import open_store, session_scope
from outbound.store.tables import Enrollment, Send
from tests.fixtures.common import unavailable
from tests.integration.scoring.helpers import add_events, add_people, sequence
from tests.integration.scoring.png import colours, read_png

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
MAILBOXES = ["a@s1.test", "b@s1.test", "c@s2.test"]


@dataclass
class Plan:
    send_id: int
    prospect_id: int
    sequence: str
    step: str
    variant: str | None
    mailbox: str
    source: str
    day: str
    bounced: bool
    replied: bool
    positive: bool
    unsubscribed: bool


def seed(engine: object, rng: random.Random) -> tuple[list[Plan], set[int], dict[str, int]]:
    seqs = {"alpha": sequence("alpha"), "beta": sequence("beta")}
    plans: list[Plan] = []
    qualified: set[int] = set()
    prospects_by_source: dict[str, int] = defaultdict(int)
    events: list[dict[str, object]] = []
    for n, source in enumerate(["webinar", "bought", "referral"]):
        emails = [f"{source}{i}@co{i % 9}.test" for i in range(40 + 10 * n)]
        prospects_by_source[source] = len(emails)
        seq_name = "alpha" if n != 1 else "beta"
        ids = add_people(engine, emails, source=source, seq=seqs[seq_name], now=T0)  # type: ignore[arg-type]
        with session_scope(engine) as s:  # type: ignore[arg-type]
            enr = {e.prospect_id: e.id for e in s.exec(select(Enrollment).where(col(Enrollment.sequence_name) == seq_name))}
            for pid in sorted(ids.values()):
                if rng.random() < 0.15:
                    continue  # never contacted
                for step_index, step in enumerate(["intro", "bump"][: rng.choice([1, 2])]):
                    at = T0 + timedelta(days=rng.randrange(6), minutes=step_index * 3000 + rng.randrange(600))
                    variant = rng.choice(["A", "B"]) if step == "intro" else None
                    send = Send(enrollment_id=enr[pid], prospect_id=pid, sequence_name=seq_name, step_id=step,
                                step_index=step_index, variant_id=variant, mailbox=rng.choice(MAILBOXES),
                                to_address="x", to_domain="x", state="sent", claimed_at=at, sent_at=at)
                    s.add(send)
                    s.flush()
                    assert send.id is not None
                    bounced = rng.random() < 0.08
                    replied = not bounced and rng.random() < (0.25 if variant == "B" else 0.12)
                    positive = replied and rng.random() < 0.5
                    unsub = not bounced and not replied and rng.random() < 0.05
                    plans.append(Plan(send.id, pid, seq_name, step, variant, send.mailbox, source,
                                      at.date().isoformat(), bounced, replied, positive, unsub))
                    base = {"prospect_id": pid, "enrollment_id": enr[pid], "mailbox": send.mailbox}
                    if bounced and rng.random() < 0.5:  # refused at RCPT: no sent event
                        events.append({**base, "type": ev.BOUNCED, "at": at, "send_id": send.id, "data": {"hard": True}})
                    else:
                        events.append({**base, "type": ev.SENT, "at": at, "send_id": send.id, "data": {}})
                        if bounced:  # a DSN later
                            events.append({**base, "type": ev.BOUNCED, "at": at + timedelta(minutes=5), "send_id": send.id, "data": {}})
                    later = at + timedelta(hours=2)
                    # replies sometimes lack send_id: they are tied to the latest earlier send of the enrollment
                    tie = {"send_id": send.id} if rng.random() < 0.5 else {}
                    if replied:
                        events.append({**base, **tie, "type": ev.REPLIED, "at": later, "data": {"positive": positive}})
                    if unsub:
                        events.append({**base, **tie, "type": ev.UNSUBSCRIBED, "at": later, "data": {}})
                    # a reply to the bump must not be credited to the intro, so the bump is always later than replies
            for pid in sorted(ids.values()):
                if rng.random() < 0.2:
                    qualified.add(pid)
                    events.append({"type": ev.QUALIFIED, "at": T0 + timedelta(days=9), "prospect_id": pid, "data": {}})
    add_events(engine, events)  # type: ignore[arg-type]
    return plans, qualified, dict(prospects_by_source)


Seeded = tuple[str, list[Plan], set[int], dict[str, int], Path]


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> Seeded:
    return _seeded(database_url, tmp_path)


def _seeded(database_url: str, tmp_path: Path) -> Seeded:
    engine = open_store(database_url)
    plans, qualified, by_source = seed(engine, random.Random(11))
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "{database_url}"\n')
    (tmp_path / "scoring.yaml").write_text("sources:\n  bought: {cost_per_lead: 2.5}\n  webinar: {cost_per_lead: 10}\n")
    return database_url, plans, qualified, by_source, tmp_path


def _expected(plans: list[Plan], key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in plans:
        k = {"variant": f"{p.sequence}/{p.step}/{p.variant or '-'}", "source": p.source,
             "domain": p.mailbox.split("@")[1], "mailbox": p.mailbox, "sequence": p.sequence}[key]
        row = out[k]
        row["sent"] += 1
        row["bounced"] += p.bounced
        row["delivered"] += not p.bounced
        row["replied"] += p.replied
        row["positive"] += p.positive
        row["unsubscribed"] += p.unsubscribed
    return {k: dict(v) for k, v in out.items()}


def _report(root: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["--config", str(root / "config.toml"), "report", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_report_counts_match_the_seeding(seeded: Seeded) -> None:
    url, plans, qualified, by_source, root = seeded
    for by in ("variant", "source", "domain", "mailbox"):
        got = _report(root, "--by", by, "--json")["groups"]
        assert isinstance(got, dict)
        want = _expected(plans, by)
        assert set(got) == set(want)
        for k, w in want.items():
            g = got[k]
            assert {f: g[f] for f in w} == w, (by, k)
            assert g["bounce_rate"] == pytest.approx(w["bounced"] / w["sent"])
            assert g["reply_rate"] == pytest.approx(w["replied"] / w["delivered"])
            assert g["positive_rate"] == pytest.approx(w["positive"] / w["delivered"])
            assert g["unsubscribe_rate"] == pytest.approx(w["unsubscribed"] / w["delivered"])

    data = _report(root, "--json")
    sources = {s["source"]: s for s in data["sources"]}  # type: ignore[union-attr, index]
    for name, n in by_source.items():
        mine = {p.prospect_id for p in plans if p.source == name}
        q = len(mine & qualified)
        assert sources[name]["prospects"] == n and sources[name]["contacted"] == len(mine)
        assert sources[name]["qualified"] == q
        assert sources[name]["qualified_share"] == pytest.approx(q / n)
    assert sources["bought"]["cost_per_qualified"] == pytest.approx(2.5 * by_source["bought"] / len(
        {p.prospect_id for p in plans if p.source == "bought"} & qualified))
    assert sources["referral"]["cost_per_qualified"] is None, "no cost given for this source"

    variants = {(v["step"], v["variant"]): v for v in data["variants"]}  # type: ignore[union-attr, index]
    for seq in ("alpha", "beta"):
        a = [p for p in plans if p.sequence == seq and p.variant == "A" and not p.bounced]
        b = [p for p in plans if p.sequence == seq and p.variant == "B" and not p.bounced]
        test = two_proportion_z(sum(p.replied for p in a), len(a), sum(p.replied for p in b), len(b))
        assert test is not None
        row = variants[(f"{seq}/intro", "B")]
        assert row["baseline"] == "A" and row["p_value"] == pytest.approx(test.p_value)
        assert row["difference"] == pytest.approx(test.difference)

    since = T0 + timedelta(days=3)
    late = _report(root, "--by", "sequence", "--since", since.date().isoformat(), "--json")["groups"]
    assert isinstance(late, dict)
    want = _expected([p for p in plans if p.day >= since.date().isoformat()], "sequence")
    assert {k: v["sent"] for k, v in late.items()} == {k: v["sent"] for k, v in want.items()}

    facts = queries.load_facts(open_store(url))
    assert len(facts.attempted()) == len(plans)


def test_html_page_renders_in_chromium(tmp_path: Path) -> None:
    root = _seeded(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)[4]
    page = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["--config", str(root / "config.toml"), "report", "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    for chart in ('id="funnel-0"', 'id="funnel-1"', 'id="daily-sends"', 'id="bounce-rate"'):
        assert chart in html
    domains = {m.split("@")[1] for m in MAILBOXES}
    assert html.count("<polyline") == len(domains), "one bounce-rate line per sending domain"
    assert all(f"<title>{m} " in html for m in MAILBOXES), "each mailbox's sends are stacked per day"
    totals = _report(root, "--json")["groups"]
    assert isinstance(totals, dict)
    sent = sum(g["sent"] for g in totals.values())
    delivered = sum(g["delivered"] for g in totals.values())
    assert f'data-testid="kpi-sent"><b>{sent}</b>' in html, "the headline figures are the report's"
    assert f'data-testid="kpi-delivered"><b>{delivered}</b>' in html
    assert 'data-testid="kpi-bounce-rate"' in html and "pause at 2.0%" in html, "[health] max_bounce_rate, drawn"
    assert 'name="viewport"' in html and "viewBox=" in html and 'width="760"' not in html, "scales to a phone"
    assert "<script" not in html and "src=" not in html and "<link" not in html, "self-contained"
    chromium = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin")
    if chromium is None:
        unavailable("chromium is not installed (Debian package chromium; scripts/test-deps.sh)")
        return
    shot = tmp_path / "shot.png"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000",
                           page.as_uri()], capture_output=True, timeout=90, check=False)
    assert shot.exists(), proc.stderr.decode(errors="replace")[-2000:]
    width, height, rows = read_png(shot)
    assert (width, height) == (1200, 2000)
    seen = colours(rows)
    assert len(seen) > 20, "not blank: text, bars and lines in several colours"
    for hex_colour in ("2563eb", "7c3aed", "0891b2"):  # the first palette colours: bars and lines were drawn
        assert bytes.fromhex(hex_colour) in colours(rows, step=1), hex_colour
