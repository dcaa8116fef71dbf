"""Verifying the prospects' addresses: the store's selection, the health checks' resolver and
lookup cache (``[health] nameserver``), the verify package's classification, the results saved."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from outbound.config import Settings
from outbound.health.dns import Lookup, make_resolver
from outbound.store.verification import ToVerify, save_results
from outbound.verify.model import Verdict
from outbound.verify.probe import ProbeSettings
from outbound.verify.run import RunStats, verify_addresses


@dataclass
class VerifyReport:
    verdicts: list[Verdict] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    domains: int = 0
    queries: int = 0
    probed: int = 0
    probe_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def lookup_for(settings: Settings, nameserver: str | None = None) -> Lookup:
    """One run's DNS: the configured resolver (or ``nameserver``), each query asked once, a limit in flight."""
    timeout = settings.verify.dns_timeout.total_seconds()
    resolver = make_resolver(nameserver or settings.health.nameserver, timeout=timeout, lifetime=2 * timeout)
    return Lookup(resolver, max_inflight=max(settings.verify.concurrency, 1) * 2)


def probe_settings(settings: Settings) -> ProbeSettings:
    v = settings.verify
    return ProbeSettings(port=v.probe_port, timeout=v.probe_timeout.total_seconds(), mail_from=v.probe_from, helo=v.probe_helo)


async def verify_prospects(engine: Engine, settings: Settings, targets: list[ToVerify], now: datetime, *,
                           probe: bool = False, nameserver: str | None = None, batch: int = 50_000) -> VerifyReport:
    """Verifies and stores a result for each target, ``batch`` addresses at a time (each batch saved
    as it is done; the lookup cache spans them, so a domain is still asked once); the report counts
    them by status."""
    started = time.monotonic()
    lookup = lookup_for(settings, nameserver)
    stats = RunStats()
    report = VerifyReport()
    for start in range(0, len(targets), batch):
        chunk = targets[start:start + batch]
        verdicts = await verify_addresses([t.email for t in chunk], lookup, concurrency=settings.verify.concurrency,
                                          probe=probe_settings(settings) if probe else None, stats=stats)
        by_email = {v.email: v for v in verdicts}
        save_results(engine, [(t.prospect_id, by_email[t.email].status, by_email[t.email].reasons) for t in chunk], now)
        report.verdicts.extend(verdicts)
    report.counts = Counter(v.status for v in report.verdicts)
    report.domains = stats.domains
    report.queries, report.probed, report.probe_errors = lookup.queries, stats.probed, stats.probe_errors
    report.seconds = time.monotonic() - started
    return report
