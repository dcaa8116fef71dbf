"""The Message-ID of our message inside a bounce: an attached message/rfc822, a text/rfc822-headers
part, or headers quoted in the body."""

from __future__ import annotations

import re
from email.message import Message

from outbound.inbox import mime

_MSGID_LINE = re.compile(r"^[ \t>]*Message-I[Dd]\s*:\s*(<[^<>\s]+>|[^\s<>]+@[^\s<>]+)", re.M | re.I)
_ANGLE = re.compile(r"<[^<>\s]+@[^<>\s]+>|<[^<>\s]+>")


def _clean(value: str) -> str | None:
    match = _ANGLE.search(value)
    if match:
        return match.group(0)
    value = value.strip()
    return f"<{value}>" if "@" in value and " " not in value else None


def original_message_id(msg: Message, body: str) -> str | None:
    own = mime.header(msg, "Message-ID")
    for part in mime.walk(msg):
        if part is msg:
            continue
        ctype = mime.content_type(part)
        if ctype in ("message/rfc822", "message/global", "message/rfc822-headers"):
            try:
                payload = part.get_payload()
            except Exception:
                continue
            inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
            if inner is not None:
                value = mime.header(inner, "Message-ID")
                if value:
                    return _clean(value)
                found = _from_text(mime.message_text(inner), own)
                if found:
                    return found
            else:
                found = _from_text(mime.part_text(part), own)
                if found:
                    return found
        elif ctype in ("text/rfc822-headers", "text/rfc822-header", "message/global-headers"):
            found = _from_text(mime.part_text(part), own)
            if found:
                return found
    return _from_text(body, own)


def _from_text(text: str, own: str) -> str | None:
    own_id = _clean(own) if own else None
    for match in _MSGID_LINE.finditer(text):
        value = _clean(match.group(1))
        if value and value != own_id:
            return value
    return None
