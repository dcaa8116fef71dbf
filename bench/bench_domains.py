"""Time `outbound domains check` logic for 200 domains against a local NSD, and checkdmarc on the same domains.

usage: .venv/bin/python bench/bench_domains.py [N]     (needs nsd; checkdmarc is optional: pip install checkdmarc)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit_json, say
from outbound.health.checker import Target, check_target
from outbound.health.dns import Lookup
from tests.fixtures.dns_server import DnsServers, Record, find_nsd, txt
from tests.integration.health.zones import GOOD_IP, healthy


def zone(n: int) -> tuple[list[str], list[Record]]:
    names = [f"d{i:03d}.bench.test" for i in range(n)]
    records: list[Record] = [("10.2.0.192.in-addr.arpa", "PTR", "mail.bench.test."), ("mail.bench.test", "A", GOOD_IP)]
    for i, name in enumerate(names):
        if i % 4 == 1:  # a mix of healthy and broken domains
            records += healthy(name, spf=[(name, "TXT", txt("v=spf1 include:_spf.bench.test a mx ?all"))])
        elif i % 4 == 2:
            records += healthy(name, dmarc=[(f"_dmarc.{name}", "TXT", txt("v=DMARC1; p=none; pct=50"))])
        else:
            records += healthy(name)
    records.append(("_spf.bench.test", "TXT", txt(f"v=spf1 ip4:{GOOD_IP} ~all")))
    return names, records


async def ours(names: list[str], resolver: object) -> tuple[float, int]:
    t0 = time.perf_counter()
    lookup = Lookup(resolver)  # type: ignore[arg-type]
    reports = await asyncio.gather(*(check_target(Target(n, ["sel"], [GOOD_IP]), lookup) for n in names))
    return time.perf_counter() - t0, sum(len(r.findings) for r in reports)


def theirs(names: list[str], port: int) -> float | None:
    try:
        import checkdmarc
        from dns.nameserver import Do53Nameserver
    except ImportError:
        return None
    t0 = time.perf_counter()
    checkdmarc.check_domains(names, nameservers=[Do53Nameserver("127.0.0.1", port)], timeout=2.0)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("domains", nargs="?", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="50 domains")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    n = 50 if args.quick else args.domains
    nsd = find_nsd()
    if nsd is None:
        raise SystemExit("nsd is not installed")
    servers = DnsServers(nsd)
    figures: dict[str, object] = {"domains": n}
    try:
        names, records = zone(n)
        server = servers.start(records)
        ours_s, findings = asyncio.run(ours(names, server.resolver(timeout=2.0, lifetime=4.0)))
        figures["outbound_s"] = round(ours_s, 2)
        say(f"outbound: {n} domains in {ours_s:.2f} s ({findings} findings; "
            "SPF/DKIM/DMARC/MX/PTR/DNSBL/MTA-STS/TLS-RPT/BIMI)", as_json=args.json)
        theirs_s = theirs(names, server.port)
        if theirs_s is None:
            say("checkdmarc: not installed (pip install checkdmarc)", as_json=args.json)
        else:
            figures["checkdmarc_s"] = round(theirs_s, 2)
            figures["ratio"] = round(theirs_s / ours_s, 2)
            say(f"checkdmarc: {n} domains in {theirs_s:.2f} s", as_json=args.json)
            say(f"ratio checkdmarc/outbound: {theirs_s / ours_s:.1f}x", as_json=args.json)
    finally:
        servers.stop_all()
    if args.json:
        emit_json(figures)


if __name__ == "__main__":
    main()
