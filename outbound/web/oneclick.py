"""Reading an RFC 8058 one-click unsubscribe POST body without a form-parsing dependency.

Mailbox providers POST ``List-Unsubscribe=One-Click`` as ``multipart/form-data`` (what RFC 8058
recommends) or ``application/x-www-form-urlencoded`` (what a browser form sends).
"""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser
from urllib.parse import parse_qs

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
MAX_BODY = 16 * 1024


def one_click_requested(content_type: str | None, body: bytes) -> bool:
    """Whether the body carries ``List-Unsubscribe=One-Click`` in either form encoding."""
    if len(body) > MAX_BODY:
        return False
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart_value(content_type or "", body) == ONE_CLICK_VALUE
    # some senders of one-click POSTs leave out the Content-Type: read the body as urlencoded then
    if kind not in ("", "application/x-www-form-urlencoded", "text/plain"):
        return False
    fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    return ONE_CLICK_VALUE in fields.get(ONE_CLICK_FIELD, [])


def _multipart_value(content_type: str, body: bytes) -> str | None:
    """The value of the ``List-Unsubscribe`` part, read with the stdlib MIME parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(head + body)
    except Exception:  # a malformed body is simply not a one-click request
        return None
    if not msg.is_multipart():
        return None
    for part in msg.get_payload():
        if isinstance(part, Message) and part.get_param("name", header="content-disposition") == ONE_CLICK_FIELD:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode("ascii", "replace").strip()
    return None
