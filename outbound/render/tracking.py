"""Click and open tracking links (signed tokens) and a pure HTML rewriter for them.

Both are off unless a sequence turns them on (``tracking: {clicks: true, opens: true}``). The
redirect target of a click link lives inside the signed token, never in a query parameter, so
the server cannot be used as an open redirect. Links are rewritten in the HTML part only: the
plain-text part keeps the real URLs, which readers can check before clicking.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Collection
from dataclasses import replace
from urllib.parse import urlsplit

from outbound.core.link_base import link_base
from outbound.render.message import RenderedMessage
from outbound.spec.sequence import Tracking
from outbound.tokens import MAX_TOKEN, sign, verify

CLICK_PURPOSE = "c"
OPEN_PURPOSE = "o"
def trackable_url(url: str) -> bool:
    """Only absolute http(s) URLs with a host are redirect targets (no javascript:, data:, //x)."""
    if any(c in url for c in "\r\n\t\x00 "):
        return False
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def click_token(send_id: int | str, url: str, secret: bytes) -> str:
    if not trackable_url(url):
        raise ValueError(f"{url!r} is not an http(s) URL")
    return sign({"p": CLICK_PURPOSE, "s": send_id, "u": url}, secret)


def click_link(send_id: int | str, url: str, tracking_host: str, secret: bytes) -> str:
    """``{base}/c/{token}``: records a click for ``send_id``, then redirects to ``url``. ``tracking_host``
    is a host (meaning https://host) or a base URL kept with its scheme, port and path."""
    return f"{link_base(tracking_host)}/c/{click_token(send_id, url, secret)}"


def open_pixel(send_id: int | str, tracking_host: str, secret: bytes) -> str:
    """``{base}/o/{token}.gif``: a 1x1 image that records an open for ``send_id``."""
    token = sign({"p": OPEN_PURPOSE, "s": send_id}, secret)
    return f"{link_base(tracking_host)}/o/{token}.gif"


def _send_id(payload: dict[str, object]) -> int | str | None:
    value = payload.get("s")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return value


def verify_click(token: str, secret: bytes) -> tuple[int | str, str] | None:
    """(send_id, target URL) from a click token; None for anything forged, altered or of another kind."""
    payload = verify(token, secret)
    if payload is None or payload.get("p") != CLICK_PURPOSE:
        return None
    send_id, url = _send_id(payload), payload.get("u")
    if send_id is None or not isinstance(url, str) or not trackable_url(url):
        return None
    return send_id, url


def verify_open(token: str, secret: bytes) -> int | str | None:
    payload = verify(token, secret)
    if payload is None or payload.get("p") != OPEN_PURPOSE:
        return None
    return _send_id(payload)


# ---------------------------------------------------------------- HTML rewriting

_A_TAG = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_NO_TRACK = re.compile(r"\bdata-no-track\b", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_OVERHEAD = 200  # room for the token's JSON and tag around the URL


def rewrite_html(html: str, *, send_id: int | str, tracking_host: str, secret: bytes, clicks: bool, opens: bool,
                 keep: Collection[str] = ()) -> str:
    """The HTML with http(s) links sent through click links and an open pixel before ``</body>``.

    Left alone: ``keep`` (the unsubscribe URL: it must stay a direct one-click link), links marked
    ``data-no-track``, mailto:/tel:/anchors, and URLs too long to fit in a token.
    """
    if clicks:
        def one_tag(tag: re.Match[str]) -> str:
            text = tag.group(0)
            if _NO_TRACK.search(text):
                return text

            def one_href(m: re.Match[str]) -> str:
                raw = next(g for g in (m.group(2), m.group(3), m.group(4)) if g is not None)
                url = htmllib.unescape(raw).strip()
                if url in keep or not trackable_url(url) or len(url) * 4 // 3 + _OVERHEAD > MAX_TOKEN:
                    return m.group(0)
                return f'{m.group(1)}"{click_link(send_id, url, tracking_host, secret)}"'

            return _HREF.sub(one_href, text, count=1)

        html = _A_TAG.sub(one_tag, html)
    if opens:
        pixel = (f'<img src="{open_pixel(send_id, tracking_host, secret)}" width="1" height="1" alt="" '
                 'style="display:block;width:1px;height:1px;border:0">')
        ends = list(_BODY_END.finditer(html))
        html = html[:ends[-1].start()] + pixel + html[ends[-1].start():] if ends else html + pixel
    return html


def track_message(rendered: RenderedMessage, tracking: Tracking, send_id: int | str, tracking_host: str | None,
                  secret: bytes, *, keep: Collection[str] = ()) -> RenderedMessage:
    """The message with its HTML part rewritten as the sequence's flags ask (plain text stays as is).

    Unchanged without a tracking host, without an HTML part, or with both flags off (the default).
    """
    if not tracking_host or rendered.html is None or not (tracking.clicks or tracking.opens):
        return rendered
    html = rewrite_html(rendered.html, send_id=send_id, tracking_host=tracking_host, secret=secret,
                        clicks=tracking.clicks, opens=tracking.opens, keep=keep)
    return replace(rendered, html=html)
