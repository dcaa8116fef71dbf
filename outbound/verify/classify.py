"""Pure classification: an address's syntax, its local part and domain, and what DNS and the probe said."""

from __future__ import annotations

import functools
import re
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


# a short domain that always passes: the local part is checked against it, the real domain once per run
_ANY_DOMAIN = "a.co"
MAX_ADDRESS = 254  # RFC 3696 errata / RFC 5321 path limit, as email-validator applies it
# an ASCII dot-atom of at most 64 octets (RFC 5322 atext): email-validator accepts every one, so the
# common case skips its call; anything else (quotes, Unicode, odd dots) is left to it
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_PLAIN_LOCAL = re.compile(rf"(?=.{{1,64}}$){_ATEXT}+(?:\.{_ATEXT}+)*")


def parse(email: str) -> Parsed | str:
    """The address split and its domain IDNA-encoded, or why its syntax is refused.

    email-validator checks the local part and the domain; the domain's check (UTS-46 character by
    character, most of the cost) is made once per distinct domain, not once per address."""
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return _refused(email)
    found, error = _domain(domain)
    if error:
        return error
    if not _PLAIN_LOCAL.fullmatch(local):
        try:
            validate_email(f"{local}@{_ANY_DOMAIN}", check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError as exc:
            return f"{SYNTAX}: {exc}"
    if len(local.encode()) + 1 + len(found) > MAX_ADDRESS:
        return _refused(email)
    return Parsed(email, local, found)


@functools.lru_cache(maxsize=65536)
def _domain(domain: str) -> tuple[str, str]:
    """(the ASCII form of a domain email-validator accepts, '') or ('', 'syntax: why')."""
    try:
        found = validate_email(f"postmaster@{domain}", check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return "", f"{SYNTAX}: {exc}"
    return (found.ascii_domain or found.domain).lower(), ""


def _refused(email: str) -> str:
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return f"{SYNTAX}: {exc}"
    return f"{SYNTAX}: not a valid address"


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
