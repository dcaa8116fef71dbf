"""SPF record health: one record, syntax, lookups over the include tree, risky terms, size, sending IPs."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace

from outbound.health.dns import Answer, Lookup
from outbound.health.model import Finding
from outbound.health.spf import check_host
from outbound.health.spf_parse import DNS_MECHANISMS, Record, SpfSyntaxError, is_spf, parse_record, select_record

MAX_LOOKUPS = 10
MAX_SIZE = 450  # RFC 7208 §3.4: keep the answer within a 512-byte UDP reply


def _dns_trouble(ans: Answer) -> Finding:
    return Finding("spf", "warning", "dns_error", f"SPF lookup for {ans.name}: {ans.detail} (result unknown)",
                   "make sure every name server of the domain answers")


async def count_lookups(lookup: Lookup, record: Record, seen: frozenset[str]) -> tuple[int, list[str]]:
    """DNS-querying terms over the whole include/redirect tree (macros are counted, not followed)."""
    total = record.dns_terms
    notes: list[str] = []
    targets = [m.domain for m in record.mechanisms if m.name == "include" and m.domain]
    if record.redirect:
        targets.append(record.redirect)
    for target in targets:
        if "%" in target:
            continue
        name = target.lower().rstrip(".")
        if name in seen:
            notes.append(f"loop through {name}")
            continue
        ans = await lookup.query(name, "TXT")
        text, _ = select_record(ans.texts()) if ans.ok else (None, "")
        if text is None:
            notes.append(f"{name} has no usable SPF record")
            continue
        try:
            sub = parse_record(text)
        except SpfSyntaxError as exc:
            notes.append(f"{name}: {exc}")
            continue
        n, sub_notes = await count_lookups(lookup, sub, seen | {name})
        total += n
        notes += sub_notes
    return total, notes


def _ip_term(ip: str) -> str:
    return f"ip{'6' if ':' in ip else '4'}:{ip}"


def _listed(record: Record, ip: str) -> bool:
    """Whether an ip4:/ip6: term of the record itself covers the address."""
    addr = ipaddress.ip_address(ip)
    return any(m.network is not None and m.network.version == addr.version and addr in m.network
               for m in record.mechanisms)


def _with_ip(text: str, ip: str) -> str:
    """The record with ``ip4:``/``ip6:`` for the address added before its all (or at the end)."""
    terms = text.split()
    at = next((i for i, t in enumerate(terms) if t.lstrip("+-~?").lower() == "all"), len(terms))
    return " ".join([*terms[:at], _ip_term(ip), *terms[at:]])


def _strict_all(text: str) -> str:
    return " ".join("-all" if t.lstrip("+-~?").lower() == "all" else t for t in text.split())


def _lookup_terms(record: Record) -> str:
    terms = [str(m) for m in record.mechanisms if m.name in DNS_MECHANISMS]
    return ", ".join(terms + ([f"redirect={record.redirect}"] if record.redirect else []))


def _ip_fix(domain: str, text: str, record: Record, ip: str, result: str, why: str, lookups: int) -> str:
    """What to change so this IP passes: never the term the record already has."""
    if result == "permerror" and (lookups > MAX_LOOKUPS or "DNS-querying terms" in why):
        return (f"the record of {domain} needs {lookups} DNS lookups (limit {MAX_LOOKUPS}): replace some of "
                f"{_lookup_terms(record)} with the ip4:/ip6: ranges they stand for")
    if result == "permerror":
        return f"correct the record of {domain}: {why}"
    if _listed(record, ip):
        return f"{_ip_term(ip)} is in the record of {domain}, but an earlier term decides first: {why}"
    return f'add {_ip_term(ip)} to the SPF record of {domain}: "{_with_ip(text, ip)}"'


async def check_spf(lookup: Lookup, domain: str, ips: list[str]) -> list[Finding]:
    ans = await lookup.query(domain, "TXT")
    if ans.failed:
        return [_dns_trouble(ans)]
    spf = [t for t in ans.texts() if is_spf(t)] if ans.ok else []
    terms = " ".join(_ip_term(ip) for ip in ips) or "ip4:<your sending IP>"
    fix_one = f'publish one TXT record at {domain}: "v=spf1 {terms} -all"'
    if not spf:
        return [Finding("spf", "error", "missing", f"{domain} has no SPF record", fix_one)]
    if len(spf) > 1:
        return [Finding("spf", "error", "multiple", f"{domain} has {len(spf)} SPF records (receivers return permerror)",
                        f"merge them into a single v=spf1 record at {domain}: "
                        + " | ".join(repr(t.decode("utf-8", "replace")) for t in spf))]
    text, reason = select_record(spf)
    if text is None:
        return [Finding("spf", "error", "syntax", f"SPF record of {domain}: {reason}", "retype the record in plain ASCII")]
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        return [Finding("spf", "error", "syntax", f"SPF record of {domain}: {exc}",
                        f"correct the record at {domain} per RFC 7208: {text}")]
    out: list[Finding] = []
    lookups, notes = await count_lookups(lookup, record, frozenset({domain.lower()}))
    if lookups > MAX_LOOKUPS:
        out.append(Finding("spf", "error", "too_many_lookups", f"SPF needs {lookups} DNS lookups over its include tree (limit {MAX_LOOKUPS})",
                           f"cut them to {MAX_LOOKUPS}: replace some of {_lookup_terms(record)} with the ip4:/ip6: "
                           "ranges they stand for, or drop providers you no longer send through"))
    for note in notes:
        out.append(Finding("spf", "error", "include_broken", f"SPF include tree: {note}",
                           f"fix or remove that include in the record of {domain}"))
    alls = [m for m in record.mechanisms if m.name == "all"]
    if any(m.qualifier == "pass" for m in alls):
        # our own mail still passes; the risk is others spoofing the domain, not our mail refused
        out.append(Finding("spf", "warning", "plus_all", "SPF ends in +all: any server may send as this domain",
                           f'end the record with -all: "{_strict_all(text)}"'))
    elif any(m.qualifier == "neutral" for m in alls):
        out.append(Finding("spf", "warning", "neutral_all", "SPF ends in ?all: unlisted servers get neutral",
                           f'end the record with -all: "{_strict_all(text)}"'))
    elif not alls and record.redirect is None:
        out.append(Finding("spf", "warning", "no_all", "SPF has no all mechanism: unlisted servers get neutral", "end the record with -all or ~all"))
    if any(m.name == "ptr" for m in record.mechanisms):
        out.append(Finding("spf", "warning", "ptr", "SPF uses ptr, which RFC 7208 says not to use (slow, unreliable)", "list the addresses with ip4:/ip6: instead"))
    if len(text) > MAX_SIZE:
        out.append(Finding("spf", "warning", "size", f"SPF record is {len(text)} characters (keep under {MAX_SIZE})", "shorten it, e.g. with ip ranges"))
    results = await asyncio.gather(*(check_host(ip, domain, f"postmaster@{domain}", domain, lookup) for ip in ips))
    if ips and all(result == "pass" for result, _ in results):
        # a broken include after the term our IPs match is never reached for our mail
        out = [replace(f, severity="warning") if f.code == "include_broken" else f for f in out]
    for ip, (result, why) in zip(ips, results, strict=True):
        if result == "pass":
            out.append(Finding("spf", "info", "ip_pass", f"sending IP {ip} passes SPF"))
        elif result == "temperror":
            out.append(Finding("spf", "warning", "ip_unknown", f"SPF for {ip}: temperror ({why}); result unknown", "retry; check the name servers"))
        else:
            out.append(Finding("spf", "error", "ip_not_authorized", f"sending IP {ip} gets SPF {result} ({why})",
                               _ip_fix(domain, text, record, ip, result, why, lookups)))
    if not any(f.severity != "info" for f in out):
        out.append(Finding("spf", "info", "ok", f"SPF record is valid ({lookups} lookups): {text}"))
    return out
