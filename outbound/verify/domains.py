"""A domain's mail hosts from DNS (RFC 5321 §5.1): its MX records; a null MX (RFC 7505) refuses mail;
with no MX at all its own A/AAAA is the implicit MX. NXDOMAIN is invalid, SERVFAIL or a timeout
unknown: a resolver's trouble says nothing about the address.

The lookups go through the caller's ``Lookup`` (the one the health checks use: per-run cache, a
limit on queries in flight), so each domain is asked once per record type per run.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from outbound.verify.model import DNS_FAILED, NO_MAIL_HOST, NULL_MX, NXDOMAIN, DomainVerdict


class AnswerLike(Protocol):
    @property
    def status(self) -> str: ...  # ok | nxdomain | nodata | timeout | error
    @property
    def rdata(self) -> tuple[Any, ...]: ...
    @property
    def detail(self) -> str: ...


class LookupLike(Protocol):
    async def query(self, name: str, rdtype: str) -> Any: ...


def mx_hosts(rdata: tuple[Any, ...]) -> tuple[tuple[str, ...], bool]:
    """The exchanges in preference order, and whether the set is a null MX (one record, exchange '.')."""
    ordered = sorted(rdata, key=lambda r: (int(r.preference), str(r.exchange)))
    names = tuple(str(r.exchange).rstrip(".").lower() for r in ordered)
    return tuple(n for n in names if n), any(not n for n in names)


def from_answers(domain: str, mx: AnswerLike, a: AnswerLike | None = None, aaaa: AnswerLike | None = None) -> DomainVerdict:
    """The verdict from the MX answer and, when there is no MX, the A and AAAA answers (pure)."""
    if mx.status == "ok":
        hosts, null = mx_hosts(mx.rdata)
        if null and not hosts:
            return DomainVerdict(domain, "invalid", code=NULL_MX, detail=f"{domain} accepts no mail (null MX, RFC 7505)")
        return DomainVerdict(domain, "ok", hosts)
    if mx.status == "nxdomain":
        return DomainVerdict(domain, "invalid", code=NXDOMAIN, detail=f"{domain} does not exist (NXDOMAIN)")
    if mx.status != "nodata":
        return DomainVerdict(domain, "unknown", code=DNS_FAILED, detail=f"MX of {domain}: {mx.detail}")
    answers = [x for x in (a, aaaa) if x is not None]
    if any(x.status == "ok" and x.rdata for x in answers):
        return DomainVerdict(domain, "ok", (domain,))  # the implicit MX
    failed = next((x for x in answers if x.status not in ("nxdomain", "nodata")), None)
    if failed is not None:
        return DomainVerdict(domain, "unknown", code=DNS_FAILED, detail=f"address of {domain}: {failed.detail}")
    return DomainVerdict(domain, "invalid", code=NO_MAIL_HOST, detail=f"{domain} has no MX and no A/AAAA record")


async def check_domain(lookup: LookupLike, domain: str) -> DomainVerdict:
    """MX first; A and AAAA (concurrently) only when the domain has no MX."""
    mx = await lookup.query(domain, "MX")
    if mx.status != "nodata":
        return from_answers(domain, mx)
    a, aaaa = await asyncio.gather(lookup.query(domain, "A"), lookup.query(domain, "AAAA"))
    return from_answers(domain, mx, a, aaaa)
