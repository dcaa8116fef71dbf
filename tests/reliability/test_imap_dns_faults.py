"""IMAP connections cut in the middle of a FETCH response (a proxy in front of Dovecot), and DNS
servers that answer SERVFAIL or time out: the poller and the health check keep going, report the
reason, record nothing twice, and catch up once the fault clears."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from outbound.app.workspace import load_workspace
from outbound.health.dns import make_resolver
from outbound.health.job import health_job
from outbound.inbox.poller import InMemoryWatermarkStore, PollerOptions, poll_once, run_poller
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import open_store, session_scope
from outbound.store.tables import MailboxState
from tests.fixtures.dns_server import DnsServers
from tests.fixtures.mail_servers import DovecotServer
from tests.integration.health.zones import DOMAIN_ZONE, GOOD_IP, IP_ZONE, defect_zone
from tests.integration.inbox.conftest import RawImap, Recorder, append, mailbox, message, secrets_for
from tests.reliability.faults import DnsFault, ImapCutProxy

MESSAGES = 12
FAST = PollerOptions(command_timeout=3, mailbox_timeout=20, fetch_batch=5, backoff_initial=0.05, backoff_max=0.2,
                     poll_interval=0.3, use_idle=False)


async def _fill(raw_imap: RawImap, dovecot: DovecotServer) -> tuple[object, set[str]]:
    user = dovecot.make_user()
    imap = await raw_imap(user)
    ids = set()
    for i in range(MESSAGES):
        mid, raw = message(f"message {i} " + "x" * 400)
        await append(imap, "INBOX", raw)
        ids.add(mid)
    return user, ids


async def test_poll_once_cut_mid_fetch_reports_and_then_catches_up(dovecot: DovecotServer, raw_imap: RawImap) -> None:
    user, ids = await _fill(raw_imap, dovecot)
    proxy = ImapCutProxy(dovecot.port, after_bytes=700, cuts=2).start()
    try:
        box = mailbox(user, proxy.port, folders=["INBOX"])  # type: ignore[arg-type]
        store, seen = InMemoryWatermarkStore(), Recorder()
        reports = []
        for _ in range(4):
            reports.append(await poll_once([box], store, seen, secrets_for(user.password), FAST))  # type: ignore[attr-defined]
    finally:
        proxy.stop()
    assert proxy.made == 2
    failed = [r.results[0] for r in reports if r.results[0].status == "failed"]
    assert len(failed) == 2 and all("lost" in f.reason or "cannot talk" in f.reason for f in failed), failed
    assert {seen.recorded[m].uid for m in seen.recorded} and set(seen.recorded) == ids
    assert len(seen.calls) == MESSAGES, "a message cut mid-FETCH was handed over twice"


async def test_daemon_poller_reconnects_after_cuts(dovecot: DovecotServer, raw_imap: RawImap) -> None:
    user, ids = await _fill(raw_imap, dovecot)
    proxy = ImapCutProxy(dovecot.port, after_bytes=500, cuts=3).start()
    stop = asyncio.Event()
    seen = Recorder()
    try:
        box = mailbox(user, proxy.port, folders=["INBOX"])  # type: ignore[arg-type]
        task = asyncio.create_task(run_poller([box], InMemoryWatermarkStore(), seen, stop,
                                              secrets_for(user.password), FAST))  # type: ignore[attr-defined]
        await seen.wait_for(MESSAGES, timeout=30)
        stop.set()
        await asyncio.wait_for(task, 15)
    finally:
        stop.set()
        proxy.stop()
    assert proxy.made == 3
    assert set(seen.recorded) == ids and len(seen.calls) == MESSAGES


def _workspace(root: Path) -> Path:
    (root / "sequences").mkdir(parents=True)
    (root / "domains").mkdir()
    (root / "config.toml").write_text(f'[database]\nurl = "sqlite:///{root / "db.sqlite"}"\n')
    (root / "domains" / "good.test.yaml").write_text(
        f"domain: good.test\ndkim_selectors: [sel]\nsending_ips: [{GOOD_IP}]\nsmtp: {{host: 127.0.0.1}}\n"
        "mailboxes:\n  - address: a@good.test\n")
    return root / "config.toml"


async def test_dns_servfail_and_timeouts_never_pause_nor_crash(dns_servers: DnsServers, tmp_path: Path) -> None:
    ws = load_workspace(_workspace(tmp_path))
    engine = open_store(ws.config.database_url)
    mailbox_store.sync(engine, ws)
    nsd = dns_servers.start(defect_zone())  # good.test in it passes every check
    front = DnsFault(upstream_port=nsd.port).start()
    zones = {"ip_zones": (IP_ZONE,), "domain_zones": (DOMAIN_ZONE,)}
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    verdicts = {}
    try:
        for mode in ("servfail", "drop", "forward"):
            front.mode = mode
            resolver = make_resolver(front.address, timeout=0.3, lifetime=0.6)
            result = await asyncio.wait_for(health_job(ws, engine, resolver, now, **zones), 30)
            report = result.reports[0]
            verdicts[mode] = report.verdict
            if mode != "forward":
                assert report.verdict != "pass" and any(f.code == "dns_error" for f in report.findings), report
                assert result.paused == [], f"a DNS outage ({mode}) must not pause sending"
            now += timedelta(hours=6)
    finally:
        front.stop()
    assert verdicts["forward"] == "pass"
    assert front.answered["servfail"] > 0 and front.answered["drop"] > 0
    with session_scope(engine) as s:
        assert {r.state for r in s.exec(select(MailboxState))} == {"active"}
