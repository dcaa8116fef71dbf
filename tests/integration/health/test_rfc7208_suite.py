"""The RFC 7208 conformance suite (openspf 2014.04) scored over real DNS: each scenario's zonedata is
served by its own NSD on loopback, and `outbound.check_host` runs every test against it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from outbound import check_host
from outbound.health.dns import Lookup
from outbound.health.spf import DEFAULT_EXPLANATION
from tests.fixtures.common import corpora_dir, unavailable
from tests.fixtures.dns_server import DnsServers, Record, txt

THRESHOLD = 200


def load_suite() -> list[dict[str, Any]]:
    path: Path = corpora_dir() / "spf" / "rfc7208-tests.yml"
    if not path.exists():
        unavailable(f"{path} is missing")
    return list(YAML(typ="safe").load_all(path.read_text(encoding="utf-8")))


def scenario_zone(zonedata: dict[str, list[Any]]) -> tuple[list[Record], dict[str, set[str]]]:
    """Records for one scenario; an SPF-type record is also served as TXT unless the name has its own."""
    records: list[Record] = []
    timeouts: dict[str, set[str]] = {}
    for name, entries in zonedata.items():
        own_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        present: set[str] = set()
        for entry in entries:
            if entry == "TIMEOUT":
                timeouts[name] = present
                continue
            ((rtype, value),) = entry.items()
            if value == "NONE":
                continue
            present.add(rtype)
            if rtype in ("SPF", "TXT"):
                strings = value if isinstance(value, list) else [value]
                records.append((name, rtype, txt(*strings)))
                if rtype == "SPF" and not own_txt:
                    records.append((name, "TXT", txt(*strings)))
                    present.add("TXT")
            elif rtype == "MX":
                pref, host = value
                records.append((name, "MX", f"{pref} {host.rstrip('.') + '.' if host else '.'}"))
            elif rtype in ("PTR", "CNAME"):
                records.append((name, rtype, value.rstrip(".") + "."))
            else:
                records.append((name, rtype, value))
    return records, timeouts


async def run_test(resolver: Any, test: dict[str, Any]) -> tuple[str, str]:
    helo, mailfrom = test["helo"], test.get("mailfrom") or ""
    if mailfrom:
        domain, sender = mailfrom.rpartition("@")[2], mailfrom
    else:
        domain, sender = helo, f"postmaster@{helo}"
    return await check_host(test["host"], domain, sender, helo, Lookup(resolver))


def judge(test: dict[str, Any], result: str, explanation: str) -> bool:
    expected = test["result"] if isinstance(test["result"], list) else [test["result"]]
    if result not in expected:
        return False
    want = test.get("explanation")
    if want is None or result != "fail":
        return True
    want = DEFAULT_EXPLANATION if want == "DEFAULT" else want
    # the suite spells %{ir} of an IPv6 address in upper case; DNS names compare case-insensitively
    return bool(explanation.casefold() == want.casefold())


async def test_rfc7208_suite_over_real_dns(dns_servers: DnsServers) -> None:
    scenarios = load_suite()
    total, passed, misses = 0, 0, []
    for scenario in scenarios:
        records, timeouts = scenario_zone(scenario["zonedata"])
        server = dns_servers.start(records, timeouts=timeouts)
        resolver = server.resolver(timeout=0.3, lifetime=0.6)
        tests = scenario["tests"]
        outcomes = await asyncio.gather(*(run_test(resolver, t) for t in tests.values()))
        for (tid, test), (result, explanation) in zip(tests.items(), outcomes, strict=True):
            total += 1
            if judge(test, result, explanation):
                passed += 1
            else:
                misses.append(f"{tid}: got {result} ({explanation!r}), want {test['result']} {test.get('explanation', '')!r}")
        server.stop()
        dns_servers.running.remove(server)
    print(f"\nRFC 7208 suite over NSD: {passed}/{total}")
    for miss in misses:
        print("  miss", miss)
    assert total == 203
    assert passed >= THRESHOLD, "\n".join(misses)
