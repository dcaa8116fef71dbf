"""One send tick: recover expired leases, plan and claim due work, deliver it, report."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from outbound.engine import metrics
from outbound.engine.claim import Claim, claim_due
from outbound.engine.context import EngineContext
from outbound.engine.deliver import DeliveryResult, deliver_all
from outbound.engine.secrets import secret_pass
from outbound.engine.smtp import SmtpPool
from outbound.rulebook.retry import RetryPolicy
from outbound.scoring.health import mailbox_health_pass
from outbound.store import outcomes
from outbound.store.enrollments import resume_paused


@dataclass
class TickReport:
    now: datetime
    claimed: list[Claim] = field(default_factory=list)
    results: list[DeliveryResult] = field(default_factory=list)
    planned: int = 0
    waiting: dict[str, int] = field(default_factory=dict)
    requeued: int = 0
    unknown: int = 0
    resumed: int = 0
    paused: list[str] = field(default_factory=list)  # mailboxes the health pass paused in this tick

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    @property
    def failed(self) -> list[DeliveryResult]:
        """Sends that did not go out and need a look (retry, failed, unknown, mailbox paused, blocked);
        a bounce is the recipient's answer, recorded and acted on, not a failure of the tick."""
        return [r for r in self.results if r.status in metrics.FAILURES]


def retry_policy(ctx: EngineContext) -> RetryPolicy:
    s = ctx.settings.sending
    return RetryPolicy(max_attempts=max(1, s.retry_limit), base_delay=s.retry_base.total_seconds())


async def run_tick(ctx: EngineContext, pool: SmtpPool, now: datetime, *, dry_run: bool = False,
                   limit: int | None = None, stopping: asyncio.Event | None = None) -> TickReport:
    started = time.monotonic()
    report = await _tick(ctx, pool, now, dry_run=dry_run, limit=limit, stopping=stopping)
    if not dry_run:
        metrics.ENGINE.observe_tick((r.status for r in report.results), time.monotonic() - started,
                                    requeued=report.requeued, unknown=report.unknown)
    return report


async def _tick(ctx: EngineContext, pool: SmtpPool, now: datetime, *, dry_run: bool, limit: int | None,
                stopping: asyncio.Event | None) -> TickReport:
    report = TickReport(now=now)
    if not dry_run:
        report.requeued, report.unknown = await asyncio.to_thread(outcomes.recover_expired, ctx.engine, now)
        report.resumed = await asyncio.to_thread(resume_paused, ctx.engine, now)
        # a mailbox that just crossed its bounce threshold sends nothing more in this very tick
        decisions = await asyncio.to_thread(mailbox_health_pass, ctx.engine, now, ctx.settings.health)
        report.paused = [f"{d.address} ({d.reason})" for d in decisions if d.action == "pause"]
        # a mailbox whose password is not set is paused before anything is claimed for it
        report.paused += await asyncio.to_thread(secret_pass, ctx, now, pool.secrets)
    claimed = await asyncio.to_thread(claim_due, ctx, now, limit=limit, commit=not dry_run)
    report.claimed, report.planned, report.waiting = claimed.claims, claimed.planned, dict(claimed.waiting or {})
    if dry_run or not claimed.claims:
        return report
    policy = retry_policy(ctx)
    report.results = await deliver_all(ctx, pool, claimed.claims, now, policy, stopping=stopping)
    return report


def next_tick_delay(ctx: EngineContext) -> timedelta:
    return ctx.settings.daemon.send_interval
