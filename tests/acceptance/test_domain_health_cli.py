"""Domain health that pauses only what is broken, through the CLI against NSD on loopback.

A valid 1024-bit DKIM key is a warning (``domains check`` exits 1, readiness lines say "passes
(weak key)") and the daemon, asking the server named by ``[health] nameserver``, pauses nothing for
it, while a revoked key still pauses its domain. Fixes name the actual values and ride in ``--json``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.acceptance.conftest import Cli, spawn, stop
from tests.fixtures.common import free_port
from tests.fixtures.dns_server import DnsServer, DnsServers, txt
from tests.integration.health.zones import DOMAIN_ZONE, GOOD_IP, IP_ZONE, defect_zone, healthy


def _rsa1024() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    records = defect_zone() + healthy("weak1024.test", dkim=[
        ("sel._domainkey.weak1024.test", "TXT", txt("v=DKIM1; k=rsa; p=", _rsa1024()))])
    srv = dns_servers.start(records)
    yield srv
    srv.stop()
    dns_servers.running.remove(srv)


def check(server: DnsServer, tmp_path: Path, *domains: str) -> tuple[int, list[dict[str, Any]]]:
    result = Cli(cwd=tmp_path)("domains", "check", "--json", "--nameserver", server.address, "--ip", GOOD_IP,
                               "--selector", "sel", "--dnsbl-zone", IP_ZONE, "--dbl-zone", DOMAIN_ZONE, *domains,
                               config=False)
    assert "Traceback" not in result.text, result.text
    return result.code, json.loads(result.out)


def findings(report: dict[str, Any], **match: str) -> list[dict[str, str]]:
    return [f for f in report["findings"] if all(f[k] == v for k, v in match.items())]


def test_a_1024_bit_key_is_a_warning_and_readiness_passes_with_weak_key(server: DnsServer, tmp_path: Path) -> None:
    code, [report] = check(server, tmp_path, "weak1024.test")
    assert code == 1 and report["verdict"] == "warn", report
    [weak] = findings(report, check="dkim", code="weak_key")
    assert weak["severity"] == "warning" and "1024 bits" in weak["message"]
    assert "weak1024.test" in weak["fix"] and "sel" in weak["fix"]
    assert not findings(report, severity="error")
    readiness = {f["code"]: f["message"] for f in report["findings"] if f["check"] == "provider"}
    for code in ("gmail_yahoo_dkim_pass", "outlook_dkim_pass"):
        assert readiness[code].endswith("— passes (weak key)"), readiness


def test_fixes_name_the_actual_values_and_never_what_the_record_has(server: DnsServer, tmp_path: Path) -> None:
    code, reports = check(server, tmp_path, "lookups.test", "nodmarc.test", "pnone.test", "revoked.test")
    assert code == 2
    by = {r["domain"]: r for r in reports}
    # lookups.test has ip4:192.0.2.10, after 11 `a` terms: the permerror is the lookup count
    [ip] = findings(by["lookups.test"], code="ip_not_authorized")
    assert "permerror" in ip["message"]
    assert f"ip4:{GOOD_IP}" not in ip["fix"] and "add" not in ip["fix"]
    assert "11 DNS lookups" in ip["fix"] and "limit 10" in ip["fix"]
    [missing] = findings(by["nodmarc.test"], check="dmarc", code="missing")
    assert '_dmarc.nodmarc.test: "v=DMARC1; p=none; rua=mailto:dmarc@nodmarc.test"' in missing["fix"]
    [pnone] = findings(by["pnone.test"], check="dmarc", code="p_none")
    assert '"v=DMARC1; p=quarantine; rua=mailto:dmarc@pnone.test"' in pnone["fix"]
    [revoked] = findings(by["revoked.test"], check="dkim", code="revoked")
    assert "(not sel)" in revoked["fix"] and "._domainkey.revoked.test" in revoked["fix"]
    for report in reports:  # every problem says what to do
        assert all(f["fix"] for f in report["findings"] if f["severity"] == "error"), report


def _workspace(root: Path, nameserver: str) -> Cli:
    (root / "sequences").mkdir(parents=True)
    (root / "domains").mkdir()
    (root / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///{root / "outbound.db"}"\n[health]\nnameserver = "{nameserver}"\n')
    port = free_port()  # nothing listens: nothing is due, so nothing is sent
    for name in ("weak1024.test", "revoked.test"):
        (root / "domains" / f"{name}.yaml").write_text(
            f"domain: {name}\ndkim_selectors: [sel]\nsending_ips: [{GOOD_IP}]\n"
            f"smtp: {{host: 127.0.0.1, port: {port}, tls: none}}\nmailboxes:\n  - address: a@{name}\n")
    return Cli(config=root / "config.toml", cwd=root)


def test_the_daemon_asks_the_configured_resolver_and_pauses_only_the_broken_domain(
        server: DnsServer, tmp_path: Path) -> None:
    cli = _workspace(tmp_path / "ws", server.address)
    log = tmp_path / "run.log"
    proc = spawn(cli, "run", log=log)
    try:
        deadline = time.monotonic() + 60
        while "domain health:" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        stop(proc)
    text = log.read_text()
    assert "domain health:" in text, text
    assert "weak1024.test warn" in text and "revoked.test fail" in text, text
    boxes = {m["address"]: m for m in json.loads(cli("status", "--json").ok().out)["mailboxes"]}
    assert boxes["a@weak1024.test"]["state"] == "active", boxes
    assert boxes["a@revoked.test"]["state"] == "paused" and "dkim" in boxes["a@revoked.test"]["pause_reason"]


def test_a_bad_health_nameserver_is_a_config_error(tmp_path: Path) -> None:
    cli = _workspace(tmp_path / "ws", "dns.example:53")
    result = cli("validate").failed()
    assert "[health.nameserver] 'dns.example:53': the name server must be an IP address" in result.err
