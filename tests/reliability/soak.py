"""The soak: many prospects over simulated days, a random SMTP fault every simulated minute,
suppressions added mid-run, then the invariant check (``harness.check_invariants``).

    python -m tests.reliability.soak            # the reduced form the test suite runs (< 60 s)
    python -m tests.reliability.soak --full     # 10 simulated days, 20,000 prospects
    python -m tests.reliability.soak --days 3 --prospects 5000 --database-url postgresql+psycopg://...

Faults are drawn from ``SOAK_FAULTS``: each simulated minute one is armed (replacing one that no
transaction reached), so about one lands per simulated minute while mail flows. Each simulated hour the ``unknown`` sends are
reconciled against what the server kept (the stand-in for the Sent folder) and a few prospects are
suppressed; once, a whole recipient domain is. After the fault phase the faults stop and the run
drains: everything must then finish, and every invariant must hold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState
from tests.integration.engine.workspace import add_prospects
from tests.reliability.faults import Fault, FaultySmtp
from tests.reliability.harness import START, Simulation, check_invariants, enrollment_states, send_states

SOAK_FAULTS: tuple[tuple[Fault, float], ...] = (  # (fault, weight)
    (Fault("greeting", "drop"), 1),
    (Fault("greeting", "reply", "421 4.3.2 Service shutting down, closing connection"), 1),
    (Fault("mail", "reply", "421 4.7.0 Too many connections, try again later"), 2),
    (Fault("rcpt", "reply", "451 4.3.0 <{a}>: Temporary local problem"), 3),
    (Fault("rcpt", "reply", "452 4.2.2 <{a}>: Mailbox full, try again later"), 2),
    (Fault("rcpt", "reply", "550 5.1.1 <{a}>: Recipient address rejected: User unknown"), 1),
    (Fault("message", "reply", "451 4.3.0 Error: queue file write error"), 2),
    (Fault("message", "drop_after_data", keep=True), 1),
    (Fault("message", "drop_after_data", keep=False), 1),
    (Fault("rcpt", "stall"), 0.15),
    (Fault("message", "stall"), 0.15),
)
# the bounce-rate pause would stop the run (a random 550 is a bounce): the soak tests the engine, not that rule
SETTINGS = """[health]
max_bounce_rate = 1.0
[daemon]
batch_size = {batch}
[sending]
retry_limit = 10
"""


@dataclass(frozen=True)
class SoakConfig:
    days: float = 0.5  # of faults
    prospects: int = 600
    domains: int = 2
    mailboxes: int = 4  # per domain
    cap: int = 300
    gap: tuple[str, str] = ("1m", "3m")  # spreads the sends, so mail flows (and faults land) every minute
    waits: tuple[str, str] = ("3h", "3h")
    tick: timedelta = timedelta(minutes=1)
    drain_tick: timedelta = timedelta(minutes=5)
    drain_days: float = 2.0
    batch: int = 50
    suppress_per_hour: int = 2
    seed: int = 20261123
    smtp_timeout: float = 0.25


FULL = SoakConfig(days=10, prospects=20_000, domains=4, mailboxes=10, cap=250, gap=("1m", "5m"), waits=("1d", "2d"),
                  drain_days=4)


@dataclass
class SoakResult:
    config: dict[str, object]
    seconds: float = 0.0
    ticks: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    delivered: int = 0
    retries: int = 0
    unknown_reconciled: dict[str, int] = field(default_factory=dict)
    suppressions_added: int = 0
    sends: dict[str, int] = field(default_factory=dict)
    enrollments: dict[str, int] = field(default_factory=dict)
    blocked_reasons: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(1 for v in self.violations if "times" in v)


async def soak(root: Path, cfg: SoakConfig, url: str | None = None) -> SoakResult:
    started = time.monotonic()
    rng = random.Random(cfg.seed)
    faults, weights = zip(*SOAK_FAULTS, strict=True)
    server = FaultySmtp(seed=cfg.seed, stall_seconds=cfg.smtp_timeout * 2).start()
    result = SoakResult(config={k: str(v) for k, v in asdict(cfg).items()})
    try:
        sim = Simulation.create(root / "ws", url or f"sqlite:///{root / 'soak.sqlite'}", server,
                                domains=cfg.domains, mailboxes=cfg.mailboxes, cap=cfg.cap, timeout=cfg.smtp_timeout,
                                settings=SETTINGS.format(batch=cfg.batch), waits=cfg.waits, gap=cfg.gap)
        people = add_prospects(sim.tw, cfg.prospects, "seq", at=START)
        emails = [p.email for p in people]
        end = START + timedelta(days=cfg.days)
        domain_suppressed = False
        try:
            while sim.now < end:
                with server.lock:  # this minute's fault; one the traffic did not reach is replaced
                    server.script[:] = [rng.choices(faults, weights)[0]]
                await sim.tick()
                result.ticks += 1
                sim.now += cfg.tick
                if sim.now.minute == 0:  # hourly: settle unknowns, suppress a few prospects mid-run
                    sim.settle()
                    picked = rng.sample(emails, cfg.suppress_per_hour)
                    if not domain_suppressed and sim.now >= START + timedelta(days=cfg.days / 2):
                        picked.append("@beta.test")
                        domain_suppressed = True
                    sim.suppress(picked)
                    result.suppressions_added += len(picked)
            with server.lock:  # the fault clears
                server.script.clear()
            drain_end = sim.now + timedelta(days=cfg.drain_days)
            while sim.now < drain_end and not _finished(sim):
                sim.settle()
                await sim.tick()
                result.ticks += 1
                sim.now += cfg.drain_tick
            sim.settle()
        finally:
            await sim.close()
        result.violations = check_invariants(sim, cap=cfg.cap)
        states = enrollment_states(sim)
        if states.get("active") or states.get("paused"):
            result.violations.append(f"not finished after the faults cleared: {dict(states)}")
        result.enrollments = dict(states)
        result.blocked_reasons = blocked_reasons(sim)
        result.sends = dict(send_states(sim))
        result.retries = sum(1 for rep in sim.reports for r in rep.results if r.status == "retry")
        result.unknown_reconciled = dict(sim.reconciled)
    finally:
        server.stop()
    result.faults_injected = dict(server.injected)
    result.connections = server.connections
    result.delivered = len(server.delivered)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def blocked_reasons(sim: Simulation) -> list[str]:
    with session_scope(sim.tw.engine) as s:
        return [e.reason or "" for e in s.exec(select(Enrollment).where(Enrollment.state == EnrollmentState.blocked))]


def _finished(sim: Simulation) -> bool:
    states: Counter[str] = enrollment_states(sim)
    return not states.get("active") and not states.get("paused")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10 simulated days, 20,000 prospects")
    parser.add_argument("--days", type=float)
    parser.add_argument("--prospects", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args(argv)
    cfg = FULL if args.full else SoakConfig()
    over = {k: v for k, v in (("days", args.days), ("prospects", args.prospects), ("seed", args.seed)) if v is not None}
    cfg = SoakConfig(**{**asdict(cfg), **over})
    with tempfile.TemporaryDirectory(prefix="outbound-soak-") as tmp:
        result = asyncio.run(soak(Path(tmp), cfg, args.database_url))
    print(json.dumps({**asdict(result), "duplicates": result.duplicates}, indent=2, default=str))
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main())
