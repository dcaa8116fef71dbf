"""RFC 7208 check_host(): evaluates an SPF policy over real DNS.

`check_host(ip, domain, sender, helo, resolver)` returns (result, explanation); result is one of
pass, fail, softfail, neutral, none, permerror, temperror. It never raises for DNS or policy trouble.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import re
from dataclasses import dataclass, field

from outbound.health.dns import Answer, AsyncResolver, Lookup, reverse_name
from outbound.health.spf_parse import (
    MacroContext,
    Mechanism,
    Record,
    SpfSyntaxError,
    expand,
    parse_record,
    select_record,
    truncate_domain,
    valid_target,
)

__all__ = ["DEFAULT_EXPLANATION", "check_host", "check_mailfrom", "fetch_record"]

DEFAULT_EXPLANATION = "SPF fail - not authorized"
MAX_DNS_TERMS = 10
MAX_VOID = 2
MAX_MX = 10
MAX_PTR = 10

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Abort(Exception):
    """Ends evaluation with a final result (permerror or temperror)."""

    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


@dataclass
class _State:
    """Shared by one check_host() and every include/redirect below it."""

    lookup: Lookup
    ip: IP
    sender: str
    local: str
    sender_domain: str
    helo: str
    receiver: str
    dns_terms: int = 0
    void: int = 0
    chain: list[str] = field(default_factory=list)

    def count_term(self, what: str) -> None:
        self.dns_terms += 1
        if self.dns_terms > MAX_DNS_TERMS:
            raise _Abort("permerror", f"more than {MAX_DNS_TERMS} DNS-querying terms (at {what})")

    def count_void(self, ans: Answer) -> None:
        if ans.void:
            self.void += 1
            if self.void > MAX_VOID:
                raise _Abort("permerror", f"more than {MAX_VOID} void lookups (at {ans.name})")


def _parse_ip(ip: str) -> IP:
    addr = ipaddress.ip_address(ip.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # RFC 7208 §5: an IPv4-mapped client is an IPv4 client
    return addr


def _valid_identity(domain: str) -> bool:
    return not domain.startswith("[") and valid_target(domain)


async def check_host(
    ip: str, domain: str, sender: str, helo: str, resolver: AsyncResolver | Lookup, *, receiver: str = "unknown"
) -> tuple[str, str]:
    """RFC 7208 §4 check_host(). `sender` is the MAIL FROM (or postmaster@helo); returns (result, explanation)."""
    lookup = resolver if isinstance(resolver, Lookup) else Lookup(resolver)
    try:
        addr = _parse_ip(ip)
    except ValueError:
        return "permerror", f"{ip!r} is not an IP address"
    local, at, sdom = sender.rpartition("@")
    if not at:
        local, sdom = "postmaster", sender or domain
    local = local or "postmaster"
    domain = domain.rstrip(".")
    if not _valid_identity(domain):
        return "none", f"{domain!r} is not a valid domain name"
    state = _State(lookup, addr, f"{local}@{sdom}", local, sdom, helo, receiver)
    try:
        return await _evaluate(state, domain, top=True)
    except _Abort as stop:
        return stop.result, stop.reason


async def check_mailfrom(ip: str, mailfrom: str, helo: str, resolver: AsyncResolver | Lookup) -> tuple[str, str]:
    """The MAIL FROM identity (RFC 7208 §2.4); an empty reverse-path checks postmaster@HELO."""
    if mailfrom:
        domain = mailfrom.rpartition("@")[2]
        return await check_host(ip, domain, mailfrom, helo, resolver)
    return await check_host(ip, helo, f"postmaster@{helo}", helo, resolver)


async def fetch_record(lookup: Lookup, domain: str) -> tuple[str | None, str, str]:
    """(record text or None, status, reason); status is ok, none, permerror or temperror."""
    ans = await lookup.query(domain, "TXT")
    if ans.failed:
        return None, "temperror", f"TXT lookup for {domain}: {ans.detail}"
    if not ans.ok:
        return None, "none", f"no SPF record at {domain}"
    text, reason = select_record(ans.texts())
    if text is None:
        return None, ("none" if reason == "none" else "permerror"), (f"no SPF record at {domain}" if reason == "none" else reason)
    return text, "ok", ""


async def _evaluate(state: _State, domain: str, top: bool = False) -> tuple[str, str]:
    text, status, reason = await fetch_record(state.lookup, domain)
    if text is None:
        return status, reason
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        return "permerror", f"{domain}: {exc}"
    ctx = MacroContext(state.sender, state.local, state.sender_domain, domain, state.ip, state.helo, receiver=state.receiver)
    for mech in record.mechanisms:
        if await _matches(state, mech, ctx):
            if mech.qualifier == "fail" and record.exp is not None:
                return "fail", await _explain(state, record, ctx)
            return mech.qualifier, (DEFAULT_EXPLANATION if mech.qualifier == "fail" else f"matched {mech} in {domain}")
    if record.redirect is not None:
        state.count_term("redirect")
        target = await _target(state, record.redirect, ctx)
        if target is None:
            return "permerror", f"redirect={record.redirect} is not a valid domain"
        result, why = await _evaluate(state, target)
        if result == "none":
            return "permerror", f"redirect target {target} has no SPF record"
        return result, why
    return "neutral", f"no mechanism matched in {domain}"


async def _target(state: _State, spec: str | None, ctx: MacroContext) -> str | None:
    if spec is None:
        return ctx.domain
    if "%{p" in spec.lower():
        ctx = await _with_validated(state, ctx)
    name = truncate_domain(expand(spec, ctx))
    return name if valid_target(name) else None


async def _matches(state: _State, mech: Mechanism, ctx: MacroContext) -> bool:
    ip = state.ip
    if mech.name == "all":
        return True
    if mech.name in ("ip4", "ip6"):
        assert mech.network is not None
        return ip.version == mech.network.version and ip in mech.network
    state.count_term(mech.name)
    target = await _target(state, mech.domain, ctx)
    if mech.name == "include":
        if target is None:
            return False
        if target.lower() in state.chain:
            raise _Abort("permerror", f"include loop at {target}")
        state.chain.append(target.lower())
        try:
            result, why = await _evaluate(state, target)
        finally:
            state.chain.pop()
        if result in ("temperror", "permerror"):
            raise _Abort(result, why)
        if result == "none":
            raise _Abort("permerror", f"include:{target} has no SPF record")
        return result == "pass"
    if target is None:
        return False  # an expanded name that cannot exist matches nothing
    if mech.name == "exists":
        ans = await _query(state, target, "A")
        return ans.ok
    if mech.name == "a":
        ans = await _query(state, target, "A" if ip.version == 4 else "AAAA")
        return _in_any(ip, ans, mech)
    if mech.name == "mx":
        ans = await _query(state, target, "MX")
        if len(ans.rdata) > MAX_MX:
            raise _Abort("permerror", f"{target} has more than {MAX_MX} MX records")
        hosts = [h for h in ans.names() if h]
        rtype = "A" if ip.version == 4 else "AAAA"
        for host_ans in await asyncio.gather(*(state.lookup.query(h, rtype) for h in hosts)):
            if host_ans.failed:
                raise _Abort("temperror", host_ans.detail)
            if _in_any(ip, host_ans, mech):
                return True
        return False
    # ptr
    names = await _validated_names(state, count_void=True)
    t = target.lower().rstrip(".")
    return any(n == t or n.endswith("." + t) for n in names)


async def _query(state: _State, name: str, rtype: str) -> Answer:
    ans = await state.lookup.query(name, rtype)
    if ans.failed:
        raise _Abort("temperror", f"{name}/{rtype}: {ans.detail}")
    state.count_void(ans)
    return ans


def _in_any(ip: IP, ans: Answer, mech: Mechanism) -> bool:
    prefix = mech.cidr4 if ip.version == 4 else mech.cidr6
    for r in ans.rdata:
        try:
            net = ipaddress.ip_network(f"{r.address}/{prefix}", strict=False)
        except ValueError:
            continue
        if net.version == ip.version and ip in net:
            return True
    return False


async def _validated_names(state: _State, count_void: bool = False) -> list[str]:
    """RFC 7208 §5.5: PTR names whose forward lookup gives the IP back; errors skip the name."""
    ans = await state.lookup.query(reverse_name(str(state.ip)), "PTR")
    if count_void:
        state.count_void(ans)
    if not ans.ok:
        return []
    names = [n for n in ans.names() if n][:MAX_PTR]
    rtype = "A" if state.ip.version == 4 else "AAAA"
    results = await asyncio.gather(*(state.lookup.query(n, rtype) for n in names))
    out = []
    for name, fwd in zip(names, results, strict=True):
        if fwd.ok and any(ipaddress.ip_address(r.address) == state.ip for r in fwd.rdata):
            out.append(name)
    return out


async def _with_validated(state: _State, ctx: MacroContext) -> MacroContext:
    names = await _validated_names(state)
    dom = ctx.domain.lower()
    best = next((n for n in names if n == dom), None) or next((n for n in names if n.endswith("." + dom)), None)
    best = best or (names[0] if names else "unknown")
    return dataclasses.replace(ctx, validated=best)


async def _explain(state: _State, record: Record, ctx: MacroContext) -> str:
    """RFC 7208 §6.2: any trouble with exp= gives the default explanation, never another result."""
    try:
        target = await _target(state, record.exp, ctx)
        if target is None:
            return DEFAULT_EXPLANATION
        ans = await state.lookup.query(target, "TXT")
        texts = ans.texts() if ans.ok else []
        if len(texts) != 1 or any(b > 126 or b < 32 for b in texts[0]):
            return DEFAULT_EXPLANATION
        text = texts[0].decode("ascii")
        if re.search(r"%\{p", text, re.I):
            ctx = await _with_validated(state, ctx)
        return expand(text, ctx, exp=True)
    except (SpfSyntaxError, _Abort, ValueError):
        return DEFAULT_EXPLANATION
