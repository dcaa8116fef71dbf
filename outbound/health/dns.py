"""DNS access for the health checks: a per-run cache over a caller-supplied async resolver.

Every lookup returns an `Answer` value; DNS trouble (timeouts, SERVFAIL, refused) becomes a status,
never an exception, so the checks above can turn it into findings.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

from outbound.core.nameserver import parse_nameserver

Status = Literal["ok", "nxdomain", "nodata", "timeout", "error"]


class AsyncResolver(Protocol):
    async def resolve(self, qname: Any, rdtype: Any = ..., *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Answer:
    """Result of one query. `rdata` holds dnspython rdata objects; `canonical` is the name after CNAMEs."""

    name: str
    rdtype: str
    status: Status
    rdata: tuple[Any, ...] = ()
    canonical: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def void(self) -> bool:
        """No data and no error (RFC 7208 §4.6.4 'void lookup')."""
        return self.status in ("nxdomain", "nodata")

    @property
    def failed(self) -> bool:
        return self.status in ("timeout", "error")

    def texts(self) -> list[bytes]:
        """TXT strings of each record joined (a record split in 255-byte strings is one value)."""
        return [b"".join(r.strings) for r in self.rdata]

    def names(self) -> list[str]:
        return [str(getattr(r, "target", getattr(r, "exchange", r))).rstrip(".").lower() for r in self.rdata]


def to_name(text: str) -> dns.name.Name:
    """A domain as a DNS name, built label by label so odd ASCII (spaces, '%', ':') stays literal."""
    text = text.rstrip(".")
    if text.isascii():
        if not text:
            return dns.name.root
        return dns.name.Name([label.encode() for label in text.split(".")] + [b""])
    return dns.name.from_text(text)


def reverse_name(ip: str) -> str:
    return str(dns.reversename.from_address(str(ipaddress.ip_address(ip)))).rstrip(".")


@dataclass
class Lookup:
    """One run's view of DNS: concurrent identical queries share one request, results are cached."""

    resolver: AsyncResolver
    max_inflight: int = 200  # a burst of thousands of UDP queries overflows socket buffers and turns into timeouts
    cache: dict[tuple[str, str], asyncio.Future[Answer]] = field(default_factory=dict)
    queries: int = 0
    _gate: asyncio.Semaphore | None = None

    async def query(self, name: str, rdtype: str) -> Answer:
        key = (name.lower().rstrip("."), rdtype.upper())
        fut = self.cache.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._query(name, rdtype.upper()))
            self.cache[key] = fut
        return await asyncio.shield(fut)

    async def _query(self, name: str, rdtype: str) -> Answer:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.max_inflight)
        async with self._gate:
            return await self._query_now(name, rdtype)

    async def _query_now(self, name: str, rdtype: str) -> Answer:
        self.queries += 1
        try:
            qname = to_name(name)
        except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
            return Answer(name, rdtype, "error", detail=f"invalid name: {exc}")
        try:
            ans = await self.resolver.resolve(qname, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer(name, rdtype, "nxdomain", detail="no such domain (NXDOMAIN)")
        except dns.resolver.NoAnswer:
            return Answer(name, rdtype, "nodata", detail=f"no {rdtype} record")
        except dns.exception.Timeout:
            return Answer(name, rdtype, "timeout", detail="DNS query timed out")
        except dns.resolver.NoNameservers as exc:
            return Answer(name, rdtype, "error", detail=f"DNS servers failed: {_short(exc)}")
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return Answer(name, rdtype, "error", detail=f"DNS error: {_short(exc)}")
        canonical = str(ans.canonical_name).rstrip(".").lower()
        return Answer(name, rdtype, "ok", tuple(ans.rrset or ()), canonical)

    async def addresses(self, name: str, families: tuple[str, ...] = ("A", "AAAA")) -> tuple[list[str], Answer | None]:
        """All addresses of a name; the second value is the first failed answer, if any."""
        out: list[str] = []
        failure: Answer | None = None
        for ans in await asyncio.gather(*(self.query(name, t) for t in families)):
            if ans.ok:
                out.extend(r.address for r in ans.rdata)
            elif ans.failed and failure is None:
                failure = ans
        return out, failure


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def make_resolver(nameserver: str | None = None, timeout: float = 2.0, lifetime: float = 5.0) -> dns.asyncresolver.Resolver:
    """A resolver for the whole check: the system's, or exactly one server given as HOST[:PORT]."""
    if nameserver is None:
        res = dns.asyncresolver.Resolver()
    else:
        host, port = parse_nameserver(nameserver)
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = [host]
        res.port = port
    res.timeout = timeout
    res.lifetime = lifetime
    res.use_edns(0, 0, 1232)
    return res


RDTYPES = {t: dns.rdatatype.from_text(t) for t in ("A", "AAAA", "MX", "TXT", "PTR", "CNAME", "NS")}
