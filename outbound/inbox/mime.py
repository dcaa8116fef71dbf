"""Defensive MIME access: parse any bytes, read headers and text parts without ever raising.

compat32 is used on purpose: policy.default raises on some malformed headers that real MTAs send,
and bounce parsing needs the raw structure (message/delivery-status as a list of header blocks).
"""

from __future__ import annotations

import contextlib
import email
import html
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32

_TAG_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.S | re.I)
_BLOCK_RE = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d|p|div|tr|li|blockquote|/blockquote)\b[^>]*>", re.I)


def parse(raw: bytes) -> Message:
    """Any bytes give a Message; garbage gives one with no headers and the bytes as body."""
    try:
        return email.message_from_bytes(raw, policy=compat32)
    except Exception:  # pragma: no cover - the parser is lenient, but never let it escape
        msg = Message()
        msg.set_payload(raw.decode("latin-1"))
        return msg


def header(msg: Message, name: str) -> str:
    """One header decoded from RFC 2047 words and unfolded; '' when absent or undecodable."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    return decode_value(value)


def headers(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
    except Exception:
        return []
    return [decode_value(v) for v in values]


def decode_value(value: object) -> str:
    text = str(value)
    with contextlib.suppress(Exception):
        text = str(make_header(decode_header(text)))
    # Undecodable 8-bit bytes in headers arrive as surrogates; drop them rather than fail later.
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return " ".join(text.split())


def walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:
        return


def part_text(part: Message) -> str:
    """The decoded text of a leaf part (any charset, any transfer encoding)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        try:
            raw = part.get_payload()
        except Exception:
            return ""
        if isinstance(raw, list):
            return "\n\n".join(_as_string(sub) for sub in raw if isinstance(sub, Message))
        return str(raw)
    if not isinstance(payload, bytes):
        return str(payload)
    charset = _charset(part)
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _charset(part: Message) -> str:
    try:
        cs = part.get_content_charset() or ""
    except Exception:
        return ""
    # Japanese MTAs often label ISO-2022-JP text as plain us-ascii or the reverse; Python handles both names.
    return cs.strip().strip('"').lower()


def _as_string(msg: Message) -> str:
    try:
        return msg.as_string(maxheaderlen=0)
    except Exception:
        try:
            return "\n".join(f"{k}: {v}" for k, v in msg.items())
        except Exception:
            return ""


def message_text(msg: Message) -> str:
    """The whole of an embedded message (headers and body) as text."""
    return _as_string(msg)


def content_type(part: Message) -> str:
    """The part's type; a multipart whose boundary never appears is really one block of text."""
    try:
        ctype = part.get_content_type()
        if ctype.startswith("multipart/") and not part.is_multipart():
            return "text/plain"
        return ctype
    except Exception:
        return "text/plain"


def html_to_text(markup: str) -> str:
    text = _BLOCK_RE.sub("\n", markup)
    text = _TAG_RE.sub("", text)
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def body_text(msg: Message, *, skip_attached: bool = True) -> str:
    """The main human-readable text: the first text/plain part, else the first text/html as text.

    Parts inside an attached message/rfc822 are skipped (they are the returned original).
    """
    plain: str | None = None
    markup: str | None = None
    for part in leaf_parts(msg, skip_attached=skip_attached):
        ctype = content_type(part)
        if _is_attachment(part):
            continue
        if ctype == "text/plain" and plain is None:
            plain = part_text(part)
        elif ctype == "text/html" and markup is None:
            markup = part_text(part)
    if plain is not None and plain.strip():
        return plain
    if markup is not None:
        return html_to_text(markup)
    return plain or ""


def _is_attachment(part: Message) -> bool:
    try:
        disposition = str(part.get("Content-Disposition", "")).lower()
    except Exception:
        return False
    return disposition.startswith("attachment")


_EMBEDDED = frozenset({"message/rfc822", "message/global", "message/partial"})


def leaf_parts(msg: Message, *, skip_attached: bool = True) -> Iterator[Message]:
    """Non-multipart parts in order; with skip_attached, nothing below a message/* part."""
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop(0)
        try:
            is_multi = part.is_multipart()
            payload = part.get_payload()
        except Exception:
            continue
        ctype = content_type(part)
        if ctype.startswith("message/") and part is not msg:
            yield part
            if skip_attached or ctype not in _EMBEDDED:
                continue
        if is_multi and isinstance(payload, list):
            stack[0:0] = [p for p in payload if isinstance(p, Message)]
        elif not ctype.startswith("message/") or part is msg:
            yield part
