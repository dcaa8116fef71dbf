"""DMARC (with organizational-domain fallback and report authorisation), MTA-STS, TLS-RPT and BIMI records."""

from __future__ import annotations

import re

from outbound.health import dmarc
from outbound.health.dns import Lookup
from outbound.health.model import CheckName, Finding

# Record problems that leave the mail deliverable: receivers use the tag's default (or skip the bad
# reporting URI) and apply the rest of the policy, so these are warnings in a domain's verdict.
_HARMLESS_TAGS = ("adkim", "aspf", "fo", "psd", "t")


def _severity(sev: str, code: str, msg: str) -> str:
    if code == "invalid_uri" or (code == "bad_value" and msg.split("=", 1)[0] in _HARMLESS_TAGS):
        return "warning"
    return sev


def _record_with(record: str, tag: str, value: str) -> str:
    """The record with ``tag=value`` set (replaced in place, or added after p=)."""
    parts = [p.strip() for p in record.strip().rstrip(";").split(";") if p.strip()]
    names = [p.partition("=")[0].strip().lower() for p in parts]
    if tag in names:
        parts[names.index(tag)] = f"{tag}={value}"
    else:
        parts.insert(names.index("p") + 1 if "p" in names else min(1, len(parts)), f"{tag}={value}")
    return "; ".join(parts)


def _fix(code: str, domain: str, record: str | None) -> str:
    """A remedy with the record to paste, built from the domain's own record where there is one."""
    fresh = f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}"
    if code == "missing" or record is None:
        return f'publish TXT at _dmarc.{domain}: "{fresh}" (raise p= to quarantine once reports show your mail aligned)'
    if code == "p_none":
        return (f'once reports show your mail aligned, publish at _dmarc.{domain}: '
                f'"{_record_with(record, "p", "quarantine")}"')
    if code == "no_rua":
        return f'publish at _dmarc.{domain}: "{_record_with(record, "rua", f"mailto:dmarc@{domain}")}"'
    if code == "tag_removed":
        return "drop the tag (RFC 9989 removed it)"
    if code in ("bad_value", "invalid_uri", "bad_mailto"):
        return f"use a value the RFC allows in the record at _dmarc.{domain}: {record}"
    return f"correct the DMARC record at _dmarc.{domain}: {record}"


def fetcher(lookup: Lookup) -> dmarc.Fetch:
    async def fetch(name: str) -> list[str]:
        ans = await lookup.query(f"_dmarc.{name}", "TXT")
        return [t.decode("utf-8", "replace") for t in ans.texts()] if ans.ok else []

    return fetch


async def check_dmarc(lookup: Lookup, domain: str) -> tuple[list[Finding], str | None]:
    """Findings, and the policy (none/quarantine/reject) that applies to mail from `domain`."""
    ans = await lookup.query(f"_dmarc.{domain}", "TXT")
    if ans.failed:
        return [Finding("dmarc", "warning", "dns_error", f"_dmarc.{domain}: {ans.detail} (unknown)", "check the name servers")], None
    texts = [t.decode("utf-8", "replace") for t in ans.texts()] if ans.ok else []
    records = dmarc.dmarc_records(texts)
    where = domain
    if len(records) > 1:
        return [Finding("dmarc", "error", "multiple", f"_dmarc.{domain} has {len(records)} DMARC records (receivers ignore them all)",
                        f"keep exactly one DMARC record at _dmarc.{domain}, e.g. \"{records[0]}\"")], None
    fetch = fetcher(lookup)
    if not records:
        found = await dmarc.tree_walk(domain, fetch)
        if found.record is None:
            bad = [t for t in texts if t.strip()]
            msg = f"_dmarc.{domain} holds no DMARC record" + (f" (found {bad[0][:60]!r})" if bad else "")
            return [Finding("dmarc", "error", "missing", msg, _fix("missing", domain, None))], None
        records, where = [found.record], found.policy_domain or domain
    rec, problems = dmarc.assess(records[0])
    out = [Finding("dmarc", _severity(sev, code, msg), code, f"DMARC ({where}): {msg}",  # type: ignore[arg-type]
                   _fix(code, where, records[0]) if rec is not None else _fix("missing", domain, None))
           for sev, code, msg in problems]
    if rec is None:
        return out, None
    if where != domain:
        out.append(Finding("dmarc", "info", "inherited", f"no record at _dmarc.{domain}; the policy of {where} applies"))
        policy = rec.tags.get("sp", rec.policy).lower()
    else:
        policy = rec.policy
    if policy == "none":
        out.append(Finding("dmarc", "warning", "p_none", f"DMARC policy is none for {domain}: spoofed mail is still delivered",
                           _fix("p_none", where, records[0])))
    rua = rec.uris("rua")
    if not rua:
        out.append(Finding("dmarc", "warning", "no_rua", "DMARC has no rua: you receive no aggregate reports",
                           _fix("no_rua", where, records[0])))
    for uri in rua:
        m = re.match(r"mailto:[^@]+@([^!\s]+)", uri, re.I)
        if not m:
            continue
        dest = m.group(1).lower().rstrip(".")
        if await dmarc.aligned(dest, domain, fetch):
            continue
        auth = await lookup.query(f"{domain}._report._dmarc.{dest}", "TXT")
        if auth.failed:
            out.append(Finding("dmarc", "warning", "rua_unknown", f"report authorisation at {dest}: {auth.detail} (unknown)", "retry later"))
        elif not any(t.decode("utf-8", "replace").strip().upper().startswith("V=DMARC1") for t in auth.texts()):
            out.append(Finding("dmarc", "warning", "rua_unauthorized",
                               f"rua destination {dest} does not accept reports for {domain} (no {domain}._report._dmarc.{dest} record)",
                               f'ask {dest} to publish TXT "v=DMARC1" at {domain}._report._dmarc.{dest}'))
    if not any(f.severity != "info" for f in out):
        out.append(Finding("dmarc", "info", "ok", f"DMARC policy {policy}: {records[0]}"))
    return out, policy


async def _simple(lookup: Lookup, check: CheckName, name: str, version: str, required: dict[str, str], fix: str) -> list[Finding]:
    ans = await lookup.query(name, "TXT")
    if ans.failed:
        return [Finding(check, "warning", "dns_error", f"{name}: {ans.detail} (unknown)", "check the name servers")]
    texts = [t.decode("utf-8", "replace") for t in ans.texts()] if ans.ok else []
    recs = [t for t in texts if t.replace(" ", "").lower().startswith(f"v={version.lower()}")]
    if not recs:
        return [Finding(check, "info", "absent", f"no {version} record at {name} (optional)")]
    if len(recs) > 1:
        # MTA-STS, TLS-RPT and BIMI concern mail to the domain or logos, never whether ours is accepted
        return [Finding(check, "warning", "multiple", f"{len(recs)} {version} records at {name}", f"keep exactly one at {name}")]
    tags = dict((k.strip().lower(), v.strip()) for k, _, v in (p.partition("=") for p in recs[0].split(";") if p.strip()))
    for tag, pattern in required.items():
        if not re.fullmatch(pattern, tags.get(tag, ""), re.I):
            return [Finding(check, "warning", "syntax", f"{name}: {tag}= is missing or invalid in {recs[0]!r}", fix)]
    return [Finding(check, "info", "ok", f"{name}: {recs[0]}")]


async def check_mta_sts(lookup: Lookup, domain: str) -> list[Finding]:
    return await _simple(lookup, "mta_sts", f"_mta-sts.{domain}", "STSv1", {"id": r"[A-Za-z0-9]{1,32}"},
                         'publish "v=STSv1; id=<1-32 letters or digits>" and serve the policy file')


async def check_tls_rpt(lookup: Lookup, domain: str) -> list[Finding]:
    return await _simple(lookup, "tls_rpt", f"_smtp._tls.{domain}", "TLSRPTv1", {"rua": r"(mailto:|https:)\S+(,\s*(mailto:|https:)\S+)*"},
                         'publish "v=TLSRPTv1; rua=mailto:<address>"')


async def check_bimi(lookup: Lookup, domain: str) -> list[Finding]:
    return await _simple(lookup, "bimi", f"default._bimi.{domain}", "BIMI1", {"l": r"(https://\S+)?"},
                         'publish "v=BIMI1; l=https://<logo.svg>"')
