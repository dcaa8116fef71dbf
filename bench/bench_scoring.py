"""Scoring throughput: N events (default 1,000,000) applied to the scores table on SQLite and PostgreSQL.

Prints, per database: the time to apply every event incrementally (in passes, as the daemon would),
the peak memory of the process, then a rule pass after a small burst of new events and how many
prospects it touched (only those whose score changed), and the time of a full rebuild.

Run: .venv/bin/python bench/bench_scoring.py [--events N] [--prospects P] [--only sqlite|postgresql]
PostgreSQL: $OUTBOUND_BENCH_POSTGRES_URL (a database to fill), else a throwaway cluster from the
Debian binaries, as the test suite does.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert  # noqa: E402

from bench.common import postgres_server  # noqa: E402
from outbound.core import events as ev  # noqa: E402
from outbound.scoring.apply import rebuild_scores, score_pass  # noqa: E402
from outbound.scoring.job import rules_hook  # noqa: E402
from outbound.scoring.spec import ScoringSpec  # noqa: E402
from outbound.store.db import open_store  # noqa: E402
from outbound.store.tables import Event, Prospect  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
KINDS = [ev.SENT] * 50 + [ev.OPENED] * 25 + [ev.CLICKED] * 8 + [ev.REPLIED] * 6 + [ev.BOUNCED] * 3 + \
        [ev.AUTO_REPLIED] * 3 + [ev.UNSUBSCRIBED, ev.QUALIFIED, ev.MEETING_BOOKED, ev.WON, ev.LOST]
SPEC = ScoringSpec.model_validate({"rules": [
    {"name": "hot", "when": {"score_at_least": 40}, "hot": True},
    {"name": "positive-reply", "when": {"event": "replied", "positive": True}, "hot": True},
    {"name": "ooo", "when": {"event": "auto_replied"}, "pause": "3d"},
]})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(engine: Engine, events: int, prospects: int, rng: random.Random, *, first_id: int = 0) -> None:
    if first_id == 0:
        rows = [{"email": f"p{i}@co{i % (prospects // 10 or 1)}.test", "company_domain": f"co{i % (prospects // 10 or 1)}.test",
                 "source": "bench", "fields": {}, "hot": False, "created_at": NOW, "updated_at": NOW} for i in range(prospects)]
        with engine.begin() as conn:
            for i in range(0, len(rows), 20000):
                conn.execute(insert(Prospect.__table__), rows[i:i + 20000])  # type: ignore[attr-defined]
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for n in range(events):
            kind = rng.choice(KINDS)
            data: dict[str, object] = {}
            if kind == ev.REPLIED:
                data = {"positive": rng.choice([True, False, None])}
            elif kind == ev.OPENED and rng.random() < 0.3:
                data = {"machine": True}
            batch.append({"type": kind, "at": NOW - timedelta(seconds=rng.randrange(90 * 86400)),
                          "prospect_id": rng.randrange(prospects) + 1, "data": data})
            if len(batch) == 50000 or n == events - 1:
                conn.execute(insert(Event.__table__), batch)  # type: ignore[attr-defined]
                batch = []


def run(name: str, url: str, events: int, prospects: int) -> None:
    rng = random.Random(1)
    engine = open_store(url)
    t = time.perf_counter()
    seed(engine, events, prospects, rng)
    print(f"[{name}] seeded {events:,} events for {prospects:,} prospects in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    result = score_pass(engine, SPEC, NOW, batch_size=50000)  # the first pass: the whole backlog, no rules
    took = time.perf_counter() - t
    print(f"[{name}] applied {result.events:,} events in {took:.1f}s ({result.events / took:,.0f} events/s); "
          f"{result.changed_prospects:,} prospects and {result.changed_accounts:,} accounts scored; "
          f"peak memory {peak_mb():.0f} MB")
    seed(engine, 2000, prospects, rng, first_id=1)
    t = time.perf_counter()
    burst = score_pass(engine, SPEC, NOW, on_batch=rules_hook(SPEC, NOW))
    print(f"[{name}] rule pass after {burst.events:,} new events: {time.perf_counter() - t:.2f}s, touched "
          f"{burst.changed_prospects:,} of {prospects:,} prospects (only those whose score changed), "
          f"{len(burst.decisions):,} action(s)")
    t = time.perf_counter()
    rebuilt = rebuild_scores(engine, SPEC, NOW, batch_size=50000)
    print(f"[{name}] rebuild from {rebuilt.events:,} events: {time.perf_counter() - t:.1f}s; peak memory {peak_mb():.0f} MB")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.db", args.events, args.prospects)
    if args.only != "sqlite":
        with postgres_server() as url:
            run("postgresql", url, args.events, args.prospects)


if __name__ == "__main__":
    main()
