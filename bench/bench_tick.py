"""Tick latency at 10k, 100k and 1M enrollments with the same number due, and a daemon's peak memory.

Each size is seeded fast (COPY on PostgreSQL, executemany on SQLite): prospects, enrollments (all
active, mostly planned for later days; half of them one step in, with the sent step's row in
``sends``), 20 mailboxes. Each round makes ``--due`` enrollments (spread over the id range) due and
times a dry-run tick (plan and claim, rolled back: the database work alone) and then a real tick
(recover, resume, health pass, plan, claim, deliver to an aiosmtpd sink in its own process, record).
Then ``outbound run`` is started on the same database, sends one more due batch, and its peak
resident memory (VmHWM) is read. ``--explain`` prints the plan of every statement a tick runs
at the largest size and flags full scans of the big tables.

usage: .venv/bin/python -m bench.bench_tick [--sizes 10000,100000,1000000] [--due 500] [--rounds 5]
       [--backend sqlite|postgresql|both] [--explain] [--no-daemon] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from bench.common import database, emit_json, postgres_server, say, sink_process
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from tests.integration.engine.workspace import BuiltWorkspace, build, domain

ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59",
               "timezone": "UTC"}
MAILBOXES = 20
BIG_TABLES = ("prospects", "enrollments", "sends", "events")
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class SizeResult:
    backend: str
    enrollments: int
    due: int
    seed_seconds: float
    claim_ms: float          # median dry-run tick: plan + claim, rolled back
    tick_ms: float           # median real tick: everything, including delivering the due sends
    daemon_peak_mb: float | None = None
    full_scans: list[str] = field(default_factory=list)


# ---- seeding ----

def _sequence() -> dict[str, Any]:
    return {"name": "bench", "senders": {"domains": ["bench.test"]}, "required_fields": ["first_name"],
            "window": ALWAYS_OPEN,
            "steps": [{"id": "intro", "subject": "Hello {{ first_name }}", "body": "Hi {{ first_name }}, a note.\n"},
                      {"id": "bump", "wait": "1d", "thread": True, "body": "Bumping this, {{ first_name }}.\n"}]}


def _rows(first: int, last: int, rng: random.Random) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]],
                                                         list[tuple[Any, ...]]]:
    """Prospects, enrollments and the sends of the step already made, ids first..last; nothing due yet."""
    prospects: list[tuple[Any, ...]] = []
    enrollments: list[tuple[Any, ...]] = []
    sends: list[tuple[Any, ...]] = []
    for i in range(first, last + 1):
        email = f"p{i}@c{i % 5000}.example"
        prospects.append((i, email, f"P{i}", None, f"Company {i % 5000}", None, None, None, "bench", "{}", False,
                          NOW, NOW))
        later = NOW + timedelta(days=1 + rng.random() * 30)
        if i % 2:
            enrollments.append((i, i, "bench", 1, "active", 0, later, None, None, None, None, None, None, None, None,
                                None, NOW, NOW))
        else:
            sent_at = NOW - timedelta(days=2, seconds=rng.randrange(20 * 86400))
            mailbox, mid = f"m{i % MAILBOXES}@bench.test", f"<seed{i}@bench.test>"
            enrollments.append((i, i, "bench", 1, "active", 1, later, mailbox, sent_at, sent_at, mid, mid,
                                f"Hello P{i}", sent_at, None, None, sent_at, sent_at))
            sends.append((i // 2, i, i, "bench", "intro", 0, None, mailbox, email, email.split("@")[1], "sent", mid,
                          f"Hello P{i}", None, None, 1, None, sent_at, sent_at, None))
    return prospects, enrollments, sends


COLUMNS = {
    "prospects": "id, email, first_name, last_name, company, company_domain, title, timezone, source, fields, hot, "
                 "created_at, updated_at",
    "enrollments": "id, prospect_id, sequence_name, sequence_version, state, next_step, next_due_at, mailbox, "
                   "anchor_at, last_sent_at, last_message_id, thread_references, last_subject, started_at, "
                   "paused_until, reason, created_at, updated_at",
    "sends": "id, enrollment_id, prospect_id, sequence_name, step_id, step_index, variant_id, mailbox, to_address, "
             "to_domain, state, message_id, subject, lease_owner, lease_until, attempts, not_before, claimed_at, "
             "sent_at, last_error",
}


def _sqlite_value(v: Any) -> Any:
    # SQLAlchemy's SQLite DATETIME storage format (UTC, no offset), read back by UTCDateTime as UTC
    return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v


CHUNK = 100_000  # rows generated and written at a time, so seeding 1M does not hold 1M tuples


def seed(engine: Engine, n: int, rng: random.Random) -> None:
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        postgres = engine.dialect.name == "postgresql"
        cur = dbapi.cursor()
        if not postgres:
            cur.execute("BEGIN")
        for first in range(1, n + 1, CHUNK):
            chunk = _rows(first, min(n, first + CHUNK - 1), rng)
            for name, rows in zip(("prospects", "enrollments", "sends"), chunk, strict=True):
                if postgres:
                    with cur.copy(f"COPY {name} ({COLUMNS[name]}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" * len(COLUMNS[name].split(",")))
                    cur.executemany(f"INSERT INTO {name} ({COLUMNS[name]}) VALUES ({marks})",
                                    ([_sqlite_value(v) for v in row] for row in rows))
        if postgres:
            for name, top in (("prospects", n), ("enrollments", n), ("sends", max(n // 2, 1))):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {top})")
            dbapi.commit()
            dbapi.autocommit = True
            cur.execute("ANALYZE")  # what autovacuum does soon after a bulk load
            dbapi.autocommit = False
        else:
            cur.execute("COMMIT")
        cur.close()
    finally:
        raw.close()


def make_due(engine: Engine, ids: list[int], at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE enrollments SET next_due_at = :at WHERE id = :id"),
                     [{"at": _sqlite_value(at) if engine.dialect.name == "sqlite" else at, "id": i} for i in ids])


def sent_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM sends WHERE state = 'sent'")).scalar_one())


# ---- statements a tick runs, and their plans ----

_IN_LIST = re.compile(r"IN \\((?:[^()]|\\([^()]*\\))*\\)")
_IN_LIST = re.compile(r"IN \((?:[^()]|\([^()]*\))*\)")

class Capture:
    """Every distinct statement run on ``engine`` while active (with the first parameters seen)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: dict[str, Any] = {}

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if executemany and isinstance(parameters, (list, tuple)) and parameters:
            parameters = parameters[0]
        # one entry per shape: IN lists of different lengths are the same query
        self.statements.setdefault(_IN_LIST.sub("IN (...)", statement), (statement, parameters))

    def __enter__(self) -> Capture:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def explain(engine: Engine, statements: dict[str, Any], *, show: bool) -> list[str]:
    """Full scans of the big tables among the plans of ``statements`` (printed when ``show``)."""
    sqlite = engine.dialect.name == "sqlite"
    flagged = []
    raw = engine.raw_connection()
    try:
        cur: Any = raw.driver_connection.cursor()  # type: ignore[union-attr]
        for stmt, params in statements.values():
            head = stmt.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "UPDATE", "DELETE", "WITH"):
                continue
            cur.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + stmt, params)
            lines = [str(r[-1]) if sqlite else str(r[0]) for r in cur.fetchall()]
            bad = [ln for ln in lines for t in BIG_TABLES
                   if (sqlite and f"SCAN {t}" in ln and "USING INTEGER PRIMARY KEY" not in ln)
                   or (not sqlite and f"Seq Scan on {t}" in ln)]
            if bad:
                flagged.append(" ".join(stmt.split())[:160] + " -> " + "; ".join(b.strip() for b in bad))
            if show:
                print("\n" + " ".join(stmt.split())[:400])
                for ln in lines:
                    print("    " + ln)
        raw.rollback()
    finally:
        raw.close()
    return flagged


# ---- one size ----

def _workspace(root: Path, url: str, port: int, due: int) -> BuiltWorkspace:
    dom = domain("bench.test", port, MAILBOXES, daily_cap=10_000_000, gap={"min": 0, "max": 0},
                 recipient_domain_hourly_limit=1_000_000)  # so the hourly count runs too
    settings = f"[daemon]\nbatch_size = {due}\nsend_interval = 1\nhealth_checks = false\nlease = 300\n"
    return build(root, url, [_sequence()], [dom], settings=settings)


def _due_batches(n: int, due: int, count: int, rng: random.Random) -> Iterator[list[int]]:
    ids = rng.sample(range(1, n + 1), due * count)
    for i in range(count):
        yield ids[i * due:(i + 1) * due]


async def _rounds(tw: BuiltWorkspace, batches: list[list[int]], due: int) -> tuple[list[float], list[float]]:
    pool = SmtpPool()
    claim_s, tick_s = [], []
    try:
        for ids in batches:
            now = datetime.now(UTC)
            make_due(tw.engine, ids, now - timedelta(minutes=1))
            t0 = time.perf_counter()
            dry = await run_tick(tw.ctx, pool, now, dry_run=True)
            claim_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = await run_tick(tw.ctx, pool, now)
            tick_s.append(time.perf_counter() - t0)
            if len(dry.claimed) != due or report.counts.get("delivered") != due:
                raise RuntimeError(f"expected {due} due; dry run claimed {len(dry.claimed)}, tick {dict(report.counts)}")
    finally:
        await pool.close_all()
    return claim_s, tick_s


def daemon_peak_mb(tw: BuiltWorkspace, ids: list[int], log: Path) -> float:
    """Starts ``outbound run``, waits until it has sent one due batch, returns its peak RSS (VmHWM)."""
    from tests.integration.engine.daemon_proc import start_daemon, wait_started, wait_until

    before = sent_count(tw.engine)
    make_due(tw.engine, ids, datetime.now(UTC) - timedelta(minutes=1))
    proc = start_daemon(tw.root / "config.toml", log)
    try:
        if not wait_started(log, 0, timeout=120):
            raise RuntimeError(f"the daemon did not start; see {log}")
        if not wait_until(lambda: sent_count(tw.engine) >= before + len(ids), 120, every=0.5):
            raise RuntimeError(f"the daemon did not send the due batch; see {log}")
        time.sleep(3)  # a few more ticks and the other jobs (poll, scoring) run too
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=60) != 0:
            raise RuntimeError(f"the daemon did not stop cleanly; see {log}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return peak_kb / 1024


def one_size(backend: str, url: str, port: int, n: int, args: argparse.Namespace, *, largest: bool) -> SizeResult:
    rng = random.Random(n)
    with tempfile.TemporaryDirectory(prefix="outbound-bench-tick-") as tmp:
        tw = _workspace(Path(tmp) / "ws", url, port, args.due)
        t0 = time.perf_counter()
        seed(tw.engine, n, rng)
        seeded = time.perf_counter() - t0
        say(f"[{backend}] seeded {n:,} enrollments in {seeded:.1f}s", as_json=args.json)
        batches = list(_due_batches(n, args.due, args.rounds + 2, rng))
        asyncio.run(_rounds(tw, batches[:1], args.due))  # warm-up: connections, templates, caches
        with Capture(tw.engine) as cap:
            claim_s, tick_s = asyncio.run(_rounds(tw, batches[1:args.rounds + 1], args.due))
        flagged = explain(tw.engine, cap.statements, show=args.explain and largest)
        result = SizeResult(backend, n, args.due, round(seeded, 1), round(statistics.median(claim_s) * 1000, 1),
                            round(statistics.median(tick_s) * 1000, 1), full_scans=flagged)
        if not args.no_daemon:
            result.daemon_peak_mb = round(daemon_peak_mb(tw, batches[-1], Path(tmp) / "daemon.log"), 1)
        tw.engine.dispose()
    say(f"[{backend}] {n:,}: claim {result.claim_ms:.0f} ms, tick {result.tick_ms:.0f} ms"
        + (f", daemon peak {result.daemon_peak_mb:.0f} MB" if result.daemon_peak_mb else "")
        + (f"; FULL SCANS: {flagged}" if flagged else ""), as_json=args.json)
    return result


def run(args: argparse.Namespace) -> list[SizeResult]:
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: list[SizeResult] = []
    with sink_process() as (port, _count, _sink_cpu):
        for backend in backends:
            server_cm = postgres_server() if backend == "postgresql" else _none()
            with server_cm as server:
                for n in sizes:
                    with database(backend, server) as url:
                        results.append(one_size(backend, url, port, n, args, largest=n == max(sizes)))
    return results


class _none:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def figures(results: list[SizeResult]) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": [asdict(r) for r in results]}
    for backend in {r.backend for r in results}:
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.enrollments)
        if len(mine) > 1:
            out[f"{backend}_tick_ratio_largest_smallest"] = round(mine[-1].tick_ms / mine[0].tick_ms, 2)
            out[f"{backend}_claim_ratio_largest_smallest"] = round(mine[-1].claim_ms / mine[0].claim_ms, 2)
    return out


def print_table(results: list[SizeResult]) -> None:
    print(f"\n{'backend':<11} {'enrollments':>11} {'due':>5} {'seed s':>7} {'claim ms':>9} {'tick ms':>8} "
          f"{'daemon MB':>9}  full scans")
    for r in results:
        mb = f"{r.daemon_peak_mb:.0f}" if r.daemon_peak_mb else "-"
        print(f"{r.backend:<11} {r.enrollments:>11,} {r.due:>5} {r.seed_seconds:>7.1f} {r.claim_ms:>9.0f} "
              f"{r.tick_ms:>8.0f} {mb:>9}  {len(r.full_scans) or 'none'}")
    for r in results:
        for f in r.full_scans:
            print(f"  {r.backend} {r.enrollments:,}: {f}")
    print("claim = dry-run tick (plan + claim, rolled back); tick = real tick delivering the due sends to a sink")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--due", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--explain", action="store_true", help="print the plan of every statement at the largest size")
    ap.add_argument("--no-daemon", action="store_true", help="skip the daemon memory measurement")
    ap.add_argument("--quick", action="store_true", help="10k and 100k only, 3 rounds")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.rounds = "10000,100000", 3
    results = run(args)
    if args.json:
        emit_json(figures(results))
    else:
        print_table(results)
        print(json.dumps({k: v for k, v in figures(results).items() if k != "sizes"}))


if __name__ == "__main__":
    main()
