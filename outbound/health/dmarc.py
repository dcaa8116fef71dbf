"""DMARC policy records, RFC 7489 as amended by RFC 9989 (DMARCbis): pure parse/assess, tree walk, DNS check.

RFC 9989 changes followed: pct, rf and ri are removed (a warning, their values are ignored); np, psd and t
are new tags; a missing p is read as p=none (a warning, not an error); the organizational domain is
found by the DNS tree walk (psd=n stops it, psd=y puts the org domain one label below, names over 7
labels are shortened to 7, multiple records at one name count as none) instead of the Public Suffix List.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Problem = tuple[str, str, str]  # (severity, code, message)

_POLICIES = ("none", "quarantine", "reject")
_KNOWN = {"v", "p", "sp", "np", "adkim", "aspf", "fo", "rua", "ruf", "psd", "t"}
_REMOVED = {"pct", "rf", "ri"}
_MAILTO = re.compile(r"^mailto:([^@\s/!]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+)(?:!\d+[kmgt]?)?$", re.I)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


@dataclass(frozen=True)
class DmarcRecord:
    tags: dict[str, str]
    order: tuple[str, ...]

    @property
    def policy(self) -> str:
        p = self.tags.get("p", "none").lower()
        return p if p in _POLICIES else "none"

    def uris(self, tag: str) -> list[str]:
        return [u.strip() for u in self.tags.get(tag, "").split(",") if u.strip()]


def parse(record: str) -> tuple[DmarcRecord | None, list[Problem]]:
    """Tags of a record and its syntax problems; None when it is not a usable DMARC record."""
    text = record.strip()
    if not text:
        return None, [("error", "empty", "the DMARC record is empty")]
    if text.lower().startswith("v=spf1"):
        return None, [("error", "spf_record_in_dmarc", "an SPF record is published where the DMARC record belongs")]
    tags: dict[str, str] = {}
    order: list[str] = []
    for spec in text.split(";"):
        if not spec.strip():
            continue
        name, eq, value = spec.partition("=")
        name = name.strip().lower()
        if not eq or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            return None, [("error", "syntax", f"malformed tag {spec.strip()!r}")]
        if name in tags:
            return None, [("error", "duplicate_tag", f"tag {name}= appears twice")]
        tags[name] = value.strip()
        order.append(name)
    if not order or order[0] != "v" or tags["v"].upper() != "DMARC1":
        return None, [("error", "bad_version", "the record must start with v=DMARC1")]
    return DmarcRecord(tags, tuple(order)), []


def assess(record: str, parked: bool = False) -> tuple[DmarcRecord | None, list[Problem]]:
    """Record-level problems: syntax, values, removed and unknown tags, reporting URIs."""
    rec, problems = parse(record)
    if rec is None:
        return None, problems
    t = rec.tags
    out: list[Problem] = []
    if "p" not in t:
        out.append(("warning", "missing_p", "no p= tag: receivers apply p=none (RFC 9989)"))
    elif len(rec.order) > 1 and rec.order[1] != "p":
        out.append(("warning", "p_not_second", "the p tag does not immediately follow v=DMARC1"))
    for tag in ("p", "sp", "np"):
        if tag in t and t[tag].lower() not in _POLICIES:
            out.append(("error", "bad_value", f"{tag}={t[tag]} is not none, quarantine or reject"))
    for tag in ("adkim", "aspf"):
        if tag in t and t[tag].lower() not in ("r", "s"):
            out.append(("error", "bad_value", f"{tag}={t[tag]} must be r or s"))
    for tag in ("psd", "t"):
        allowed = ("y", "n", "u") if tag == "psd" else ("y", "n")
        if tag in t and t[tag].lower() not in allowed:
            out.append(("error", "bad_value", f"{tag}={t[tag]} must be one of {', '.join(allowed)}"))
    if "fo" in t:
        opts = [o.strip().lower() for o in t["fo"].split(":")]
        if any(o not in ("0", "1", "d", "s") for o in opts):
            out.append(("error", "bad_value", f"fo={t['fo']} (allowed: 0, 1, d, s)"))
        elif "0" in opts and "1" in opts:
            out.append(("warning", "redundant_fo", "fo=0:1 is redundant (1 already includes 0)"))
    for tag in ("rua", "ruf"):
        for uri in rec.uris(tag):
            if not _URI.match(uri):
                out.append(("error", "invalid_uri", f"{tag} entry {uri!r} is not a URI (expected mailto:address)"))
            elif uri.lower().startswith("mailto:") and not _MAILTO.match(uri):
                out.append(("warning", "bad_mailto", f"{tag} entry {uri!r} is not a valid mailto: address"))
            elif not uri.lower().startswith("mailto:"):
                out.append(("warning", "non_mailto", f"{tag} entry {uri!r}: receivers are only required to support mailto:"))
    for tag in rec.order:
        if tag in _REMOVED:
            out.append(("warning", "tag_removed", f"the {tag} tag was removed in RFC 9989 and is ignored"))
        elif tag not in _KNOWN:
            out.append(("warning", "unknown_tag", f"unknown DMARC tag {tag!r}"))
    if t.get("sp", "").lower() == "none" and rec.policy != "none":
        out.append(("warning", "sp_none", "sp=none leaves subdomains unprotected"))
    if parked and (rec.policy != "reject" or t.get("sp", "reject").lower() != "reject"):
        out.append(("warning", "parked", "a domain that sends no mail should publish p=reject (and no sp=none)"))
    return rec, out


Fetch = Callable[[str], Awaitable[list[str]]]


def dmarc_records(texts: list[str]) -> list[str]:
    return [t for t in texts if t.strip().lower().replace(" ", "").startswith("v=dmarc1")]


@dataclass(frozen=True)
class Discovery:
    domain: str
    org_domain: str
    policy_domain: str | None  # where the policy record that applies was found
    record: str | None
    queries: int


async def tree_walk(domain: str, fetch: Fetch) -> Discovery:
    """RFC 9989 §4.10: policy record and organizational domain by walking up the DNS tree.

    `fetch(name)` returns the TXT strings at `_dmarc.<name>`.
    """
    labels = domain.lower().rstrip(".").split(".")
    queries = 0
    policy_domain: str | None = None
    record: str | None = None
    shortest: str | None = None
    org: str | None = None
    i = 0
    while i < len(labels):
        name = ".".join(labels[i:])
        queries += 1
        found = dmarc_records(await fetch(name))
        if len(found) == 1:
            rec, _ = parse(found[0])
            if rec is not None:
                if policy_domain is None:
                    policy_domain, record = name, found[0]
                psd = rec.tags.get("psd", "").lower()
                if psd == "n":
                    org = name
                    break
                if psd == "y":
                    # the org domain is one label below the PSD, on the path to the author domain
                    org = ".".join(labels[i - 1 :]) if i > 0 else name
                    break
                shortest = name
        if i == 0 and len(labels) > 7:
            i = len(labels) - 7  # names of 8+ labels are shortened to 7 before walking on
        else:
            i += 1
    org = org or shortest or domain.lower().rstrip(".")
    return Discovery(domain.lower().rstrip("."), org, policy_domain, record, queries)


async def aligned(a: str, b: str, fetch: Fetch, strict: bool = False) -> bool:
    """Identifier alignment (RFC 9989 §4.4): equal names, or the same organizational domain when relaxed."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if a == b or strict:
        return a == b
    return (await tree_walk(a, fetch)).org_domain == (await tree_walk(b, fetch)).org_domain
