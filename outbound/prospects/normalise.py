"""Pure normalisation of the values a prospect file carries: addresses, domains, time zones, field keys.

Each function returns a ``Normalised``: the clean value, or None with the reason it was refused.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from outbound.core.zones import zone_hint, zone_names

MAX_EMAIL_CHARS = 254  # RFC 5321 path limit minus the angle brackets
MAX_LOCAL_CHARS = 64
MAX_DOMAIN_CHARS = 253

# Dot-atom local part; quoted local parts ("a b"@x) are legal but nobody prospects them.
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ANGLE = re.compile(r"[^<>]*<([^<>]*)>\s*")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_PORT = re.compile(r":\d*$")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_SPACE = re.compile(r"\s")
# The common case, checked in one match; anything else takes the detailed path that explains refusals.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_PLAIN_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_PLAIN_URL = re.compile(r"(?:https?://)?(?:www\.)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})[/?#:]?")

_ROLES = """
abuse admin administrator billing careers contact enquiries enquiry hello help hostmaster hr info inquiries jobs mail
marketing media no-reply noreply office postmaster press privacy sales security service support team webmaster
"""
ROLE_ACCOUNTS = frozenset(_ROLES.split())

# Hosts a "website" column often holds that are not the company's own site.
NOT_COMPANY_SITES = frozenset(
    [
        "linkedin.com",
        "facebook.com",
        "twitter.com",
        "x.com",
        "instagram.com",
        "youtube.com",
        "tiktok.com",
        "github.com",
        "crunchbase.com",
        "angel.co",
        "wellfound.com",
        "medium.com",
        "bit.ly",
        "linktr.ee",
        "google.com",
    ]
)


@dataclass(frozen=True)
class Normalised:
    """A cleaned value, or ``value=None`` and the ``reason`` it was refused; ``warnings`` are advisory."""

    value: str | None
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.value is not None


def _refuse(reason: str) -> Normalised:
    return Normalised(None, reason)


def _strip(text: str) -> str:
    return text.strip().strip(_INVISIBLE).strip()


@lru_cache(maxsize=4096)
def ascii_domain(text: str) -> Normalised:
    """A host name lower-cased, IDNA-encoded to ASCII and checked label by label (needs a TLD)."""
    d = text.strip().lower()
    if _PLAIN_DOMAIN.fullmatch(d) and len(d) <= MAX_DOMAIN_CHARS:
        return Normalised(d)
    d = _strip(d).rstrip(".")
    if not d:
        return _refuse("no domain")
    if d.startswith("["):
        return _refuse(f"domain {d!r} is an IP address literal")
    if not d.isascii():
        try:
            d = d.encode("idna").decode("ascii")
        except UnicodeError:
            return _refuse(f"domain {d!r} is not a valid international domain name")
    if len(d) > MAX_DOMAIN_CHARS:
        return _refuse(f"domain is longer than {MAX_DOMAIN_CHARS} characters")
    labels = d.split(".")
    if len(labels) < 2:
        return _refuse(f"domain {d!r} has no top-level part (like .com)")
    for label in labels:
        if not _LABEL.fullmatch(label):
            why = "an empty label" if not label else f"the label {label!r}"
            return _refuse(f"domain {d!r} has {why}, which is not allowed")
    tld = labels[-1]
    if tld.isdigit() or len(tld) < 2:
        return _refuse(f"domain {d!r} has no valid top-level part")
    return Normalised(d)


def normalise_email(text: str) -> Normalised:
    """Trim, unwrap ``Name <addr>`` / ``mailto:``, lower-case, IDNA the domain, validate the syntax.

    Non-ASCII local parts are refused: they need SMTPUTF8, which most receiving servers lack.
    A role account (info@, sales@...) is accepted with a warning.
    """
    s = text.strip().lower()
    if _PLAIN_EMAIL.fullmatch(s) and len(s) <= MAX_EMAIL_CHARS:
        local = s.partition("@")[0]
        if len(local) <= MAX_LOCAL_CHARS:
            if local in ROLE_ACCOUNTS:
                return Normalised(s, warnings=(f"{s} is a role account, not a person",))
            return Normalised(s)
    s = _strip(text)
    if not s:
        return _refuse("no email address")
    if len(s) > 4 * MAX_EMAIL_CHARS:
        return _refuse(f"email address is longer than {MAX_EMAIL_CHARS} characters")
    angle = _ANGLE.fullmatch(s)
    if angle:
        s = _strip(angle.group(1))
    if s[:7].lower() == "mailto:":
        s = s[7:].split("?", 1)[0]
    s = s.lower()
    if _SPACE.search(s):
        return _refuse(f"email {s!r} contains spaces")
    ats = s.count("@")
    if ats == 0:
        return _refuse(f"email {s!r} has no @")
    if ats > 1:
        return _refuse(f"email {s!r} has more than one @")
    local, _, domain = s.partition("@")
    if not local:
        return _refuse(f"email {s!r} has nothing before the @")
    if not local.isascii():
        return _refuse(f"email {s!r} has non-ASCII characters before the @ (most servers cannot deliver it)")
    if len(local) > MAX_LOCAL_CHARS:
        return _refuse(f"email {s!r} has more than {MAX_LOCAL_CHARS} characters before the @")
    if not _LOCAL.fullmatch(local):
        return _refuse(f"email {s!r} has characters or dots before the @ that are not allowed")
    dom = ascii_domain(domain)
    if dom.value is None:
        return _refuse(f"email {s!r}: {dom.reason}")
    address = f"{local}@{dom.value}"
    if len(address) > MAX_EMAIL_CHARS:
        return _refuse(f"email address is longer than {MAX_EMAIL_CHARS} characters")
    if local in ROLE_ACCOUNTS:
        return Normalised(address, warnings=(f"{address} is a role account, not a person",))
    return Normalised(address)


def normalise_domain(text: str) -> Normalised:
    """A company domain from a domain, URL or address: ``https://www.Acme.com/about`` -> ``acme.com``."""
    s = text.strip().lower()
    plain = _PLAIN_URL.match(s)
    if plain and (plain.end() == len(s) or s[plain.end() - 1] in "/?#:"):
        return ascii_domain(plain.group(1))
    s = _strip(s)
    if not s:
        return _refuse("no domain")
    s = _SCHEME.sub("", s).lstrip("/")
    s = re.split(r"[/?#\s]", s, maxsplit=1)[0]
    s = s.rpartition("@")[2]  # user@host, or an address in a website column
    s = _PORT.sub("", s)
    if s.startswith("www.") and s.count(".") >= 2:
        s = s[4:]
    return ascii_domain(s)


@lru_cache(maxsize=4096)
def normalise_company_domain(text: str) -> Normalised:
    """``normalise_domain`` that also refuses social-network and link-shortener hosts."""
    result = normalise_domain(text)
    if result.value in NOT_COMPANY_SITES:
        return _refuse(f"{result.value} is not a company's own site")
    return result


@lru_cache(maxsize=1024)
def normalise_timezone(text: str) -> Normalised:
    """An IANA zone name in its canonical case (``europe/paris`` -> ``Europe/Paris``); a refusal says
    which zone a misspelt name probably means."""
    s = _strip(text)
    if not s:
        return _refuse("no timezone")
    name = zone_names().get(s.replace(" ", "_").lower())
    if name is None:
        hint = zone_hint(s)
        return _refuse(f"{s[:60]!r} is not an IANA time zone name " + (f"({hint})" if hint else "like Europe/Paris"))
    return Normalised(name)


# Names Jinja parses as literals or operators, or binds itself, so a variable cannot use them.
_RESERVED = "true false none and or not in is if else self loop super caller varargs kwargs"
JINJA_RESERVED = frozenset(_RESERVED.split())
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")


def field_key(name: str) -> str:
    """A snake_case identifier usable as a Jinja variable: ``"Pain Point"`` -> ``pain_point``.

    Accents are folded to ASCII and camelCase is split; a leading digit gets an ``f_`` prefix and a
    Jinja-reserved word a trailing ``_``. Returns "" when nothing usable is left (the caller names it).
    """
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    s = _NON_WORD.sub("_", _CAMEL.sub("_", s)).strip("_").lower()
    if s and s[0].isdigit():
        s = "f_" + s
    if s in JINJA_RESERVED:
        s += "_"
    return s


def squash(name: str) -> str:
    """A header name reduced for alias matching: ASCII, lower case, letters and digits only."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NON_WORD.sub("", s).lower()


_MESSY_SPACE = re.compile(r"\s\s|[\t\n\r\x0b\x0c]")


def clean_text(text: str, limit: int, *, single_line: bool) -> tuple[str, bool]:
    """Trimmed text (whitespace runs collapsed when ``single_line``), cut to ``limit``; True if cut."""
    s = text.strip()
    if s and (s[0] in _INVISIBLE or s[-1] in _INVISIBLE or (single_line and _MESSY_SPACE.search(s))):
        s = _strip(s)
        if single_line:
            s = " ".join(s.split())
    if len(s) > limit:
        return s[:limit].rstrip(), True
    return s, False
