"""The domain health check: runs every record check for a domain concurrently and builds its report."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from outbound.health.dkim import check_dkim
from outbound.health.dns import AsyncResolver, Lookup
from outbound.health.dnsbl import DOMAIN_ZONES, IP_ZONES, check_dnsbl
from outbound.health.model import CheckName, Finding, HealthReport
from outbound.health.mx_ptr import check_mx, check_ptr
from outbound.health.policy_check import check_bimi, check_dmarc, check_mta_sts, check_tls_rpt
from outbound.health.provider import provider_lines
from outbound.health.spf_check import check_spf
from outbound.spec.domain import SendingDomain


@dataclass(frozen=True)
class Target:
    """What the check needs to know about a domain (a workspace domain, or defaults for any name)."""

    domain: str
    selectors: list[str] = field(default_factory=list)
    sending_ips: list[str] = field(default_factory=list)
    smtp_hosts: list[str] = field(default_factory=list)
    send_only: bool = False

    @classmethod
    def of(cls, d: SendingDomain) -> Target:
        hosts = {d.smtp_for(mb).host for mb in d.mailboxes}
        return cls(d.domain, list(d.dkim_selectors), list(d.sending_ips), sorted(hosts), d.send_only)


async def _guard(check: CheckName, step: Awaitable[list[Finding]]) -> list[Finding]:
    """A check step must never take the whole report down: an unexpected bug becomes a finding."""
    try:
        return await step
    except Exception as exc:
        return [Finding(check, "warning", "check_failed", f"{check} check could not run: {type(exc).__name__}: {exc}",
                        "report this as a bug in outbound")]


async def _sending_ips(lookup: Lookup, t: Target) -> tuple[list[str], list[Finding]]:
    if t.sending_ips:
        return list(t.sending_ips), []
    ips: list[str] = []
    for host in t.smtp_hosts:
        try:
            ipaddress.ip_address(host)
            ips.append(host)
            continue
        except ValueError:
            pass
        addrs, _ = await lookup.addresses(host)
        ips += [a for a in addrs if a not in ips]
    note = Finding("dns", "info", "ips_from_smtp", f"sending IPs taken from the SMTP hosts: {', '.join(ips) or 'none found'}",
                   "list sending_ips in the domain file for exact checks")
    return ips, [note]


async def check_target(t: Target, resolver: AsyncResolver | Lookup, *, ip_zones: Sequence[str] = IP_ZONES,
                       domain_zones: Sequence[str] = DOMAIN_ZONES) -> HealthReport:
    lookup = resolver if isinstance(resolver, Lookup) else Lookup(resolver)
    report = HealthReport(t.domain)
    soa = await lookup.query(t.domain, "SOA")
    if soa.status == "nxdomain":
        report.findings.append(Finding("dns", "error", "nxdomain", f"{t.domain} does not exist in DNS", "register the domain or fix its spelling"))
        return report
    if soa.failed:
        report.findings.append(Finding("dns", "warning", "dns_error", f"{t.domain}: {soa.detail} (results may be unknown)",
                                       "check that the domain's name servers answer"))
    ips, notes = await _sending_ips(lookup, t)
    report.findings += notes
    groups = await asyncio.gather(
        _guard("mx", check_mx(lookup, t.domain, t.send_only)),
        _guard("spf", check_spf(lookup, t.domain, ips)),
        _guard("dkim", check_dkim(lookup, t.domain, t.selectors)),
        _guard("ptr", check_ptr(lookup, ips)),
        _guard("dnsbl", check_dnsbl(lookup, t.domain, ips, ip_zones, domain_zones)),
        _guard("mta_sts", check_mta_sts(lookup, t.domain)),
        _guard("tls_rpt", check_tls_rpt(lookup, t.domain)),
        _guard("bimi", check_bimi(lookup, t.domain)),
    )
    try:
        dmarc_findings, policy = await check_dmarc(lookup, t.domain)
    except Exception as exc:
        dmarc_findings, policy = [Finding("dmarc", "warning", "check_failed", f"dmarc check could not run: {exc}")], None
    findings = [f for g in groups for f in g] + dmarc_findings
    # Mailboxes are on the domain, so MAIL FROM and DKIM d= are the From domain: alignment needs one of them to pass.
    spf_pass = any(f.code == "ip_pass" for f in findings) and not any(f.check == "spf" and f.severity == "error" for f in findings)
    dkim_ok = any(f.check == "dkim" and f.code == "ok" for f in findings)
    alignment = spf_pass or dkim_ok
    if policy is not None:
        if alignment:
            via = " and ".join(x for x, ok in (("SPF", spf_pass), ("DKIM", dkim_ok)) if ok)
            findings.append(Finding("dmarc", "info", "alignment_possible", f"From {t.domain} can align through {via}"))
        else:
            findings.append(Finding("dmarc", "error", "alignment_impossible",
                                    f"neither SPF nor DKIM can pass for {t.domain}: DMARC fails for all mail",
                                    _alignment_fix(t, ips)))
    findings += provider_lines(findings, bool(ips), policy, alignment)
    report.findings += findings
    return report


def _alignment_fix(t: Target, ips: list[str]) -> str:
    selectors = ", ".join(f"{s}._domainkey.{t.domain}" for s in t.selectors) or f"<selector>._domainkey.{t.domain}"
    terms = " ".join(f"ip{'6' if ':' in ip else '4'}:{ip}" for ip in ips) or "<your sending IPs>"
    return f"publish a valid DKIM key at {selectors}, or authorise {terms} in the SPF record of {t.domain}"


async def check_domains(domains: Sequence[SendingDomain], resolver: AsyncResolver, *, ip_zones: Sequence[str] = IP_ZONES,
                        domain_zones: Sequence[str] = DOMAIN_ZONES, extra: Sequence[str] = ()) -> list[HealthReport]:
    """Check every domain concurrently (one shared per-run DNS cache); `extra` are bare names checked with defaults."""
    lookup = Lookup(resolver)
    targets = [Target.of(d) for d in domains] + [Target(name.lower().rstrip(".")) for name in extra]
    return list(await asyncio.gather(*(check_target(t, lookup, ip_zones=ip_zones, domain_zones=domain_zones) for t in targets)))
