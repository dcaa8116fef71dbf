"""Bounce analysis: RFC 3464 DSNs first, prose bounces after, each recipient with its status and reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from outbound.core.bounce_words import STATUS_RE
from outbound.core.bounces import FailureVerdict, Fault, Where, read_failure, reason_for
from outbound.inbox import bounce_text, mime
from outbound.inbox.addresses import header_addresses, is_system
from outbound.inbox.dsn import RecipientStatus, parse_fields, read_dsn

_SMTP_CODE = re.compile(r"(?<![\d.\-:])([245])\d\d(?=[\s\-])")
# "failed" is a final failure whatever the status class: with 4.4.7 or 4.4.1 the send gave up after
# its retries. The RFC 3464 report actions are success or delay notices; any other Action word
# ("error", "deliverable", none) is a failure unless its status is a 2.x.x success.
_FAILED_ACTIONS = frozenset({"failed", "failure", "fail"})
_REPORT_ACTIONS = frozenset({"delivered", "relayed", "expanded", "delayed"})
# The transcript shows the receiver answered DATA: it had accepted RCPT, so the address exists.
_AT_DATA = re.compile(
    r"in reply to end of data|^\W*(>>> )?data\s*$|final data|after (end of )?data|following data command|error following data",
    re.I | re.M,
)


@dataclass(frozen=True)
class RecipientVerdict:
    """One failed (or reported) recipient."""

    address: str
    status: str | None
    reason: str
    hard: bool
    fault: Fault | None = None  # None for a success or delay notice


@dataclass(frozen=True)
class BounceReport:
    """What a delivery report says: a failure (hard or soft) or a success/delay notice."""

    kind: str  # hard_bounce, soft_bounce or delivery_report
    recipients: tuple[RecipientVerdict, ...]
    why: str
    fault: Fault | None = None  # the lead recipient's, for a failure


def analyse(msg: Message) -> BounceReport | None:
    """The bounce report in msg, or None when msg is not a delivery report at all."""
    records = read_dsn(msg)
    text = bounce_text.report_text(msg)
    if records:
        return _from_dsn(records, text, msg)
    formal = bounce_text.is_dsn_without_records(msg)
    if not formal and not bounce_text.looks_like_bounce(msg, text):
        return None
    addresses = bounce_text.failed_recipients(msg, text)
    if not addresses and formal:
        addresses = _returned_recipients(msg)  # Postfix's "Delivery report unavailable"
    if not addresses:
        # A bounce naming nobody (some forwarders strip it): still a bounce, with no recipient.
        return BounceReport(
            kind="soft_bounce", recipients=(), why="bounce wording without a recipient", fault="recipient"
        )
    field_records = {r.address: r for r in parse_fields(text)}
    verdicts = [_verdict_from_text(address, text, field_records.get(address)) for address in addresses]
    reported_failed = any(r.action and _is_failure(r) for r in field_records.values())
    if bounce_text.is_delay(text) and not reported_failed:
        delayed = tuple(RecipientVerdict(v.address, v.status, "delayed", False) for v in verdicts)
        return BounceReport(kind="delivery_report", recipients=delayed, why="delay warning in prose")
    return _report(verdicts, "prose bounce")


def _returned_recipients(msg: Message) -> list[str]:
    """Last resort: the To of the returned message, when the report names nobody."""
    for part in mime.walk(msg):
        if part is msg or mime.content_type(part) not in (
            "message/rfc822",
            "text/rfc822-headers",
            "message/rfc822-headers",
        ):
            continue
        if mime.content_type(part) == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
            values = mime.headers(inner, "To") if inner is not None else []
        else:
            values = [m.group(1) for m in re.finditer(r"^To:\s*(.+)$", mime.part_text(part), re.M | re.I)]
        found = [a for a in header_addresses(values) if not is_system(a)]
        if len(found) == 1:
            return found
    return []


def _from_dsn(records: list[RecipientStatus], text: str, msg: Message) -> BounceReport:
    failed = [r for r in records if _is_failure(r)]
    if not failed:
        others = tuple(
            RecipientVerdict(r.address, r.status or None, "delayed" if r.action == "delayed" else "delivered", False)
            for r in records
        )
        return BounceReport(kind="delivery_report", recipients=others, why="DSN without a failed recipient")
    verdicts = []
    for rec in failed:
        status = rec.status or _status_in(rec.diagnostic) or _status_near(rec.address, text)
        diagnostic = rec.diagnostic or _segment(rec.address, text)
        texts = [diagnostic, _segment(rec.address, text) + "\n" + _head(rec.address, text)]
        verdict = _read(status, texts, _where(text + "\n" + diagnostic))
        verdicts.append(_recipient(rec.address, status, verdict))
    real = [v for v in verdicts if not is_system(v.address)] or verdicts
    return _report(real, "RFC 3464 DSN")


def _is_failure(rec: RecipientStatus) -> bool:
    if rec.action in _FAILED_ACTIONS:
        return True
    return rec.action not in _REPORT_ACTIONS and not rec.status.startswith("2")


def _report(verdicts: list[RecipientVerdict], source: str) -> BounceReport:
    hard = any(v.hard for v in verdicts)
    kind = "hard_bounce" if hard else "soft_bounce"
    first = next((v for v in verdicts if v.hard), verdicts[0]) if hard else verdicts[0]
    return BounceReport(kind=kind, recipients=tuple(verdicts), why=f"{source}: {first.reason}", fault=first.fault)


def _verdict_from_text(address: str, text: str, record: RecipientStatus | None) -> RecipientVerdict:
    segment = _segment(address, text)
    if record and record.diagnostic:
        segment = record.diagnostic + "\n" + segment
    status = (record.status if record else "") or _status_in(segment) or _status_in(text)
    verdict = _read(status, [segment, segment + "\n" + _head(address, text), text], _where(text))
    return _recipient(address, status, verdict)


def _read(status: str | None, texts: list[str], where: Where) -> FailureVerdict:
    """The verdict on the first text whose wording names a reason (the recipient's own lines first)."""
    chosen = next((t for t in texts[:-1] if reason_for(status, t) != "undefined"), texts[-1])
    return read_failure(status, chosen, where=where)


def _where(transcript: str) -> Where:
    return "data" if _AT_DATA.search(transcript) else "dsn"


def _recipient(address: str, status: str | None, verdict: FailureVerdict) -> RecipientVerdict:
    return RecipientVerdict(address, status, verdict.reason, verdict.hard, verdict.fault)


def _status_in(text: str) -> str | None:
    match = STATUS_RE.search(text)
    if match:
        return ".".join(match.groups())
    code = _SMTP_CODE.search(text)
    if code and code.group(1) in ("4", "5"):
        return f"{code.group(1)}.0.0"
    return None


def _status_near(address: str, text: str) -> str | None:
    return _status_in(_segment(address, text))


def _segment(address: str, text: str) -> str:
    """The lines about one recipient: from its first mention up to the next blank-line-separated address block."""
    lower = text.lower()
    start = lower.find(address)
    if start < 0:
        return text
    line_start = lower.rfind("\n", 0, start) + 1
    tail = text[line_start:]
    lines = tail.split("\n")
    out: list[str] = [lines[0]]
    for line in lines[1:12]:
        other = re.match(r"^\s*<?([^\s@<>]+@[^\s@<>:]+)>?(:|\s|$)", line)
        if other and other.group(1).lower() != address:
            break  # the next recipient's block
        out.append(line)
    return "\n".join(out)


def _head(address: str, text: str) -> str:
    """Wording before the address ("... to the following recipients:") also carries a reason."""
    start = text.lower().find(address)
    if start < 0:
        return ""
    line_start = text.rfind("\n", 0, start) + 1
    return text[max(0, line_start - 400) : line_start]
