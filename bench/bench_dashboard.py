"""Dashboard page times on a database of 100,000 prospects and about 1,000,000 events (SQLite).

The history is seeded with tests/fixtures/history.py (prospects from four sources, six steps over
30 days, opens, bounces, replies with intents, unsubscribes, complaints, CRM outcomes). Then
`outbound dashboard` is started as a user starts it, logged in to, and each page is fetched
``--rounds`` times over HTTP after one warm-up; the figures are the median and the slowest time of
a page as the client sees it, and the time until the first figures are ready after the start. The baseline is what a page would cost if it computed its figures on
the request path: the report's own computation (``load_facts`` + grouping, what ``outbound report``
does), timed on the same database; the dashboard does that in the background (the snapshot time).

usage: .venv/bin/python -m bench.bench_dashboard [--prospects 100000] [--rounds 10] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit_json, say
from outbound.reports import queries
from outbound.store.db import open_store
from tests.fixtures.common import free_port, wait_for_port
from tests.fixtures.history import seed_history
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, start_dashboard
from tests.integration.engine.workspace import build, domain, three_step_sequence

PASSWORD = "bench dashboard password"
STEPS = ["intro", "bump", "case", "proof", "nudge", "last"]
LIMIT_MS = 300.0


def _pages(first_reply: int, email: str) -> list[str]:
    return ["/", "/?window=today", "/?window=30d", "/?window=all", "/sequences", "/mailboxes", "/replies",
            "/replies?intent=interested&show=all", f"/replies/{first_reply}", "/people", "/people?q=pat4242",
            f"/people/{email}", "/accounts/co17.test", "/sources"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prospects", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="10,000 prospects, 5 rounds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    prospects, rounds = (10_000, 5) if args.quick else (args.prospects, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        root = Path(tmp)
        steps = [{"id": s, "subject": "Hello {{ first_name }}", "body": "Hi {{ first_name }}.", **({"wait": "2d"} if i else {})}
                 for i, s in enumerate(STEPS)]
        tw = build(root / "ws", f"sqlite:///{root / 'outbound.db'}", [three_step_sequence(window=ALWAYS_OPEN, steps=steps)],
                   [domain("d0.test", 2525, 10, daily_cap=200)], settings="[daemon]\nhealth_checks = false\n")
        started = time.perf_counter()
        history = seed_history(tw.engine, prospects=prospects, mailboxes=[f"m{i}@d0.test" for i in range(10)],
                               sequence="seq", steps=STEPS, now=datetime.now(UTC), days=30)
        seeded = time.perf_counter() - started
        say(f"seeded {history.prospects:,} prospects, {history.sends:,} sends, {history.events:,} events "
            f"in {seeded:.0f} s", as_json=args.json)
        tw.engine.dispose()

        engine = open_store(f"sqlite:///{root / 'outbound.db'}")
        t0 = time.perf_counter()
        facts = queries.load_facts(engine)
        queries.grouped(facts, "sequence")
        baseline_ms = (time.perf_counter() - t0) * 1000
        engine.dispose()

        port, log = free_port(), root / "dashboard.log"
        proc = start_dashboard(tw.root / "config.toml", port, log, PASSWORD)
        try:
            if not wait_for_port(port, 60):
                raise SystemExit("the dashboard did not start: " + log.read_text())
            figures = _measure(f"http://127.0.0.1:{port}", history.replies[0], rounds, args.json)
        except Exception:
            print(log.read_text()[-3000:])
            raise
        finally:
            peak_mb = _peak_mb(proc.pid)
            proc.terminate()
            proc.wait(timeout=30)
    slowest = max(p["max_ms"] for p in figures["pages"].values())
    out: dict[str, Any] = {"prospects": history.prospects, "sends": history.sends, "events": history.events,
                           "seed_s": round(seeded, 1), "dashboard_peak_mb": peak_mb, "rounds": rounds, "first_page_ms": figures["first_ms"],
                           "pages": figures["pages"], "slowest_ms": slowest, "limit_ms": LIMIT_MS,
                           "baseline_report_ms": round(baseline_ms), "ratio": round(baseline_ms / slowest, 1)}
    if args.json:
        emit_json(out)
    else:
        print(f"{history.prospects:,} prospects, {history.events:,} events; first figures ready (background) after "
              f"{figures['first_ms']:,} ms; computing the report on the request path: {baseline_ms:,.0f} ms")
        print(f"{'page':42} {'median ms':>10} {'max ms':>8}")
        for path, p in figures["pages"].items():
            print(f"{path:42} {p['median_ms']:>10.1f} {p['max_ms']:>8.1f}")
        print(f"dashboard peak memory {out['dashboard_peak_mb']} MB")
        print(f"slowest page {slowest:.1f} ms (limit {LIMIT_MS:.0f} ms): {'ok' if slowest < LIMIT_MS else 'OVER'}")
    return 0 if slowest < LIMIT_MS else 1


def _peak_mb(pid: int) -> float | None:
    """The dashboard process's peak resident memory (VmHWM), in MB."""
    try:
        line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None
    return round(int(line.split()[1]) / 1024)


def _measure(url: str, reply: int, rounds: int, as_json: bool) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/login", data={"user": "admin", "password": PASSWORD, "next": "/"})
        t0 = time.perf_counter()  # the first figures are computed as the dashboard starts: wait for them
        while 'data-testid="kpi-sent"' not in client.get("/").text:
            time.sleep(0.5)
        first = round((time.perf_counter() - t0) * 1000)
        say(f"first figures ready after {first:,} ms", as_json=as_json)
        # a person's page: the first one a search finds (their company domain is random)
        link = client.get("/people?q=person17%40").text.split('href="/people/', 1)[1].split('"', 1)[0]
        pages: dict[str, dict[str, float]] = {}
        for path in _pages(reply, link):
            client.get(path)  # warm-up
            times = []
            for _ in range(rounds):
                t = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            pages[path] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}
            say(f"{path}: median {pages[path]['median_ms']} ms, max {pages[path]['max_ms']} ms", as_json=as_json)
    return {"first_ms": first, "pages": pages}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
