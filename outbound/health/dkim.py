"""DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463): pure parse and assessment, then the DNS check."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from outbound.health.dns import Lookup
from outbound.health.model import Finding

# Selectors of the large providers, tried when the domain names none.
COMMON_SELECTORS = ("google", "selector1", "selector2", "k1", "k2", "s1", "s2", "default", "dkim", "mail", "smtp", "mxvault")

Problem = tuple[str, str, str]  # (severity, code, message)
_TAG = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", re.S)
_RUN_TOGETHER = re.compile(r"\s[A-Za-z][A-Za-z0-9_]*\s*=")


@dataclass(frozen=True)
class DkimKey:
    tags: dict[str, str]
    order: tuple[str, ...]


def parse_tags(record: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """Tag list (RFC 6376 §3.2); empty tag-specs are tolerated, a malformed or repeated tag raises."""
    tags: dict[str, str] = {}
    order: list[str] = []
    for spec in record.split(";"):
        if not spec.strip():
            continue
        m = _TAG.match(spec)
        if not m:
            raise ValueError(f"malformed tag {spec.strip()!r}")
        name, value = m.group(1), m.group(2)
        if name in tags:
            raise ValueError(f"tag {name}= appears twice")
        if name != "p" and _RUN_TOGETHER.search(value):
            raise ValueError(f"{name}={value!r} looks like two tags run together (missing ';')")
        tags[name] = value
        order.append(name)
    return tags, tuple(order)


def _items(value: str) -> list[str]:
    return [re.sub(r"\s+", "", x).lower() for x in value.split(":") if x.strip()]


def assess_key(record: str) -> list[Problem]:
    """Every problem with one key record; an empty list means a healthy record."""
    try:
        tags, order = parse_tags(record)
    except ValueError as exc:
        return [("error", "syntax", f"DKIM record does not parse: {exc}")]
    out: list[Problem] = []
    if "v" in tags:
        if order[0] != "v":
            out.append(("error", "v_not_first", "v=DKIM1 must be the first tag"))
        if tags["v"] != "DKIM1":
            out.append(("error", "bad_version", f"v={tags['v']} (must be DKIM1)"))
    k = tags.get("k", "rsa").lower()
    if k not in ("rsa", "ed25519"):
        out.append(("error", "unknown_k", f"k={tags.get('k')} is not a key type (rsa or ed25519)"))
    if "p" not in tags:
        return [*out, ("error", "missing_p", "the record has no p= (public key) tag")]
    p = re.sub(r"\s+", "", tags["p"])
    if not p:
        return [*out, ("error", "revoked", "p= is empty: the key is revoked")]
    if k in ("rsa", "ed25519"):
        out += _assess_key_bytes(k, p)
    if tags.get("t") and "y" in _items(tags["t"]):
        out.append(("warning", "testing", "t=y: testing mode, receivers may treat signed mail as unsigned"))
    if "h" in tags:
        hashes = _items(tags["h"])
        if "sha256" not in hashes:
            out.append(("error", "sha1_only", f"h={tags['h']} excludes sha256 (RFC 8301 forbids rsa-sha1)"))
        elif "sha1" in hashes:
            out.append(("info", "h_lists_sha1", "h= still lists sha1"))
    if "s" in tags:
        services = _items(tags["s"])
        if "*" not in services and "email" not in services:
            if services == ["tlsrpt"]:
                out.append(("warning", "tlsrpt_only", "s=tlsrpt: the key is only for TLS-RPT, not for email"))
            else:
                out.append(("error", "not_email", f"s={tags['s']} excludes email"))
    return out


def _assess_key_bytes(k: str, p: str) -> list[Problem]:
    try:
        der = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        return [("error", "bad_key", "p= is not valid base64")]
    if k == "ed25519":
        if len(der) != 32:
            return [("error", "bad_key", f"an ed25519 key is 32 bytes, p= holds {len(der)}")]
        return []
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # a flipped bit in the algorithm OID: not a key we know
        return [("error", "bad_key", "p= does not decode to an RSA public key")]
    if not isinstance(key, rsa.RSAPublicKey):
        return [("error", "bad_key", "k=rsa but p= holds another key type")]
    bits = key.key_size
    if bits < 1024:
        return [("error", "key_too_short", f"RSA key of {bits} bits (receivers reject keys under 1024, RFC 8301)")]
    if bits < 2048:
        return [("warning", "weak_key", f"RSA key of {bits} bits (2048 recommended)")]
    return []


def _fix(code: str, selector: str, domain: str) -> str:
    """A remedy naming the selector and domain at hand."""
    where = f"{selector}._domainkey.{domain}"
    fixes = {
        "missing": f"publish the public key of selector {selector} as a TXT record at {where}",
        "revoked": f"generate a new key, publish it under a new selector (not {selector}) at <new>._domainkey.{domain} "
                   "and sign with it",
        "key_too_short": f"generate a 2048-bit RSA key, publish it at <new selector>._domainkey.{domain} and sign with "
                         f"it instead of {selector}",
        "weak_key": f"rotate to a 2048-bit RSA key: publish it at <new selector>._domainkey.{domain}, sign with it, "
                    f"then retire {selector}",
        "testing": f"remove t=y from the record at {where} once signing works",
        "multiple": f"keep exactly one key record at {where}",
    }
    return fixes.get(code, f"fix the key record at {where}")


async def check_dkim(lookup: Lookup, domain: str, selectors: list[str]) -> list[Finding]:
    """One finding set per selector; without configured selectors, common provider selectors are probed."""
    probing = not selectors
    names = list(selectors) if selectors else list(COMMON_SELECTORS)
    answers = await asyncio.gather(*(lookup.query(f"{s}._domainkey.{domain}", "TXT") for s in names))
    findings: list[Finding] = []
    found = 0
    for sel, ans in zip(names, answers, strict=True):
        where = f"{sel}._domainkey.{domain}"
        if ans.failed:
            findings.append(Finding("dkim", "warning", "dns_error", f"{where}: {ans.detail} (unknown)", "check the domain's name servers"))
            continue
        records = [t.decode("utf-8", "replace") for t in ans.texts()] if ans.ok else []
        keys = [r for r in records if "p=" in r or r.lstrip().lower().startswith("v=dkim1")]
        if not keys:
            if not probing:
                findings.append(Finding("dkim", "error", "missing", f"no DKIM key at {where}", _fix("missing", sel, domain)))
            continue
        found += 1
        if len(keys) > 1:
            findings.append(Finding("dkim", "error", "multiple", f"{len(keys)} DKIM records at {where}", _fix("multiple", sel, domain)))
            continue
        via = f" (via CNAME to {ans.canonical})" if ans.canonical and ans.canonical != where.lower() else ""
        problems = assess_key(keys[0])
        for sev, code, msg in problems:
            findings.append(Finding("dkim", sev, code, f"{where}: {msg}", _fix(code, sel, domain)))  # type: ignore[arg-type]
        # a warning (a 1024-bit key, t=y) still verifies: the key signs mail receivers accept
        if not any(sev == "error" for sev, _, _ in problems):
            usable = "valid" if not any(sev == "warning" for sev, _, _ in problems) else "usable, with the warning above"
            findings.append(Finding("dkim", "info", "ok", f"{where}: key record is {usable}{via}"))
    if probing and not found:
        findings.append(Finding("dkim", "warning", "no_selector", f"no DKIM key found at common selectors of {domain}; set dkim_selectors in the domain file",
                                "list the selectors your mail is signed with in the domain's dkim_selectors"))
    return findings
