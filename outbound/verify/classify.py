"""Pure classification: an address's syntax, its local part and domain, and what DNS and the probe said."""

from __future__ import annotations

from dataclasses import dataclass

import disposable_email_domains
from email_validator import EmailNotValidError, validate_email

from outbound.prospects.freemail import is_free_mail
from outbound.verify.model import (
    CATCH_ALL,
    DISPOSABLE,
    FREE_MAIL,
    REJECTED,
    ROLE,
    SYNTAX,
    DomainVerdict,
    ProbeVerdict,
    Status,
    Verdict,
)

# RFC 2142 mailbox names and the shared inboxes every company has: mail there reaches a team or a
# ticket queue (or nobody), not the person a sequence is written for
_ROLES = """
abuse admin administrator billing careers contact customercare customerservice dev devnull enquiries
feedback finance ftp hello help helpdesk hostmaster hr info inquiries invoice invoices it jobs legal
mail mailer-daemon marketing media news newsletter no-reply noc noreply office operations orders
postmaster press privacy recruiting recruitment reply root sales security service support team
usenet uucp webmaster www
"""
ROLE_NAMES = frozenset(_ROLES.split())

DISPOSABLE_DOMAINS: frozenset[str] = frozenset(disposable_email_domains.blocklist)


@dataclass(frozen=True)
class Parsed:
    """An address that passed the syntax check: the local part, and the domain in ASCII (IDNA) for DNS."""

    email: str
    local: str
    domain: str


def parse(email: str) -> Parsed | str:
    """The address split and its domain IDNA-encoded, or why its syntax is refused."""
    try:
        found = validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return f"{SYNTAX}: {exc}"
    return Parsed(email, found.local_part, (found.ascii_domain or found.domain).lower())


def is_role(local: str) -> bool:
    """``info``, ``no-reply``, ``sales+eu``, ``support.de``: a role name before any '+' tag or '.' suffix."""
    base = local.lower().split("+", 1)[0]
    return base in ROLE_NAMES or base.split(".", 1)[0] in ROLE_NAMES or base.replace("_", "-") in ROLE_NAMES


def is_disposable(domain: str) -> bool:
    """The domain or a parent of it is on the maintained list of throwaway-mail domains."""
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


def classify(parsed: Parsed | str, domain: DomainVerdict | None, probe: ProbeVerdict | None = None) -> tuple[Status, tuple[str, ...]]:
    """The status and reasons of one address. Order matters: a refused syntax or domain is invalid
    whatever else holds; DNS trouble is unknown (retried on the next verify, never invalid); otherwise
    role, disposable and catch-all make it risky, and free-mail is only flagged."""
    if isinstance(parsed, str):
        return "invalid", (parsed,)
    reasons: list[str] = []
    risky: list[str] = []
    if is_role(parsed.local):
        risky.append(f"{ROLE}: {parsed.local}@ is a role address")
    if is_disposable(parsed.domain):
        risky.append(f"{DISPOSABLE}: {parsed.domain} is a disposable-mail domain")
    if domain is not None and domain.status == "invalid":
        return "invalid", (f"{domain.code}: {domain.detail}", *risky)
    if probe is not None and parsed.email in probe.refused:
        return "invalid", (f"{REJECTED}: the mail server refused it: {probe.refused[parsed.email]}", *risky)
    if probe is not None and probe.catch_all:
        risky.append(f"{CATCH_ALL}: {parsed.domain} accepts any address, this one cannot be confirmed")
    if is_free_mail(parsed.domain):
        reasons.append(f"{FREE_MAIL}: {parsed.domain} is a free-mail provider")
    if domain is None or domain.status == "unknown":
        detail = domain.detail if domain is not None else "the domain was not looked up"
        return "unknown", (f"{domain.code if domain else 'dns-failed'}: {detail}", *risky, *reasons)
    return ("risky" if risky else "valid"), (*risky, *reasons)


def verdict(parsed: Parsed | str, email: str, domain: DomainVerdict | None, probe: ProbeVerdict | None = None) -> Verdict:
    status, reasons = classify(parsed, domain, probe)
    return Verdict(email, status, reasons)
