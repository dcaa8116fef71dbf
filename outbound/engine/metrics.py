"""The counters a send tick updates (Prometheus types; ``outbound.metrics`` serves them with the database gauges).

Counters and the tick histogram are per process: Prometheus sums them over the daemons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

FAILURES = frozenset({"retry", "failed", "unknown", "mailbox paused", "blocked"})
BOUNCES = {"hard_bounce": "hard", "soft_bounce": "soft"}
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class EngineMetrics:
    """The counters a process updates; one instance per registry (tests make their own)."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        self.results = Counter("outbound_send_results", "Send attempts by result (delivered, retry, hard_bounce, ...)",
                               ["result"], registry=r)
        self.sent = Counter("outbound_sent", "Messages accepted by the SMTP server", registry=r)
        self.failures = Counter("outbound_send_failures",
                                "Attempts that did not deliver: retry, failed, unknown, mailbox paused, blocked",
                                registry=r)
        self.bounces = Counter("outbound_bounces", "Sends refused with a 5xx at RCPT/DATA", ["kind"], registry=r)
        self.recovered = Counter("outbound_leases_recovered", "Expired leases recovered by a tick",
                                 ["outcome"], registry=r)
        self.tick_seconds = Histogram("outbound_tick_duration_seconds", "Wall time of one send tick",
                                      buckets=TICK_BUCKETS, registry=r)

    def observe_tick(self, statuses: Iterable[str], seconds: float, *, requeued: int = 0, unknown: int = 0) -> None:
        """After a tick: its duration and the result of each delivery (``TickReport.results`` statuses)."""
        self.tick_seconds.observe(seconds)
        for status in statuses:
            self.results.labels(status).inc()
            if status == "delivered":
                self.sent.inc()
            elif status in BOUNCES:
                self.bounces.labels(BOUNCES[status]).inc()
            elif status in FAILURES:
                self.failures.inc()
        if requeued:
            self.recovered.labels("requeued").inc(requeued)
        if unknown:
            self.recovered.labels("unknown").inc(unknown)


ENGINE = EngineMetrics()
"""The process's counters, updated by ``outbound.engine.tick.run_tick``."""
