"""The daemon's wiring: the send tick plus the periodic jobs (inbox poll, scoring, domain health) and
the services (link server, metrics endpoint, dashboard), each enabled by config.toml."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import dns.exception

from outbound.app.links import link_app
from outbound.app.verifying import verify_prospects
from outbound.engine.context import EngineContext
from outbound.engine.daemon import Daemon, Job, Service
from outbound.health.dns import make_resolver
from outbound.health.job import health_job as check_health
from outbound.inbox.job import daemon_poll
from outbound.metrics import registry_for, serve_metrics
from outbound.scoring.job import scoring_job as run_scoring
from outbound.store.db import utcnow
from outbound.store.gates import pass_gate
from outbound.store.verification import to_verify
from outbound.web.server import bind, serve_in_background

log = logging.getLogger("outbound.daemon")
SCORING_EVERY = timedelta(minutes=1)
VERIFY_EVERY = timedelta(minutes=5)
VERIFY_BATCH = 20_000  # addresses re-verified per run (a few seconds of DNS at 5,000 domains)


def build_daemon(ctx: EngineContext) -> Daemon:
    """The daemon of ``outbound run``; its endpoints are bound now, so a taken port fails before any send."""
    return Daemon(ctx, extra_jobs=daemon_jobs(ctx), services=daemon_services(ctx))


def health_job(ctx: EngineContext) -> tuple[Job, timedelta]:
    """DNS health of every sending domain, once per ``health_interval`` across all daemons."""
    every = ctx.settings.daemon.health_interval

    async def run() -> None:
        now = utcnow()
        if not pass_gate(ctx.engine, "health", now, every):
            return
        # [health] nameserver (checked when config.toml is loaded), else the system's resolver
        result = await check_health(ctx.workspace, ctx.engine, make_resolver(ctx.settings.health.nameserver), now)
        log.info("domain health: %s", ", ".join(f"{r.domain} {r.verdict}" for r in result.reports))

    # the scheduler wakes more often than the gate opens, so a daemon that died is replaced soon
    return run, min(every, timedelta(minutes=10))


def poll_job(ctx: EngineContext) -> tuple[Job, timedelta]:
    """IMAP: each mailbox polled by one daemon at a time (a lease on its row), then reconciliation."""
    async def run() -> None:
        await daemon_poll(ctx)

    return run, ctx.settings.daemon.poll_interval


def scoring_job(ctx: EngineContext) -> tuple[Job, timedelta]:
    """Scores from new events, rules and their actions, webhook deliveries, mailbox health."""
    async def run() -> None:
        await run_scoring(ctx.engine, ctx.workspace, utcnow())

    return run, SCORING_EVERY


def verify_job(ctx: EngineContext) -> tuple[Job, timedelta]:
    """Re-verifies, before their first touch, the enrolled addresses whose result is older than
    ``[verify] max_age`` (or was ``unknown``); one daemon at a time, a batch per run. Addresses never
    verified are left alone: verification is asked for (``prospects verify``, ``import --verify``)."""
    async def run() -> None:
        now = utcnow()
        if not pass_gate(ctx.engine, "verify", now, VERIFY_EVERY):
            return
        targets = to_verify(ctx.engine, now=now, older_than=ctx.settings.verify.max_age, first_touch_only=True,
                            unchecked=False, limit=VERIFY_BATCH)
        if targets:
            try:
                report = await verify_prospects(ctx.engine, ctx.settings, targets, now)
            except dns.exception.DNSException as exc:  # no resolver configured: says so, retried next run
                log.warning("re-verify: cannot set up DNS: %s; set [health] nameserver", exc)
                return
            log.info("re-verified %d address(es): %s", len(targets),
                     ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))

    return run, VERIFY_EVERY


def daemon_jobs(ctx: EngineContext) -> dict[str, tuple[Job, timedelta]]:
    jobs: dict[str, tuple[Job, timedelta]] = {"poll": poll_job(ctx), "scoring": scoring_job(ctx)}
    if ctx.settings.daemon.health_checks:
        jobs["health"] = health_job(ctx)
    if ctx.settings.verify.daemon:
        jobs["verify"] = verify_job(ctx)
    return jobs


def daemon_services(ctx: EngineContext) -> dict[str, Service]:
    """The web endpoint and the metrics endpoint, when enabled: bound now, so a taken port fails
    before any send."""
    services = metrics_service(ctx) | dashboard_service(ctx)
    web = ctx.settings.web
    if not web.enabled:
        return services
    sock = bind(web.host, web.port)
    app = link_app(ctx.workspace, ctx.engine, ctx.secret)

    async def serve(stop: asyncio.Event) -> None:
        log.info("web endpoint on http://%s:%d", web.host, web.port)
        await serve_in_background(app, web.host, web.port, stop, sock=sock)

    return {**services, "web": serve}


def dashboard_service(ctx: EngineContext) -> dict[str, Service]:
    """The dashboard on ``[dashboard] host:port`` when enabled: a listener of its own, never the public one."""
    cfg = ctx.settings.dashboard
    if not cfg.enabled:
        return {}
    from outbound.app.dashboard import build_dashboard
    from outbound.scoring.spec import load_scoring

    app = build_dashboard(ctx, load_scoring(ctx.workspace.config.root))
    sock = bind(cfg.host, cfg.port)

    async def serve(stop: asyncio.Event) -> None:
        log.info("dashboard on http://%s:%d", cfg.host, sock.getsockname()[1])
        await serve_in_background(app, cfg.host, cfg.port, stop, sock=sock, name="dashboard")

    return {"dashboard": serve}


def metrics_service(ctx: EngineContext) -> dict[str, Service]:
    """``GET /metrics`` on ``[metrics] host:port`` when enabled (Prometheus text format)."""
    cfg = ctx.settings.metrics
    if not cfg.enabled:
        return {}
    sock = bind(cfg.host, cfg.port)
    reg = registry_for(ctx.engine, ctx.workspace.mailboxes)

    async def serve(stop: asyncio.Event) -> None:
        log.info("metrics on http://%s:%d/metrics", cfg.host, sock.getsockname()[1])
        await serve_metrics(reg, sock, stop)

    return {"metrics": serve}
