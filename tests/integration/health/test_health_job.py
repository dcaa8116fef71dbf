"""The daemon's health pass over real DNS: a failing domain's mailboxes pause, and resume once it passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from outbound.app.workspace import load_workspace
from outbound.core import events as ev
from outbound.health.job import health_job
from outbound.rulebook.decide import DOMAIN_CHECK_PAUSE
from outbound.rulebook.effects import SenderChange
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import open_store, session_scope, utcnow
from outbound.store.domain_health import latest_checks
from outbound.store.effects import change_senders
from outbound.store.gates import pass_gate
from outbound.store.tables import Event, MailboxState
from tests.fixtures.dns_server import DnsServers
from tests.integration.health.zones import DOMAIN_ZONE, GOOD_IP, IP_ZONE, defect_zone, healthy

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _workspace(root: Path) -> Path:
    (root / "sequences").mkdir(parents=True)
    (root / "domains").mkdir()
    (root / "config.toml").write_text(f'[database]\nurl = "sqlite:///{root / "db.sqlite"}"\n')
    for name in ("good.test", "twospf.test"):
        (root / "domains" / f"{name}.yaml").write_text(
            f"domain: {name}\ndkim_selectors: [sel]\nsending_ips: [{GOOD_IP}]\nsmtp: {{host: 127.0.0.1}}\n"
            f"mailboxes:\n  - address: a@{name}\n  - address: b@{name}\n")
    return root / "config.toml"


def _states(engine: object) -> dict[str, tuple[str, str | None]]:
    with session_scope(engine) as s:  # type: ignore[arg-type]
        return {r.address: (r.state, r.pause_reason) for r in s.exec(select(MailboxState))}


async def test_failing_domain_pauses_and_recovers(dns_servers: DnsServers, tmp_path: Path) -> None:
    ws = load_workspace(_workspace(tmp_path))
    engine = open_store(ws.config.database_url)
    mailbox_store.sync(engine, ws)
    zones = {"ip_zones": (IP_ZONE,), "domain_zones": (DOMAIN_ZONE,)}
    broken = dns_servers.start(defect_zone())
    try:
        result = await health_job(ws, engine, broken.resolver(), NOW, **zones)
    finally:
        broken.stop()
        dns_servers.running.remove(broken)
    assert {r.domain: r.verdict for r in result.reports} == {"good.test": "pass", "twospf.test": "fail"}
    states = _states(engine)
    assert states["a@good.test"] == ("active", None)
    for address in ("a@twospf.test", "b@twospf.test"):
        state, reason = states[address]
        assert state == "paused" and reason is not None and reason.startswith(DOMAIN_CHECK_PAUSE) and "spf" in reason
    # a pause made by hand is not lifted by the health check
    with session_scope(engine) as s:
        assert change_senders(s, SenderChange("pause", "mailbox", "b@good.test", "paused by hand"), utcnow())

    fixed_records = [r for r in defect_zone() if not r[0].endswith("twospf.test")] + healthy("twospf.test")
    fixed = dns_servers.start(fixed_records)
    try:
        again = await health_job(ws, engine, fixed.resolver(), NOW + timedelta(hours=6), **zones)
    finally:
        fixed.stop()
        dns_servers.running.remove(fixed)
    assert sorted(again.resumed) == ["a@twospf.test", "b@twospf.test"]
    states = _states(engine)
    assert states["a@twospf.test"] == ("active", None)
    assert states["b@good.test"] == ("paused", "paused by hand")
    # each check is kept with its findings: the dashboard shows the last one per domain
    last = latest_checks(engine, ["good.test", "twospf.test"])
    assert {d: c["verdict"] for d, (_, c) in last.items()} == {"good.test": "pass", "twospf.test": "pass"}
    assert last["twospf.test"][0] == NOW + timedelta(hours=6)
    with session_scope(engine) as s:
        first_fail = [e.data for e in s.exec(select(Event).where(col(Event.type) == ev.DOMAIN_CHECKED))
                      if e.data["domain"] == "twospf.test" and e.data["verdict"] == "fail"]
    [failed] = first_fail
    assert any(f["check"] == "spf" and f["severity"] == "error" and f["fix"] for f in failed["findings"]), failed


def test_gate_lets_one_caller_through_per_period(database_url: str) -> None:
    engine = open_store(database_url)
    every = timedelta(hours=6)
    assert pass_gate(engine, "health", NOW, every)
    assert not pass_gate(engine, "health", NOW + timedelta(minutes=1), every)
    assert not pass_gate(engine, "health", NOW + timedelta(hours=5, minutes=59), every)
    assert pass_gate(engine, "health", NOW + every, every)
    assert pass_gate(engine, "other", NOW, every)
