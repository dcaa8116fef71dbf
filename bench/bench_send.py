"""End-to-end send rate of the engine (claim, render, SMTP, record) against plain aiosmtplib.

Both send to the same aiosmtpd sink on loopback (in its own process: no GIL shared with the
engine, but on a 2-core machine a share of the CPU, which is printed) over the same number of
parallel connections (one per mailbox). Caps are lifted: gap 0, huge daily caps, one step per
prospect. The plain run sends the very messages the engine would render, rendered beforehand, so
the ratio is the cost of the engine's bookkeeping. Printed beside the rates: the CPU per send of
each contender and of the sink, and the engine's CPU budget for the 0.70 target on this machine.

usage: .venv/bin/python -m bench.bench_send [--sends N] [--mailboxes M] [--batch B] [--backend sqlite|postgresql|both]
       [--profile FILE] [--what-if]
                            PostgreSQL: $OUTBOUND_BENCH_POSTGRES_URL (a server where databases may be created),
                            else a throwaway cluster is started like the test suite does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib

from bench.common import database, emit_json, postgres_server, say, sink_process
from outbound.engine.claim import Claim, claim_due
from outbound.engine.deliver import deliver_all, render_claim
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import retry_policy, run_tick
from outbound.render.headers import make_message_id
from outbound.store.prospects import to_data
from outbound.store.tables import Prospect
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain

ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59",
               "timezone": "UTC"}


# ---- the two contenders ----

@dataclass
class Result:
    backend: str
    sends: int
    mailboxes: int
    engine_seconds: float
    plain_seconds: float
    engine_cpu: float = 0.0  # process CPU seconds (all threads) of the engine run: steadier than rates
    plain_cpu: float = 0.0
    sink_cpu: float = 0.0    # CPU seconds of the sink per run of ``sends`` messages (the plain run's)

    @property
    def budget_ms(self) -> float:
        """The most CPU per send the engine may spend for 0.70 of the plain rate on this machine: at
        that rate the sink takes its share of the cores, and all of the engine's Python shares one
        GIL (so at most one core). An upper bound: it assumes every core is used all the time."""
        rate = TARGET * self.plain_rate
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        share = cores / rate - self.sink_cpu / self.sends
        return 1000 * min(share, 1 / rate)

    @property
    def engine_rate(self) -> float:
        return self.sends / self.engine_seconds

    @property
    def plain_rate(self) -> float:
        return self.sends / self.plain_seconds


TARGET = 0.70


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


# ---- what-if: the engine with parts taken away (a diagnostic of where the time goes, never a mode of the engine) ----

WHAT_IF = ("pre-claimed", "no writes", "pre-claimed, no writes")


def _skip_writes(tw: BuiltWorkspace) -> None:
    """The recorder answers every write as done without touching the database: UNSAFE, for this
    measurement only (it shows what the durable marks and records cost)."""
    recorder = tw.ctx.recorder()
    recorder._apply = lambda batch: [(True, True if i.marking is not None else None) for i in batch]  # type: ignore[method-assign]


async def run_variant(tw: BuiltWorkspace, variant: str) -> float:
    """Seconds to deliver everything with the named parts taken away (``WHAT_IF``)."""
    if "no writes" in variant:
        _skip_writes(tw)
    if "pre-claimed" not in variant:
        return await run_engine(tw)
    now = datetime.now(UTC)
    batches = []
    while (claimed := claim_due(tw.ctx, now)).claims:  # before the clock starts
        batches.append(claimed.claims)
    pool = SmtpPool()
    t0 = time.perf_counter()
    try:
        for claims in batches:
            results = await deliver_all(tw.ctx, pool, claims, now, retry_policy(tw.ctx))
            if any(r.status != "delivered" for r in results):
                raise RuntimeError(f"{variant}: not everything was delivered")
    finally:
        await pool.close_all()
    return time.perf_counter() - t0


def what_if(port: int, count: Any, sink_cpu: Callable[[], float], sends: int, mailboxes: int,
            batch: int) -> dict[str, float]:
    """engine/plain for each variant, each against a plain run of the same round."""
    ratios: dict[str, float] = {}
    for variant in WHAT_IF:
        with database("sqlite", None) as url:
            r = one_round("sqlite", url, port, count, sink_cpu, sends, mailboxes, batch, None,
                          run=lambda tw, v=variant: run_variant(tw, v))
        ratios[variant] = r.engine_rate / r.plain_rate
    return ratios


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


def one_round(backend: str, url: str, port: int, count: Any, sink_cpu: Callable[[], float], sends: int,
              mailboxes: int, batch: int, profile: str | None,
              run: Callable[[BuiltWorkspace], Awaitable[float]] = run_engine) -> Result:
    with tempfile.TemporaryDirectory(prefix="outbound-bench-") as tmp:
        tw = workspace(Path(tmp) / "ws", url, port, sends, mailboxes, batch)
        tw.ctx.rng = random.Random(1)
        addresses = sorted(tw.ctx.workspace.mailboxes())
        messages = prerender(tw, addresses)
        before = count.value
        cpu, sink = time.process_time(), sink_cpu()
        plain = asyncio.run(run_plain(port, messages, len(addresses)))
        plain_cpu, sink = time.process_time() - cpu, sink_cpu() - sink
        if count.value - before != sends:
            raise RuntimeError(f"plain run: the sink got {count.value - before} of {sends}")
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        cpu = time.process_time()
        engine_s = asyncio.run(run(tw))
        engine_cpu = time.process_time() - cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{backend}")
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        if count.value - before != 2 * sends:
            raise RuntimeError(f"engine run: the sink got {count.value - before - sends} of {sends}")
        tw.engine.dispose()
        return Result(backend, sends, len(addresses), engine_s, plain, engine_cpu, plain_cpu, sink)


def bench(backend: str, server: str | None, args: argparse.Namespace) -> Result:
    """Best of ``rounds`` for each contender (other load on the machine only ever slows a run down)."""
    rounds = []
    with sink_process() as (port, count, sink_cpu):
        for _ in range(args.rounds):
            with database(backend, server) as url:
                rounds.append(one_round(backend, url, port, count, sink_cpu, args.sends, args.mailboxes, args.batch,
                                        args.profile))
    return Result(backend, args.sends, rounds[0].mailboxes, min(r.engine_seconds for r in rounds),
                  min(r.plain_seconds for r in rounds), min(r.engine_cpu for r in rounds),
                  min(r.plain_cpu for r in rounds), min(r.sink_cpu for r in rounds))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sends", type=int, default=2000)
    ap.add_argument("--mailboxes", type=int, default=8)
    ap.add_argument("--batch", type=int, default=400, help="sends claimed per tick")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--rounds", type=int, default=3, help="best of this many runs of each")
    ap.add_argument("--profile", help="write cProfile stats of the engine run to FILE.<backend>")
    ap.add_argument("--what-if", action="store_true",
                    help="also run the engine on SQLite with parts taken away: claims made before the clock starts, "
                         "and the recorder's writes skipped (UNSAFE, a diagnostic only); prints engine/plain for each")
    ap.add_argument("--quick", action="store_true", help="1,000 sends, best of 2")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args(argv)
    if args.quick:
        args.sends, args.rounds = 1000, 2
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(bench("sqlite", None, args))
        say(f"sqlite: {results[-1].engine_rate:.0f}/s", as_json=args.json)
    if args.backend in ("postgresql", "both"):
        with postgres_server() as server:
            results.append(bench("postgresql", server, args))
        say(f"postgresql: {results[-1].engine_rate:.0f}/s", as_json=args.json)
    variants: dict[str, float] = {}
    if args.what_if:
        with sink_process() as (port, count, sink_cpu):
            for _ in range(args.rounds):  # best of the rounds, as for the main figures
                for name, ratio in what_if(port, count, sink_cpu, args.sends, args.mailboxes, args.batch).items():
                    variants[name] = max(ratio, variants.get(name, 0.0))
    if args.json:
        figures: dict[str, Any] = {r.backend: {"sends": r.sends, "connections": r.mailboxes, "engine_per_s": round(r.engine_rate),
                               "plain_per_s": round(r.plain_rate), "ratio": round(r.engine_rate / r.plain_rate, 2),
                               "engine_cpu_ms_per_send": round(1000 * r.engine_cpu / r.sends, 3),
                               "plain_cpu_ms_per_send": round(1000 * r.plain_cpu / r.sends, 3),
                               "sink_cpu_ms_per_message": round(1000 * r.sink_cpu / r.sends, 3),
                               "engine_cpu_budget_ms_at_target": round(r.budget_ms, 3)}
                                   for r in results}
        if variants:
            figures["what_if_sqlite_ratio"] = {name: round(ratio, 2) for name, ratio in variants.items()}
        emit_json(figures)
        return
    print(f"\n{'backend':<11} {'sends':>6} {'conns':>5} {'engine s':>9} {'engine/s':>9} {'plain s':>8} "
          f"{'plain/s':>8} {'ratio':>6} {'cpu ms/send engine':>19} {'plain':>6} {'sink':>6} {'budget':>7}")
    for r in results:
        print(f"{r.backend:<11} {r.sends:>6} {r.mailboxes:>5} {r.engine_seconds:>9.2f} {r.engine_rate:>9.0f} "
              f"{r.plain_seconds:>8.2f} {r.plain_rate:>8.0f} {r.engine_rate / r.plain_rate:>6.2f} "
              f"{1000 * r.engine_cpu / r.sends:>19.3f} {1000 * r.plain_cpu / r.sends:>6.3f} "
              f"{1000 * r.sink_cpu / r.sends:>6.3f} {r.budget_ms:>7.3f}")
    print(f"target: engine/plain >= {TARGET:.2f}; budget: the most CPU per send the engine may spend for it here "
          "(the sink's CPU per message taken out of the cores, and at most one core for one GIL)")
    if variants:
        print("\nwhat if (SQLite, engine/plain; diagnostic variants, not modes of the engine):")
        for name, ratio in variants.items():
            print(f"  {name:<24} {ratio:.2f}")


if __name__ == "__main__":
    main()
