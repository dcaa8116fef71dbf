"""Verifying a list: each distinct domain looked up once (concurrently, with a limit), each address
classified against its domain's verdict, and with ``probe`` each mail domain's MX asked once."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from outbound.verify.classify import Parsed, parse, verdict
from outbound.verify.domains import LookupLike, check_domain
from outbound.verify.model import DomainVerdict, ProbeVerdict, Verdict
from outbound.verify.probe import ProbeSettings, probe_domain


@dataclass
class RunStats:
    addresses: int = 0
    seen: set[str] = field(default_factory=set)  # the domains looked up (over several calls sharing these stats)
    probed: int = 0
    probe_errors: list[str] = field(default_factory=list)

    @property
    def domains(self) -> int:
        return len(self.seen)


async def verify_addresses(emails: Iterable[str], lookup: LookupLike, *, concurrency: int = 100,
                           probe: ProbeSettings | None = None, stats: RunStats | None = None) -> list[Verdict]:
    """One verdict per distinct address, in the order given."""
    stats = stats if stats is not None else RunStats()
    parsed = {e: parse(e) for e in dict.fromkeys(emails)}
    by_domain: dict[str, list[str]] = defaultdict(list)
    for email, p in parsed.items():
        if isinstance(p, Parsed):
            by_domain[p.domain].append(email)
    stats.addresses += len(parsed)
    stats.seen.update(by_domain)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(domain: str) -> tuple[str, DomainVerdict, ProbeVerdict | None]:
        async with gate:
            found = await check_domain(lookup, domain)
            result = None
            if probe is not None and found.status == "ok":
                result = await _probe(lookup, found, by_domain[domain], probe)
                stats.probed += 1
                if result.error:
                    stats.probe_errors.append(result.error)
            return domain, found, result

    done = await asyncio.gather(*(one(d) for d in by_domain))
    domains = {d: v for d, v, _ in done}
    probes = {d: p for d, _, p in done if p is not None}
    out: list[Verdict] = []
    for email, p in parsed.items():
        dom = p.domain if isinstance(p, Parsed) else None
        out.append(verdict(p, email, domains.get(dom) if dom else None, probes.get(dom) if dom else None))
    return out


async def _probe(lookup: LookupLike, domain: DomainVerdict, emails: list[str], settings: ProbeSettings) -> ProbeVerdict:
    """The first MX host that has an IPv4 address (looked up through the same resolver) is asked."""
    for host in domain.hosts:
        answer = await lookup.query(host, "A")
        if answer.status == "ok" and answer.rdata:
            return await probe_domain(str(answer.rdata[0].address), domain.domain, emails, settings)
    return ProbeVerdict(error=f"{domain.domain}: no address for its MX hosts")
