"""RFC 3464 delivery status notifications: the per-recipient fields of a message/delivery-status part.

The fields are read line by line rather than block by block because real MTAs get the blank
lines between blocks wrong; a new Final-Recipient (or Original-Recipient after a complete record)
starts a new record. The same reader serves DSN-like text pasted into a body (Amazon WorkMail,
some Exchange and McAfee notices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from outbound.core.bounce_words import STATUS_RE
from outbound.inbox import mime
from outbound.inbox.addresses import ADDRESS_RE, normalise

_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9\-]*)\s*:\s*(.*)$")
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")
_KEYS = {"final-recipient": "final", "original-recipient": "original", "x-actual-recipient": "actual"}


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's record: address, Action, Status and Diagnostic-Code as sent."""

    address: str
    action: str = ""
    status: str = ""
    diagnostic: str = ""


def unfold(text: str) -> list[str]:
    """Header-style lines with continuation lines joined."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines and lines[-1].strip():
            lines[-1] = lines[-1].rstrip() + " " + line.strip()
        else:
            lines.append(line)
    return lines


def _address_of(value: str) -> str:
    # "rfc822; user@example.com", "RFC822; <user@example.com>", or a bare address.
    _, _, rest = value.rpartition(";")
    match = ADDRESS_RE.search(rest or value) or ADDRESS_RE.search(value)
    return normalise(match.group(1)) if match else ""


def _field(line: str) -> tuple[str, str] | None:
    # Forwarded bounces quote the report with "> "; the fields are still the fields.
    match = _FIELD_RE.match(line.strip().lstrip(">").strip())
    return (match.group(1).lower(), match.group(2).strip()) if match else None


def _records_by_block(lines: list[str]) -> list[dict[str, str]] | None:
    """One record per blank-line-separated block, when every recipient block is well formed."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in [*lines, ""]:
        if not line.strip().lstrip(">").strip():
            if "final" in current or "original" in current or "actual" in current:
                records.append(current)
            current = {}
            continue
        field = _field(line)
        if field is None:
            continue
        name, value = field
        if name in _RECIPIENT_FIELDS:
            address = _address_of(value)
            key = _KEYS[name]
            if not address:
                continue
            if key in current:
                return None  # two recipients in one block: blank lines are missing
            current[key] = address
        elif name in ("action", "status", "diagnostic-code"):
            current.setdefault(name, value)
    return records


def _records_by_line(lines: list[str]) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines:
        field = _field(line)
        if field is None:
            continue
        name, value = field
        if name in _RECIPIENT_FIELDS:
            address = _address_of(value)
            if not address:
                continue
            if name == "final-recipient":
                starts_new = current is None or "final" in current
            elif name == "x-actual-recipient":
                starts_new = current is None
            else:  # Original-Recipient usually precedes Final-Recipient in its record
                starts_new = current is None or "original" in current or ("final" in current and "action" in current)
            if starts_new:
                current = {}
                records.append(current)
            assert current is not None
            current[_KEYS[name]] = address
        elif current is not None and name in ("action", "status", "diagnostic-code"):
            current.setdefault(name, value)
    return records


def parse_fields(text: str) -> list[RecipientStatus]:
    """Per-recipient records. The Original-Recipient wins over Final-Recipient: it is the address we sent to."""
    lines = unfold(text)
    records = _records_by_block(lines)
    if records is None:
        records = _records_by_line(lines)
    result: list[RecipientStatus] = []
    for rec in records:
        address = rec.get("original") or rec.get("final") or rec.get("actual", "")
        status_match = STATUS_RE.search(rec.get("status", ""))
        diagnostic = re.sub(r"^(smtp|x-[\w\-]+|mta)\s*;\s*", "", rec.get("diagnostic-code", ""), flags=re.I)
        action_words = rec.get("action", "").split()
        result.append(
            RecipientStatus(
                address=address,
                action=action_words[0].lower() if action_words else "",
                status=".".join(status_match.groups()) if status_match else "",
                diagnostic=diagnostic,
            )
        )
    return _dedupe(result)


def _dedupe(records: list[RecipientStatus]) -> list[RecipientStatus]:
    seen: dict[str, RecipientStatus] = {}
    for rec in records:
        if rec.address and rec.address not in seen:
            seen[rec.address] = rec
    return list(seen.values())


def delivery_status_parts(msg: Message) -> list[str]:
    """Texts of every message/delivery-status (or message/global-delivery-status) part."""
    texts: list[str] = []
    for part in mime.walk(msg):
        if mime.content_type(part) in ("message/delivery-status", "message/global-delivery-status"):
            texts.append(mime.part_text(part))
    return texts


def is_dsn(msg: Message) -> bool:
    return bool(delivery_status_parts(msg))


def read_dsn(msg: Message) -> list[RecipientStatus]:
    records: list[RecipientStatus] = []
    for text in delivery_status_parts(msg):
        records.extend(parse_fields(text))
    return _dedupe(records)
