"""Verify 100,000 addresses over 5,000 domains against a local NSD: the rate, and the DNS queries it took
(one per domain and record type: MX, and A + AAAA only for a domain without MX). Baseline: email-validator's
own deliverability check (synchronous, a lookup per address) on a sample, through the same server.

usage: .venv/bin/python -m bench.bench_verify [ADDRESSES] [--domains N] [--quick] [--json]     (needs nsd)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit_json, say
from outbound.health.dns import Lookup
from outbound.verify.run import RunStats, verify_addresses
from tests.fixtures.dns_server import DnsServers, Record, find_nsd

ORIGIN = "bench.example"
BASELINE_SAMPLE = 1000


def domain_name(i: int) -> str:
    return f"d{i:05d}.{ORIGIN}"


def zone(domains: int) -> list[Record]:
    """80 % MX, 10 % A only (the implicit MX), 5 % null MX; the last 5 % are not in the zone (NXDOMAIN)."""
    records: list[Record] = [(f"mx.{ORIGIN}", "A", "192.0.2.25")]
    for i in range(domains):
        name, kind = domain_name(i), i % 20
        if kind < 16:
            records.append((name, "MX", f"10 mx.{ORIGIN}."))
        elif kind < 18:
            records.append((name, "A", "192.0.2.80"))
        elif kind == 18:
            records.append((name, "MX", "0 ."))
    return records


def addresses(n: int, domains: int) -> list[str]:
    """``n`` distinct addresses spread evenly over the domains; every 25th a role address, every 499th bad syntax."""
    out = []
    for i in range(n):
        local = f"info+{i}" if i % 25 == 0 else f"person{i}"
        out.append(f"{local}@@{domain_name(i % domains)}" if i % 499 == 7 else f"{local}@{domain_name(i % domains)}")
    return out


async def ours(emails: list[str], resolver: object, concurrency: int) -> tuple[float, int, Counter[str], int]:
    lookup = Lookup(resolver, max_inflight=2 * concurrency)  # type: ignore[arg-type]
    stats = RunStats()
    t0 = time.perf_counter()
    verdicts = await verify_addresses(emails, lookup, concurrency=concurrency, stats=stats)
    return time.perf_counter() - t0, lookup.queries, Counter(v.status for v in verdicts), stats.domains


def theirs(emails: list[str], port: int) -> float:
    """email-validator with check_deliverability: its resolver (no cache), one address after another."""
    import dns.resolver
    from email_validator import EmailNotValidError, validate_email

    res = dns.resolver.Resolver(configure=False)
    res.nameservers, res.port, res.timeout, res.lifetime = ["127.0.0.1"], port, 2.0, 4.0
    t0 = time.perf_counter()
    for email in emails:
        with contextlib.suppress(EmailNotValidError):
            validate_email(email, check_deliverability=True, dns_resolver=res)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("addresses", nargs="?", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="10,000 addresses over 500 domains")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    n, domains = (10_000, 500) if args.quick else (args.addresses, args.domains)
    nsd = find_nsd()
    if nsd is None:
        raise SystemExit("nsd is not installed")
    servers = DnsServers(nsd)
    try:
        server = servers.start({ORIGIN: zone(domains)})
        emails = addresses(n, domains)
        seconds, queries, counts, looked_up = asyncio.run(ours(emails, server.resolver(timeout=2.0, lifetime=4.0),
                                                               args.concurrency))
        rate = n / seconds
        expected = looked_up + 2 * sum(1 for i in range(domains) if i % 20 in (16, 17))  # MX each; A+AAAA without MX
        figures: dict[str, object] = {"addresses": n, "domains": looked_up, "seconds": round(seconds, 2),
                                      "per_s": round(rate), "dns_queries": queries, "expected_queries": expected,
                                      "statuses": dict(counts)}
        say(f"outbound: {n:,} addresses over {looked_up:,} domains in {seconds:.2f} s = {rate:,.0f} addresses/s; "
            f"{queries:,} DNS queries (one per domain and record type: {expected:,}); "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())), as_json=args.json)
        sample = emails[:BASELINE_SAMPLE]
        base = theirs(sample, server.port)
        figures["baseline_per_s"] = round(len(sample) / base)
        figures["ratio"] = round(rate / (len(sample) / base), 1)
        say(f"email-validator check_deliverability: {len(sample):,} addresses in {base:.2f} s = "
            f"{len(sample) / base:,.0f} addresses/s (a lookup per address, one at a time)", as_json=args.json)
    finally:
        servers.stop_all()
    if args.json:
        emit_json(figures)


if __name__ == "__main__":
    main()
