"""Complaints: ARF feedback reports (RFC 5965), Microsoft JMRP-style reports without the ARF part, and
mail-client opt-out reports (Apple Mail's one-click unsubscribe) that feedback loops forward."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from outbound.inbox import mime
from outbound.inbox.addresses import header_addresses, is_system
from outbound.inbox.dsn import unfold

_JMRP_SUBJECT = re.compile(r"complaint about message from|abuse report|spam report|feedback report|fbl report", re.I)


@dataclass(frozen=True)
class Complaint:
    feedback_type: str  # abuse, fraud, opt-out, not-spam, virus, other...
    recipients: tuple[str, ...]
    why: str


def _embedded(msg: Message) -> Message | None:
    for part in mime.walk(msg):
        if part is not msg and mime.content_type(part) in ("message/rfc822", "message/global"):
            try:
                payload = part.get_payload()
            except Exception:
                return None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
    return None


def _embedded_recipients(inner: Message | None) -> list[str]:
    if inner is None:
        return []
    found = header_addresses(mime.headers(inner, "X-HmXmrOriginalRecipient"))
    if not found:
        found = header_addresses(mime.headers(inner, "To"))
    return [a for a in found if not is_system(a)]


def _report_fields(msg: Message) -> dict[str, list[str]] | None:
    for part in mime.walk(msg):
        if mime.content_type(part) == "message/feedback-report":
            fields: dict[str, list[str]] = {}
            for line in unfold(mime.part_text(part)):
                name, sep, value = line.partition(":")
                if sep and name.strip() and " " not in name.strip():
                    fields.setdefault(name.strip().lower(), []).append(value.strip())
            return fields
    return None


def read_complaint(msg: Message) -> Complaint | None:
    fields = _report_fields(msg)
    if fields is not None:
        kind = (fields.get("feedback-type") or ["abuse"])[0].lower() or "abuse"
        named = header_addresses(fields.get("original-rcpt-to", []) + fields.get("removal-recipient", []))
        recipients = named or _embedded_recipients(_embedded(msg))
        return Complaint(kind, tuple(dict.fromkeys(recipients)), "ARF message/feedback-report part")
    if mime.header(msg, "X-Apple-Unsubscribe").lower() == "true":
        sender = header_addresses(mime.headers(msg, "From"))
        return Complaint("opt-out", tuple(sender[:1]), "Apple Mail one-click unsubscribe report")
    inner = _embedded(msg)
    if inner is not None and (
        mime.header(inner, "X-HmXmrOriginalRecipient") or _JMRP_SUBJECT.search(mime.header(msg, "Subject"))
    ):
        return Complaint("abuse", tuple(_embedded_recipients(inner)), "feedback-loop report without an ARF part")
    return None
