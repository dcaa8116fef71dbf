"""Finding e-mail addresses in free text, and telling a person's address from a robot's."""

from __future__ import annotations

import re
from email.utils import getaddresses

# Deliberately loose on the local part (bounces quote odd ones) but strict on the domain.
ADDRESS_RE = re.compile(
    r"(?<![\w.+\-=/])([\w.!#$%&'*+/=?^`{|}~\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w\-])"
)

# Robots that send or relay bounces: never the failed recipient.
_SYSTEM_LOCALS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "maildaemon",
        "postmaster",
        "mdaemon",
        "mail-daemon",
        "root",
        "daemon",
        "nobody",
        "bounce",
        "bounces",
        "noreply",
        "no-reply",
        "do-not-reply",
        "donotreply",
    }
)


def normalise(address: str) -> str:
    address = address.strip().strip("<>\"'").rstrip(".;:,)").lower()
    # Exchange writes "smtp=user@x" or "SMTP:user@x"; X.400 gateways "rfc822;user@x".
    address = re.sub(r"^(mailto|smtp|rfc822|sip)[:=;]", "", address)
    local = address.split("@", 1)[0]
    if ".." in local or local.endswith(".") or local.startswith("."):
        return ""  # truncated ("david...@gmail.com") or not an address at all
    return address


def find_addresses(text: str) -> list[str]:
    """All addresses in order of appearance, lower-cased, without duplicates."""
    seen: dict[str, None] = {}
    for match in ADDRESS_RE.finditer(text):
        seen.setdefault(normalise(match.group(1)), None)
    return [a for a in seen if a]


def is_system(address: str) -> bool:
    local = address.split("@", 1)[0].lower()
    return local in _SYSTEM_LOCALS or local.startswith(("mailer-daemon", "postmaster"))


def header_addresses(values: list[str]) -> list[str]:
    """Addresses from address headers (To, From, ...), lower-cased."""
    try:
        pairs = getaddresses(values)
    except Exception:
        pairs = []
    found = [a for a in (normalise(addr) for _, addr in pairs if "@" in addr) if a]
    # getaddresses gives up on some malformed values that still contain an address.
    if not found:
        for value in values:
            found.extend(find_addresses(value))
    return found
