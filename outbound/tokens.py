"""Signed link tokens for unsubscribe and click URLs: ``base64url(json).base64url(hmac)``.

The HMAC-SHA256 tag (truncated to 128 bits, as RFC 2104 allows) covers the encoded payload text,
and the tag is compared as text in constant time, so no other spelling of a token verifies. The
payload is signed, not encrypted: put only what the recipient may see in it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from outbound.core.link_base import link_base

_TAG_BYTES = 16
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_TOKEN = 4096
UNSUBSCRIBE_PURPOSE = "u"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(body: str, secret: bytes) -> str:
    return _b64(hmac.digest(secret, body.encode("ascii"), hashlib.sha256)[:_TAG_BYTES])  # one-shot: OpenSSL's C path


_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)  # built once, not per token


def sign(payload: dict[str, Any], secret: bytes) -> str:
    """A URL-safe token carrying ``payload`` (JSON-serialisable), signed with ``secret``."""
    if not secret:
        raise ValueError("the signing secret is empty")
    body = _b64(_JSON.encode(payload).encode())
    return f"{body}.{_tag(body, secret)}"


def verify(token: str, secret: bytes) -> dict[str, Any] | None:
    """The payload of a token made by ``sign`` with this secret; None if forged, altered or malformed."""
    if not secret or not isinstance(token, str) or len(token) > MAX_TOKEN:
        return None
    body, dot, tag = token.partition(".")
    if not dot or not _B64URL.match(body) or not _B64URL.match(tag):
        return None
    if not hmac.compare_digest(tag, _tag(body, secret)):
        return None
    try:
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class UnsubscribeLinks:
    """The mailto form (always: the recipient can ask by mail) and, given a link server, the
    https one-click URL (RFC 8058) for one send."""

    https_url: str | None
    mailto: str

    @property
    def url(self) -> str:
        """The link shown in the body: the web link where there is one, else the mailto."""
        return self.https_url or self.mailto

    @property
    def one_click(self) -> bool:
        """RFC 8058 one-click needs an https URI (List-Unsubscribe-Post is sent only then)."""
        return self.https_url is not None and self.https_url.startswith("https://")

    @property
    def header(self) -> str:
        """The List-Unsubscribe value: https first, as Gmail and Yahoo expect for one-click."""
        return ", ".join(f"<{u}>" for u in (self.https_url, self.mailto) if u)


def unsubscribe_links(send_id: int | str, address: str, base: str | None, mailbox_address: str,
                      secret: bytes) -> UnsubscribeLinks:
    """Links for one send: ``{base}/u/{token}`` (``base``: a host, meaning https://host, or a base URL
    kept as written; None: no link server) and ``mailto:{mailbox}?subject=unsubscribe``, which the
    inbox poller reads as an unsubscribe request."""
    https_url = None
    if base is not None:
        token = sign({"p": UNSUBSCRIBE_PURPOSE, "s": send_id, "e": address}, secret)
        https_url = f"{link_base(base)}/u/{token}"
    return UnsubscribeLinks(https_url=https_url, mailto=_mailto(mailbox_address))


UNSUBSCRIBE_SUBJECT = "unsubscribe"  # outbound.inbox.unsubscribe_words reads this subject as a request


@functools.lru_cache(maxsize=1024)
def _mailto(mailbox_address: str) -> str:
    return f"mailto:{quote(mailbox_address, safe='@')}?subject={UNSUBSCRIBE_SUBJECT}"


def verify_unsubscribe(token: str, secret: bytes) -> tuple[int | str, str] | None:
    """(send_id, address) from an unsubscribe token; None for any other token, forged or not."""
    payload = verify(token, secret)
    if payload is None or payload.get("p") != UNSUBSCRIBE_PURPOSE:
        return None
    send_id, address = payload.get("s"), payload.get("e")
    if not isinstance(send_id, (int, str)) or isinstance(send_id, bool) or not isinstance(address, str):
        return None
    return send_id, address
