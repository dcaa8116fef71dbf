"""Prometheus metrics of a daemon: counters the send tick updates, gauges read from the database at scrape.

Counters and the tick histogram are per process (Prometheus sums them over the daemons); the gauges
(queue depth, sends in the air, today's cap usage per mailbox) describe the shared database, so
every daemon reports the same values and dashboards should take ``max`` over instances, not ``sum``.
Scrape-time queries are bounded by index ranges (due work, unsettled sends, mailbox rows), never
by the number of enrollments. Served on ``[metrics] host:port`` inside ``outbound run``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import Engine, and_, func, or_, select

from outbound.engine.rotation import daily_cap
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Send, SendState

log = logging.getLogger("outbound.metrics")
FAILURES = frozenset({"retry", "failed", "unknown", "mailbox paused", "blocked"})
BOUNCES = {"hard_bounce": "hard", "soft_bounce": "soft"}
IN_THE_AIR = (SendState.claimed, SendState.sending, SendState.retry, SendState.unknown)
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


@dataclass(frozen=True)
class DatabaseSnapshot:
    due: int                                      # active enrollments whose next step may be planned now
    sends: dict[str, int]                         # claimed / sending / retry / unknown
    mailboxes: list[tuple[str, str, int, int]]    # (address, state, sent today, today's cap)


def snapshot(engine: Engine, mailboxes: dict[str, tuple[SendingDomain, Mailbox]], now: datetime) -> DatabaseSnapshot:
    """What the gauges show, in one read transaction (each query an index range)."""
    e, s = Enrollment.__table__, Send.__table__  # type: ignore[attr-defined]
    active = EnrollmentState.active.value
    with session_scope(engine) as session:
        conn = session.connection()
        due = conn.execute(select(func.count()).select_from(e).where(or_(
            and_(e.c.state == active, e.c.next_due_at.is_(None)),
            and_(e.c.state == active, e.c.next_due_at <= now)))).scalar_one()
        sends = {state: 0 for state in IN_THE_AIR}
        for state, n in conn.execute(select(s.c.state, func.count()).where(s.c.state.in_(IN_THE_AIR))
                                     .group_by(s.c.state)):
            sends[state] = int(n)
        rows = list(session.scalars(select(MailboxState).order_by(MailboxState.address)))
    boxes = []
    for row in rows:
        usage = mailbox_store.usage(row, now, {})
        found = mailboxes.get(row.address)
        if found is not None:  # rows of mailboxes removed from domains/ are kept but not reported
            boxes.append((row.address, row.state, usage.sent_today, daily_cap(found[1], usage)))
    return DatabaseSnapshot(int(due), {str(k): v for k, v in sends.items()}, boxes)


class DatabaseCollector(Collector):
    """Gauges computed at scrape time from the shared database."""

    def __init__(self, engine: Engine, mailboxes: Callable[[], dict[str, tuple[SendingDomain, Mailbox]]],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.mailboxes = mailboxes
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            snap = snapshot(self.engine, self.mailboxes(), self.clock())
        except Exception as exc:  # a scrape must not fail because the database hiccupped
            log.warning("metrics: cannot read the database: %s", exc)
            up = GaugeMetricFamily("outbound_database_up", "1 when the scrape could read the database")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("outbound_database_up", "1 when the scrape could read the database")
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("outbound_queue_depth", "Active enrollments due now (to plan or send)")
        depth.add_metric([], snap.due)
        yield depth
        air = GaugeMetricFamily("outbound_sends_in_state", "Sends not settled yet, by state", labels=["state"])
        for state, n in sorted(snap.sends.items()):
            air.add_metric([state], n)
        yield air
        sent = GaugeMetricFamily("outbound_mailbox_sent_today", "Sends claimed today (UTC) per mailbox",
                                 labels=["mailbox"])
        cap = GaugeMetricFamily("outbound_mailbox_cap_today", "Today's cap per mailbox (warm-up applied)",
                                labels=["mailbox"])
        usage = GaugeMetricFamily("outbound_mailbox_cap_usage_ratio", "Sent today / today's cap per mailbox",
                                  labels=["mailbox"])
        paused = GaugeMetricFamily("outbound_mailbox_paused", "1 when the mailbox is paused", labels=["mailbox"])
        for address, state, n, limit in snap.mailboxes:
            sent.add_metric([address], n)
            cap.add_metric([address], limit)
            usage.add_metric([address], n / limit if limit else 0.0)
            paused.add_metric([address], 1 if state == "paused" else 0)
        yield from (sent, cap, usage, paused)


def registry_for(engine: Engine, mailboxes: Callable[[], dict[str, tuple[SendingDomain, Mailbox]]],
                 metrics: EngineMetrics = ENGINE, clock: Callable[[], datetime] = utcnow) -> CollectorRegistry:
    """The process's counters plus the database gauges, as one registry to expose."""
    registry = CollectorRegistry()
    registry.register(_Forward(metrics.registry))
    registry.register(DatabaseCollector(engine, mailboxes, clock))
    return registry


class _Forward(Collector):
    def __init__(self, inner: CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Iterable[Metric]:
        return self.inner.collect()


# ---- the HTTP endpoint: a tiny asyncio server (GET /metrics), no thread of its own ----

async def serve_metrics(registry: CollectorRegistry, sock: socket.socket, stop: asyncio.Event) -> None:
    """Answers ``GET /metrics`` on ``sock`` until ``stop`` is set; the scrape runs in a thread."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if request.startswith(b"GET ") and path.split(b"?")[0] in (b"/metrics", b"/"):
                body = await asyncio.to_thread(generate_latest, registry)
                head = f"HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\n"
            else:
                body, head = b"not found\n", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
            writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
