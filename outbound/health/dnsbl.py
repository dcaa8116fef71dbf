"""Blocklists by the RFC 5782 convention: <reversed IP or domain>.<zone> has an A record when listed.

Answers in 127.255.255.0/24 are the list's way of saying the query itself was refused (public or
over-quota resolver), so they mean "unknown", never "listed".
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

from outbound.health.dns import Lookup
from outbound.health.model import Finding

IP_ZONES = ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org")
DOMAIN_ZONES = ("dbl.spamhaus.org", "multi.surbl.org", "multi.uribl.com")
_REFUSED = ipaddress.ip_network("127.255.255.0/24")
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def ip_query_name(ip: str, zone: str) -> str:
    addr = ipaddress.ip_address(ip)
    if addr.version == 4:
        return ".".join(reversed(str(addr).split("."))) + "." + zone
    return ".".join(reversed(addr.exploded.replace(":", ""))) + "." + zone


def classify(answers: list[str]) -> str:
    """'listed', 'refused' or 'error' for the A records of a DNSBL answer."""
    addrs = [ipaddress.ip_address(a) for a in answers]
    if any(a in _REFUSED for a in addrs):
        return "refused"
    if any(a in _LOOPBACK for a in addrs):
        return "listed"
    return "error"  # RFC 5782 §2.1: answers outside 127/8 are a misconfigured list


async def _probe(lookup: Lookup, subject: str, qname: str, zone: str, kind: str) -> Finding:
    ans = await lookup.query(qname, "A")
    if ans.void:
        return Finding("dnsbl", "info", "not_listed", f"{subject} is not listed on {zone}")
    if ans.failed:
        return Finding("dnsbl", "warning", "unknown", f"{zone} lookup for {subject}: {ans.detail} (unknown)", "retry later")
    codes = [r.address for r in ans.rdata]
    state = classify(codes)
    if state == "refused":
        return Finding("dnsbl", "warning", "refused", f"{zone} refused the query for {subject} ({', '.join(codes)}): listing unknown",
                       "query the list through your own resolver, not a public one")
    if state == "error":
        return Finding("dnsbl", "warning", "unknown", f"{zone} answered {', '.join(codes)} for {subject}: not a list answer", "ignore or check the zone")
    reason = ""
    txt = await lookup.query(qname, "TXT")
    if txt.ok:
        reason = ": " + txt.texts()[0].decode("utf-8", "replace")
    return Finding("dnsbl", "error", f"listed_{kind}", f"{subject} is listed on {zone} ({', '.join(codes)}){reason}",
                   f"find the cause (compromised host, bad list), then request removal from {zone}")


async def check_dnsbl(lookup: Lookup, domain: str, ips: list[str],
                      ip_zones: Sequence[str] = IP_ZONES, domain_zones: Sequence[str] = DOMAIN_ZONES) -> list[Finding]:
    probes = [_probe(lookup, ip, ip_query_name(ip, z), z, "ip") for ip in ips for z in ip_zones]
    probes += [_probe(lookup, domain, f"{domain}.{z}", z, "domain") for z in domain_zones]
    return list(await asyncio.gather(*probes))
