"""`outbound prospects verify` and `prospects import --verify` as subprocesses, against NSD on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.acceptance.conftest import Cli, sqlite_rows, write_csv
from tests.fixtures.dns_server import DnsServer, DnsServers
from tests.integration.verify.zones import verify_nsd

HEADER = "email,first_name,company"
ROWS = ["ann@mx.example,Ann,Acme", "info@mx.example,Info,Acme", "bob@nullmx.example,Bob,Null",
        "cat@gone.mx.example,Cat,Gone", "dan@aonly.example,Dan,Aonly", "eve@mailinator.com,Eve,Temp",
        "fay@slow0.example,Fay,Slow"]
EXPECTED = {"ann@mx.example": "valid", "info@mx.example": "risky", "bob@nullmx.example": "invalid",
            "cat@gone.mx.example": "invalid", "dan@aonly.example": "valid", "eve@mailinator.com": "risky",
            "fay@slow0.example": "unknown"}


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    with verify_nsd(dns_servers) as srv:
        yield srv


@pytest.fixture
def cli(workspace: Cli, server: DnsServer) -> Cli:
    """The workspace's resolver is the loopback NSD ([health] nameserver), with short timeouts."""
    assert workspace.config is not None
    text = workspace.config.read_text()
    text = text.replace("[health]\n", f'[health]\nnameserver = "{server.address}"\n', 1)
    text = text.replace("[verify]\n", '[verify]\ndns_timeout = "0.3s"\n', 1)
    workspace.config.write_text(text)
    return workspace


def statuses(config: Path) -> dict[str, tuple[str | None, str | None]]:
    return {e: (s, r) for e, s, r in sqlite_rows(config, "SELECT email, verify_status, verify_reasons FROM prospects")}


def test_verify_stores_a_result_per_address_and_retries_only_the_unknown(cli: Cli, tmp_path: Path) -> None:
    assert cli.config is not None
    csv = write_csv(tmp_path / "leads.csv", HEADER, ROWS)
    cli("prospects", "import", str(csv), "--source", "vendor-a").ok()
    cli("prospects", "verify").failed(2)  # which prospects: one of --source, --sequence, --all
    out = cli("prospects", "verify", "--source", "vendor-a", "--json").ok()
    doc = json.loads(out.out)
    assert {r["email"]: r["status"] for r in doc["results"]} == EXPECTED
    assert doc["summary"]["domains"] == 6 and doc["summary"]["invalid"] == 2
    stored = statuses(cli.config)
    assert {e: s for e, (s, _) in stored.items()} == EXPECTED
    assert "null-mx" in (stored["bob@nullmx.example"][1] or "") and "role" in (stored["info@mx.example"][1] or "")
    assert all(at is not None for (at,) in sqlite_rows(cli.config, "SELECT verified_at FROM prospects"))
    # a second run re-checks only the unknown one; --older-than 0 re-checks all
    again = cli("prospects", "verify", "--all").ok()
    assert "verified 1 address(es) at 1 domain(s)" in again.out and "fay@slow0.example" in again.out
    assert "checked again on the next verify" in again.out
    every = cli("prospects", "verify", "--all", "--older-than", "0").ok()
    assert "verified 7 address(es)" in every.out and "invalid 2" in every.out
    assert "bob@nullmx.example: null-mx" in every.out


def test_verify_mistakes_are_clear(cli: Cli) -> None:
    bad_age, bad_ns, no_seq = cli.many(("prospects", "verify", "--all", "--older-than", "soon"),
                                       ("prospects", "verify", "--all", "--nameserver", "dns.example"),
                                       ("prospects", "verify", "--sequence", "nope"))
    assert "--older-than 'soon'" in bad_age.failed(2).err
    assert "must be an IP address" in bad_ns.failed(2).err
    assert "nope" in no_seq.failed().err


def test_import_verify_enrolls_neither_invalid_nor_skipped_risky_addresses(cli: Cli, tmp_path: Path) -> None:
    assert cli.config is not None
    csv = write_csv(tmp_path / "leads.csv", HEADER, ROWS)
    out = cli("prospects", "import", str(csv), "--source", "vendor-b", "--verify", "--enroll", "agencies-reengage").ok().out
    assert "verified 7 address(es) at 6 domain(s): valid 2, risky 2, invalid 2, unknown 1" in out
    assert "address invalid or risky 4" in out
    assert "not enrolled bob@nullmx.example: address invalid: null-mx: nullmx.example accepts no mail" in out
    assert "not enrolled cat@gone.mx.example: address invalid: nxdomain" in out
    assert "not enrolled info@mx.example: address risky (verify_policy skip): role" in out
    assert "not enrolled eve@mailinator.com: address risky (verify_policy skip): disposable" in out
    enrolled = {e for (e,) in sqlite_rows(cli.config, "SELECT p.email FROM enrollments e JOIN prospects p "
                                                      "ON p.id = e.prospect_id")}
    assert enrolled == {"ann@mx.example", "dan@aonly.example", "fay@slow0.example"}  # unknown is not held back
    # a sequence whose verify_policy sends role addresses enrolls info@ (never the invalid ones)
    seq = cli.config.parent / "sequences" / "agencies-reengage.yaml"
    lax = seq.read_text().replace("name: agencies-reengage", "name: lax\nverify_policy: {role: send}")
    (seq.parent / "lax.yaml").write_text(lax)
    again = cli("enroll", "lax", "--source", "vendor-b").ok().out
    assert "skipped bob@nullmx.example: address invalid" in again and "skipped info@mx.example" not in again
    assert "skipped eve@mailinator.com: address risky (verify_policy skip): disposable" in again


def test_report_by_source_shows_each_sources_share_of_invalid_and_risky(cli: Cli, tmp_path: Path) -> None:
    cli("prospects", "import", str(write_csv(tmp_path / "a.csv", HEADER, ROWS)), "--source", "vendor-a", "--verify").ok()
    cli("prospects", "import", str(write_csv(tmp_path / "b.csv", HEADER, ["zed@mx.example,Zed,Acme"])),
        "--source", "vendor-b").ok()  # not verified: no share
    doc, text = cli.many(("report", "--by", "source", "--json"), ("report", "--by", "source"))
    by = {s["source"]: s for s in json.loads(doc.ok().out)["sources"]}
    assert (by["vendor-a"]["verified"], by["vendor-a"]["invalid"], by["vendor-a"]["risky"]) == (7, 2, 2)
    assert by["vendor-a"]["invalid_share"] == pytest.approx(2 / 7)
    assert by["vendor-b"]["verified"] == 0 and by["vendor-b"]["invalid_share"] is None
    assert text.ok().out.count("28.6%") == 2  # vendor-a's invalid and risky shares, each 2 of 7


def _two_window_days() -> tuple[str, str]:
    """10:00 and 11:55 London time on the next two days in a row of agencies-reengage's window (Tue to Thu,
    09:00-12:00), after today: the prospects are enrolled now, so fixed dates would be in their past."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    while day.weekday() not in (1, 2):  # Tuesday or Wednesday, so the next day is in the window too
        day += timedelta(days=1)
    london = ZoneInfo("Europe/London")
    first = datetime.combine(day, time(10, 0), london)
    second = datetime.combine(day + timedelta(days=1), time(11, 55), london)
    return first.isoformat(), second.isoformat()


def test_addresses_verified_after_enrollment_are_blocked_at_claim_with_the_reason_in_status(cli: Cli,
                                                                                          tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "late.csv", HEADER, ["bob@nullmx.example,Bob,Null", "info@mx.example,Info,Acme"])
    cli("prospects", "import", str(csv), "--source", "late", "--enroll", "agencies-reengage").ok()  # not verified yet
    cli("prospects", "verify", "--sequence", "agencies-reengage").ok()
    planned, due = _two_window_days()
    for now in (planned, due):  # planned in the window, then due
        cli("send", "--once", "--now", now)
    status = json.loads(cli("status", "--json", "--now", due).ok().out)
    text = json.dumps(status)
    assert "address invalid: null-mx" in text and "address risky (verify_policy skip): role" in text
    assert cli.config is not None and sqlite_rows(cli.config, "SELECT count(*) FROM sends") == [(0,)]  # nothing claimed
