"""`outbound domains check` as a subprocess of .venv/bin/outbound against NSD serving defective domains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.common import ROOT
from tests.fixtures.dns_server import DnsServer, DnsServers
from tests.integration.health.zones import DOMAIN_ZONE, GOOD_IP, IP_ZONE, defect_zone

CHECKS = {"dns", "mx", "spf", "dkim", "dmarc", "ptr", "dnsbl", "mta_sts", "tls_rpt", "bimi", "provider"}


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    srv = dns_servers.start(defect_zone())
    yield srv
    srv.stop()
    dns_servers.running.remove(srv)


def outbound(server: DnsServer, cwd: Path, *args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    exe = ROOT / ".venv" / "bin" / "outbound"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "outbound.cli.app"]
    return subprocess.run([*cmd, "domains", "check", "--nameserver", server.address, "--ip", GOOD_IP, "--selector", "sel",
                           "--dnsbl-zone", IP_ZONE, "--dbl-zone", DOMAIN_ZONE, *args],
                          cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": str(columns)} if columns else None)


def test_json_output_and_exit_code(server: DnsServer, tmp_path: Path) -> None:
    proc = outbound(server, tmp_path, "--json", "good.test", "twospf.test", "pnone.test")
    assert proc.returncode == 2, proc.stderr
    reports = json.loads(proc.stdout)
    assert [(r["domain"], r["verdict"]) for r in reports] == [("good.test", "pass"), ("twospf.test", "fail"), ("pnone.test", "warn")]
    for report in reports:
        assert set(report) == {"domain", "verdict", "findings"}
        for f in report["findings"]:
            assert set(f) == {"check", "severity", "code", "message", "fix"}
            assert f["check"] in CHECKS and f["severity"] in ("error", "warning", "info")
    assert any(f["code"] == "multiple" and f["severity"] == "error" for f in reports[1]["findings"])


@pytest.mark.parametrize(("domain", "code"), [("good.test", 0), ("pnone.test", 1)])
def test_exit_codes(server: DnsServer, tmp_path: Path, domain: str, code: int) -> None:
    assert outbound(server, tmp_path, "--json", domain).returncode == code


def test_human_table(server: DnsServer, tmp_path: Path) -> None:
    proc = outbound(server, tmp_path, "cnamemx.test", columns=80)
    assert proc.returncode == 1  # a CNAME MX is a warning: mail and replies still flow
    assert "cnamemx.test" in proc.stdout and "CNAME" in proc.stdout and "Traceback" not in proc.stderr
    # at 80 columns every record and host name reads whole, never folded or cut mid-name
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80, proc.stdout
    for name in ("sel._domainkey.cnamemx.test:", "rua=mailto:dmarc@cnamemx.test", "default._bimi.cnamemx.test",
                 "alias.cnamemx.test"):
        assert name in proc.stdout, proc.stdout
    assert "…" not in proc.stdout


def test_bad_nameserver_is_a_clear_error(server: DnsServer, tmp_path: Path) -> None:
    exe = ROOT / ".venv" / "bin" / "outbound"
    proc = subprocess.run([str(exe), "domains", "check", "--nameserver", "not-an-ip:99", "x.test"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "name server must be an IP" in proc.stderr and "Traceback" not in proc.stderr
