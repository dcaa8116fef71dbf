"""Mailbox-provider readiness: Gmail/Yahoo bulk-sender and Outlook high-volume rules, from the other findings.

Rules DNS cannot show (one-click unsubscribe headers, complaint rate, TLS in transit) are reported as
'not verifiable', never as passed.
"""

from __future__ import annotations

from outbound.health.model import Finding


def _ok(findings: list[Finding], check: str) -> bool:
    mine = [f for f in findings if f.check == check]
    return bool(mine) and not any(f.severity == "error" for f in mine) and not any(f.code in ("dns_error", "missing") for f in mine)


def _dns_failed(findings: list[Finding], checks: tuple[str, ...]) -> bool:
    """A lookup a rule depends on failed (timeout, SERVFAIL): its result is unknown, not a fail."""
    return any(f.check in checks and f.code in ("dns_error", "unknown") for f in findings)


# the record checks each rule is read from
_DEPENDS = {"SPF": ("spf",), "DKIM": ("dkim",), "DMARC": ("dmarc",), "From": ("spf", "dkim"), "sending": ("ptr",)}


def provider_lines(findings: list[Finding], has_ips: bool, dmarc_policy: str | None, alignment: bool) -> list[Finding]:
    spf = _ok(findings, "spf")
    dkim = any(f.check == "dkim" and f.code == "ok" for f in findings)
    dmarc = dmarc_policy is not None
    ptr = has_ips and _ok(findings, "ptr")
    rules: list[tuple[str, str, bool | None]] = [
        ("gmail_yahoo", "SPF passes for the domain", spf),
        ("gmail_yahoo", "DKIM key published and valid", dkim),
        ("gmail_yahoo", "DMARC published (p=none or stricter)", dmarc),
        ("gmail_yahoo", "From domain aligned with SPF or DKIM", alignment),
        ("gmail_yahoo", "sending IPs have forward-confirmed reverse DNS", ptr if has_ips else None),
        ("outlook", "SPF passes", spf),
        ("outlook", "DKIM passes", dkim),
        ("outlook", "DMARC at least p=none, aligned with SPF or DKIM", dmarc and alignment),
    ]
    out: list[Finding] = []
    for who, rule, ok in rules:
        label = "Gmail/Yahoo bulk sender" if who == "gmail_yahoo" else "Outlook high-volume"
        code = f"{who}_{rule.split()[0].lower().replace('/', '')}"
        if ok is None:
            out.append(Finding("provider", "info", f"{code}_unverifiable", f"{label}: {rule} — not verifiable (no sending IP known)"))
        elif ok:
            out.append(Finding("provider", "info", f"{code}_pass", f"{label}: {rule} — pass"))
        elif _dns_failed(findings, _DEPENDS.get(rule.split()[0], ()) + (("dmarc",) if who == "outlook" and "DMARC" in rule else ())):
            # a DNS outage must not read as a broken domain: the daemon pauses mailboxes on "fail"
            out.append(Finding("provider", "warning", f"{code}_unknown", f"{label}: {rule} — unknown (DNS lookups failed)",
                               "check that the domain's name servers answer"))
        else:
            out.append(Finding("provider", "error", f"{code}_fail", f"{label}: {rule} — fail", "see the matching finding above"))
    for rule in ("one-click unsubscribe headers (RFC 8058) on marketing mail", "spam complaint rate under 0.3% (Postmaster Tools)",
                 "TLS for SMTP transmission"):
        out.append(Finding("provider", "info", "unverifiable", f"Gmail/Yahoo/Outlook: {rule} — not verifiable from DNS"))
    return out
