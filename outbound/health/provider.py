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


_CAVEATS = {"weak_key": "weak key", "testing": "testing mode"}  # DKIM warnings a passing key may carry


def _caveat(findings: list[Finding], checks: tuple[str, ...]) -> str:
    notes = [_CAVEATS[f.code] for f in findings if f.check in checks and f.check == "dkim" and f.code in _CAVEATS]
    return f" ({', '.join(dict.fromkeys(notes))})" if notes else ""


def _broken(findings: list[Finding], checks: tuple[str, ...]) -> bool:
    return any(f.check in checks and f.severity == "error" for f in findings)


def provider_lines(findings: list[Finding], has_ips: bool, dmarc_policy: str | None, alignment: bool) -> list[Finding]:
    """One line per provider rule. A rule fails (an error) only when a finding it is read from is an
    error: the verdict, and so the daemon's pauses, follow the record findings, never these lines."""
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
        ("outlook", "SPF record valid", spf),
        ("outlook", "DKIM key valid", dkim),
        ("outlook", "DMARC at least p=none, aligned with SPF or DKIM", dmarc and alignment),
    ]
    out: list[Finding] = []
    for who, rule, ok in rules:
        label = "Gmail/Yahoo bulk sender" if who == "gmail_yahoo" else "Outlook high-volume"
        code = f"{who}_{rule.split()[0].lower().replace('/', '')}"
        depends = _DEPENDS.get(rule.split()[0], ()) + (("dmarc",) if who == "outlook" and "DMARC" in rule else ())
        if ok is None:
            out.append(Finding("provider", "info", f"{code}_unverifiable", f"{label}: {rule} — not verifiable (no sending IP known)"))
        elif ok:
            out.append(Finding("provider", "info", f"{code}_pass", f"{label}: {rule} — passes{_caveat(findings, depends)}"))
        elif _dns_failed(findings, depends):
            # a DNS outage must not read as a broken domain: the daemon pauses mailboxes on "fail"
            out.append(Finding("provider", "warning", f"{code}_unknown", f"{label}: {rule} — unknown (DNS lookups failed)",
                               "check that the domain's name servers answer"))
        elif _broken(findings, depends + (("dmarc",) if "aligned" in rule else ())):
            out.append(Finding("provider", "error", f"{code}_fail", f"{label}: {rule} — fails", "see the matching finding above"))
        else:  # nothing broken, nothing shown either (e.g. no DKIM selector known)
            out.append(Finding("provider", "warning", f"{code}_unconfirmed", f"{label}: {rule} — not confirmed",
                               "see the matching finding above"))
    for rule in ("one-click unsubscribe headers (RFC 8058) on marketing mail", "spam complaint rate under 0.3% (Postmaster Tools)",
                 "TLS for SMTP transmission"):
        out.append(Finding("provider", "info", "unverifiable", f"Gmail/Yahoo/Outlook: {rule} — not verifiable from DNS"))
    return out
