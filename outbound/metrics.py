"""Prometheus metrics of a daemon: the tick's counters (``outbound.engine.metrics``) and gauges read from
the database at scrape (``outbound.store.metrics_queries``).

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
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from outbound.engine.metrics import ENGINE as ENGINE_COUNTERS
from outbound.engine.metrics import EngineMetrics
from outbound.engine.rotation import daily_cap
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.store.db import utcnow
from outbound.store.metrics_queries import gauge_rows

log = logging.getLogger("outbound.metrics")


@dataclass(frozen=True)
class DatabaseSnapshot:
    due: int                                      # active enrollments whose next step may be planned now
    sends: dict[str, int]                         # claimed / sending / retry / unknown
    mailboxes: list[tuple[str, str, int, int]]    # (address, state, sent today, today's cap)


def snapshot(engine: Engine, mailboxes: dict[str, tuple[SendingDomain, Mailbox]], now: datetime) -> DatabaseSnapshot:
    """What the gauges show: the store's rows with today's cap of each mailbox still in domains/."""
    rows = gauge_rows(engine, now)
    boxes = [(usage.address, state, usage.sent_today, daily_cap(found[1], usage))
             for state, usage in rows.mailboxes
             if (found := mailboxes.get(usage.address)) is not None]  # rows of removed mailboxes are kept, not shown
    return DatabaseSnapshot(rows.due, rows.sends, boxes)


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
                 metrics: EngineMetrics = ENGINE_COUNTERS, clock: Callable[[], datetime] = utcnow) -> CollectorRegistry:
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
