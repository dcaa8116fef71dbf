"""The bytes of a rendered message, fast: ``RenderedMessage.as_bytes()`` without the email package's cost.

``as_bytes()`` builds an ``EmailMessage`` and parses every header through the header registry
(~2.4 ms a message, more than the SMTP transaction on loopback). The common message — one
text/plain part, 7bit body, no SMTPUTF8 — is written here directly: headers that are plain short
ASCII go out verbatim, any other header is folded by the same policy object the slow path uses,
and anything else (HTML alternative, non-ASCII body) takes the slow path. Byte-identical output
is checked by tests/unit/engine/test_wire.py.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from functools import lru_cache

from outbound.render.headers import SMTP_POLICY, URL_LIST_SEPARATOR
from outbound.render.message import RenderedMessage

_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*\Z")  # printable ASCII words with single spaces between them
_PARSED = {"from", "to", "cc", "reply-to", "sender", "list-unsubscribe"}  # always through the registry
_TAIL = b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\nMIME-Version: 1.0\r\n\r\n'
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_MAX_LINE = SMTP_POLICY.max_line_length or 78


@lru_cache(maxsize=4096)
def _folded(name: str, value: str) -> bytes:
    """A header as the slow path writes it (cached: From repeats for every send of a mailbox)."""
    header = SMTP_POLICY.header_factory(name, value)
    return header.fold(policy=SMTP_POLICY).encode("ascii")  # type: ignore[no-any-return]


_ATOMS = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*\Z")           # a display name the registry leaves as is
_DOT_ATOM = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*\Z")   # a local part or domain needing no quotes


def _address(name: str, addr: Address) -> bytes | None:
    """``To: Name <user@domain>`` written directly when the registry would write exactly that
    (plain words, dot-atoms, one short line); None sends it the slow way. To differs per send, so
    the cache of ``_folded`` cannot help it."""
    display, user, domain = addr.display_name, addr.username, addr.domain
    if not (_DOT_ATOM.match(user) and _DOT_ATOM.match(domain)) or (display and not _ATOMS.match(display)):
        return None
    line = f"{name}: {display} <{user}@{domain}>" if display else f"{name}: {user}@{domain}"
    return (line + "\r\n").encode("ascii") if len(line) <= _MAX_LINE else None


def _header(name: str, value: str) -> bytes:
    lower = name.lower()
    if lower == "list-unsubscribe" and "=?" not in value and _PLAIN.match(value):
        # what _UrlListHeader.fold writes, without the registry's parse (~20 µs a send)
        return (f"{name}: " + ",\r\n ".join(URL_LIST_SEPARATOR.split(value)) + "\r\n").encode("ascii")
    if (lower not in _PARSED and len(name) + 2 + len(value) <= _MAX_LINE
            and "=?" not in value and _PLAIN.match(value)):
        return f"{name}: {value}\r\n".encode("ascii")
    if lower in ("from", "to"):
        return _folded(name, value)
    return SMTP_POLICY.header_factory(name, value).fold(policy=SMTP_POLICY).encode("ascii")  # type: ignore[no-any-return]


def fast_path(msg: RenderedMessage) -> bool:
    text = msg.text
    return (msg.html is None and not msg.needs_smtputf8 and text.isascii()
            and all(len(line) <= 900 for line in text.splitlines()))


def message_bytes(msg: RenderedMessage) -> bytes:
    """Exactly ``msg.as_bytes()``, several times faster for the common message."""
    if not fast_path(msg):
        return msg.as_bytes()
    try:
        parts = []
        for name, value in msg.headers.items():
            if name == "From":
                value = str(msg.sender)
            elif name == "To":
                fast = _address(name, msg.recipient)
                if fast is not None:
                    parts.append(fast)
                    continue
                value = str(msg.recipient)
            parts.append(_header(name, value))
    except (UnicodeEncodeError, ValueError, TypeError):
        return msg.as_bytes()
    lines = _LINE_BREAKS.split(msg.text)
    if lines and lines[-1] == "":
        lines.pop()
    body = "".join(line + "\r\n" for line in lines).encode("ascii")
    return b"".join(parts) + _TAIL + body
