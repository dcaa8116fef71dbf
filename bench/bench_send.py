"""End-to-end send rate of the engine (claim, render, SMTP, record) against plain aiosmtplib.

Both send to the same aiosmtpd sink on loopback (in its own process, so it does not share the
engine's CPU) over the same number of parallel connections (one per mailbox). Caps are lifted:
gap 0, huge daily caps, one step per prospect. The plain run sends the very messages the engine
would render, rendered beforehand, so the ratio is the cost of the engine's bookkeeping.

usage: .venv/bin/python -m bench.bench_send [--sends N] [--mailboxes M] [--batch B] [--backend sqlite|postgresql|both]
       [--profile FILE]     PostgreSQL: $OUTBOUND_BENCH_POSTGRES_URL (a server where databases may be created),
                            else a throwaway cluster is started like the test suite does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing as mp
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from outbound.engine.claim import Claim  # noqa: E402
from outbound.engine.deliver import render_claim  # noqa: E402
from outbound.engine.smtp import SmtpPool  # noqa: E402
from outbound.engine.tick import run_tick  # noqa: E402
from outbound.render.headers import make_message_id  # noqa: E402
from outbound.store.prospects import to_data  # noqa: E402
from outbound.store.tables import Prospect  # noqa: E402
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain  # noqa: E402

ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59",
               "timezone": "UTC"}


# ---- the sink: aiosmtpd in a child process, counting accepted messages ----

class _Counter:
    def __init__(self, count: Any) -> None:
        self.count = count

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.count.get_lock():
            self.count.value += 1
        return "250 2.0.0 OK: queued"


def _sink_main(port: int, count: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    ctl = Controller(_Counter(count), hostname="127.0.0.1", port=port, server_hostname="sink.bench")
    ctl.start()
    ready.set()
    stop.wait()
    ctl.stop()


@contextlib.contextmanager
def sink_process() -> Iterator[tuple[int, Any]]:
    from tests.fixtures.common import free_port

    ctx = mp.get_context("fork")
    port, count, ready, stop = free_port(), ctx.Value("l", 0), ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_sink_main, args=(port, count, ready, stop), daemon=True)
    proc.start()
    if not ready.wait(10):
        raise RuntimeError("the SMTP sink did not start")
    try:
        yield port, count
    finally:
        stop.set()
        proc.join(5)


# ---- PostgreSQL ----

@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """$OUTBOUND_BENCH_POSTGRES_URL, else a throwaway cluster started like the test suite does."""
    given = os.environ.get("OUTBOUND_BENCH_POSTGRES_URL")
    if given:
        yield given
        return
    from tests.fixtures.postgres import _throwaway_cluster

    with _throwaway_cluster() as url:
        yield url


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(server)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def database(backend: str, server: str | None) -> Iterator[str]:
    if backend == "postgresql":
        assert server is not None
        with postgres_database(server) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="outbound-bench-db-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


# ---- the two contenders ----

@dataclass
class Result:
    backend: str
    sends: int
    mailboxes: int
    engine_seconds: float
    plain_seconds: float

    @property
    def engine_rate(self) -> float:
        return self.sends / self.engine_seconds

    @property
    def plain_rate(self) -> float:
        return self.sends / self.plain_seconds


def workspace(root: Path, url: str, port: int, sends: int, mailboxes: int, batch: int) -> BuiltWorkspace:
    seq = {"name": "bench", "senders": {"domains": ["bench.test"]}, "required_fields": ["first_name"],
           "window": ALWAYS_OPEN,
           "steps": [{"id": "intro", "subject": "Hello {{ first_name }}",
                      "body": "Hi {{ first_name }},\n\nA short note about {{ company | default('your team') }}.\n"}]}
    dom = domain("bench.test", port, mailboxes, daily_cap=10_000_000, gap={"min": 0, "max": 0})
    settings = f"[daemon]\nbatch_size = {batch}\nhealth_checks = false\n"
    tw = build(root, url, [seq], [dom], settings=settings)
    add_prospects(tw, sends, "bench", at=datetime.now(UTC) - timedelta(hours=1))
    return tw


def prerender(tw: BuiltWorkspace, mailboxes: list[str]) -> list[tuple[str, str, bytes]]:
    """(from, to, bytes) of the messages the engine would send, rendered before the clock starts."""
    from sqlmodel import Session, select

    with Session(tw.engine) as s:
        prospects = [to_data(p) for p in s.exec(select(Prospect))]
    now = datetime.now(UTC)
    out = []
    for i, p in enumerate(prospects):
        mb = mailboxes[i % len(mailboxes)]
        claim = Claim(i + 1, i + 1, p, "bench", 0, mb, make_message_id("bench.test"), None, now)
        out.append((mb, p.email, render_claim(tw.ctx, claim, now).as_bytes()))
    return out


async def run_engine(tw: BuiltWorkspace) -> float:
    pool = SmtpPool()
    t0 = time.perf_counter()
    try:
        while True:
            report = await run_tick(tw.ctx, pool, datetime.now(UTC))
            bad = {k: v for k, v in report.counts.items() if k != "delivered"}
            if bad:
                raise RuntimeError(f"the engine did not deliver everything: {bad}")
            if not report.claimed:
                break
    finally:
        await pool.close_all()
    return time.perf_counter() - t0


async def run_plain(port: int, messages: list[tuple[str, str, bytes]], connections: int) -> float:
    queues: list[list[tuple[str, str, bytes]]] = [[] for _ in range(connections)]
    for i, m in enumerate(messages):
        queues[i % connections].append(m)

    async def worker(queue: list[tuple[str, str, bytes]]) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
        await smtp.connect()
        for sender, rcpt, data in queue:
            await smtp.sendmail(sender, [rcpt], data)
        await smtp.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(q) for q in queues))
    return time.perf_counter() - t0


def one_round(backend: str, url: str, port: int, count: Any, sends: int, mailboxes: int, batch: int,
              profile: str | None) -> Result:
    with tempfile.TemporaryDirectory(prefix="outbound-bench-") as tmp:
        tw = workspace(Path(tmp) / "ws", url, port, sends, mailboxes, batch)
        tw.ctx.rng = random.Random(1)
        addresses = sorted(tw.ctx.workspace.mailboxes())
        messages = prerender(tw, addresses)
        before = count.value
        plain = asyncio.run(run_plain(port, messages, len(addresses)))
        if count.value - before != sends:
            raise RuntimeError(f"plain run: the sink got {count.value - before} of {sends}")
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        engine_s = asyncio.run(run_engine(tw))
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{backend}")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        if count.value - before != 2 * sends:
            raise RuntimeError(f"engine run: the sink got {count.value - before - sends} of {sends}")
        tw.engine.dispose()
        return Result(backend, sends, len(addresses), engine_s, plain)


def bench(backend: str, server: str | None, args: argparse.Namespace) -> Result:
    """Best of ``rounds`` for each contender (other load on the machine only ever slows a run down)."""
    rounds = []
    with sink_process() as (port, count):
        for _ in range(args.rounds):
            with database(backend, server) as url:
                rounds.append(one_round(backend, url, port, count, args.sends, args.mailboxes, args.batch,
                                        args.profile))
    return Result(backend, args.sends, rounds[0].mailboxes, min(r.engine_seconds for r in rounds),
                  min(r.plain_seconds for r in rounds))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sends", type=int, default=2000)
    ap.add_argument("--mailboxes", type=int, default=8)
    ap.add_argument("--batch", type=int, default=400, help="sends claimed per tick")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--rounds", type=int, default=3, help="best of this many runs of each")
    ap.add_argument("--profile", help="write cProfile stats of the engine run to FILE.<backend>")
    args = ap.parse_args(argv)
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(bench("sqlite", None, args))
    if args.backend in ("postgresql", "both"):
        with postgres_server() as server:
            results.append(bench("postgresql", server, args))
    print(f"\n{'backend':<11} {'sends':>6} {'conns':>5} {'engine s':>9} {'engine/s':>9} {'plain s':>8} "
          f"{'plain/s':>8} {'ratio':>6}")
    for r in results:
        print(f"{r.backend:<11} {r.sends:>6} {r.mailboxes:>5} {r.engine_seconds:>9.2f} {r.engine_rate:>9.0f} "
              f"{r.plain_seconds:>8.2f} {r.plain_rate:>8.0f} {r.engine_rate / r.plain_rate:>6.2f}")
    print("target: engine/plain >= 0.70")


if __name__ == "__main__":
    main()
