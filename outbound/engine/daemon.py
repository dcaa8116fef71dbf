"""The daemon: APScheduler 3.11's AsyncIOScheduler runs the send tick (and the poll and health slots).

Scheduling stays in this one module. Shutdown is graceful by hand because APScheduler's
``shutdown(wait=True)`` cancels running coroutine jobs: we pause the scheduler, wait for our own
in-flight jobs (SMTP transactions finish and record), then shut it down.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import DBAPIError

from outbound.core.logline import counted, fields
from outbound.engine.context import EngineContext
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.errors import OutboundError
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import utcnow

log = logging.getLogger("outbound.daemon")
Job = Callable[[], Awaitable[None]]
Service = Callable[[asyncio.Event], Coroutine[Any, Any, None]]  # runs until the stop event is set (e.g. the web server)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else "no detail"


class Daemon:
    def __init__(self, ctx: EngineContext, *, clock: Callable[[], datetime] = utcnow,
                 extra_jobs: dict[str, tuple[Job, timedelta]] | None = None,
                 services: dict[str, Service] | None = None) -> None:
        self.ctx = ctx
        self.clock = clock
        self.pool = SmtpPool()
        self.stop = asyncio.Event()
        self.inflight: set[asyncio.Task[object]] = set()
        self.extra_jobs = extra_jobs or {}
        self.services = services or {}
        self.ticks = 0

    async def _tracked(self, name: str, job: Job) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.inflight.add(task)
        try:
            await job()
        except (DBAPIError, OSError, TimeoutError, OutboundError) as exc:
            # the database or a server is down: one line per tick, retried next interval
            log.error("%s job failed: %s: %s", name, type(exc).__name__, _first_line(exc),
                      extra=fields(job=name, error_type=type(exc).__name__))
        except Exception:  # a bug: keep the traceback, and keep the daemon running
            log.exception("%s job failed", name, extra=fields(job=name))
        finally:
            self.inflight.discard(task)

    def _service_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %s", task.get_name(), task.exception())
            self.stop.set()  # a daemon without its web endpoint would break unsubscribe links: stop loudly

    async def send_tick(self) -> None:
        report = await run_tick(self.ctx, self.pool, self.clock(), stopping=self.stop)
        self.ticks += 1
        if report.results or report.unknown or report.requeued:
            log.info("tick: %s; planned %d; requeued %d; unknown %d", counted(report.counts), report.planned,
                     report.requeued, report.unknown, extra=fields(job="send", counts=dict(report.counts),
                                                                   planned=report.planned, requeued=report.requeued,
                                                                   unknown=report.unknown))

    async def run(self) -> None:
        mailbox_store.sync(self.ctx.engine, self.ctx.workspace)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        scheduler = AsyncIOScheduler(timezone=UTC)
        jobs: dict[str, tuple[Job, timedelta]] = {
            "send": (self.send_tick, self.ctx.settings.daemon.send_interval), **self.extra_jobs}
        for name, (job, every) in jobs.items():
            scheduler.add_job(self._tracked, "interval", args=[name, job], id=name, seconds=every.total_seconds(),
                              max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        scheduler.start()
        running = {name: asyncio.create_task(service(self.stop), name=name) for name, service in self.services.items()}
        for task in running.values():
            task.add_done_callback(self._service_ended)
        log.info("outbound daemon %s started: %d sequence(s), %d mailbox(es)", self.ctx.worker,
                 len(self.ctx.workspace.sequences), len(self.ctx.workspace.mailboxes()))
        try:
            await self.stop.wait()
        finally:
            log.info("stopping: waiting for %d running job(s)", len(self.inflight))
            scheduler.pause()
            if self.inflight:
                grace = self.ctx.settings.daemon.shutdown_grace.total_seconds()
                _done, pending = await asyncio.wait(set(self.inflight), timeout=grace)
                for cut in pending:  # leases of what was cut short expire and are recovered
                    cut.cancel()
            scheduler.shutdown(wait=False)
            if running:
                await asyncio.wait(running.values(), timeout=10)
            await self.pool.close_all()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            log.info("stopped")
