"""Signed tokens: round trip, forgery, truncation, alteration; unsubscribe links."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest

from outbound.tokens import sign, unsubscribe_links, verify, verify_unsubscribe

SECRET = b"s" * 32


@pytest.mark.parametrize(
    "payload",
    [{"s": 1, "e": "bob@example.com"}, {"u": "https://example.com/a?b=c&d=é"}, {}, {"nested": {"a": [1, 2]}}],
)
def test_round_trip_and_url_safe(payload: dict[str, object]) -> None:
    token = sign(payload, SECRET)
    assert verify(token, SECRET) == payload
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _altered(token: str) -> list[str]:
    body, tag = token.split(".")
    flip = {c: ("A" if c != "A" else "B") for c in set(token)}
    out = [token[:-1], token[:-5], body, f"{body}.", f".{tag}", token + "A", token + "=", token.replace(".", ""),
           f"{body}.{tag[:-1]}{flip[tag[-1]]}", f"{body[:-1]}{flip[body[-1]]}.{tag}", f"{tag}.{body}", "", "a.b.c"]
    for i in range(len(token)):  # every single-character change
        if token[i] != ".":
            out.append(token[:i] + flip[token[i]] + token[i + 1:])
    return out


def test_altered_or_truncated_tokens_are_refused() -> None:
    token = sign({"s": 42, "e": "bob@example.com"}, SECRET)
    for bad in _altered(token):
        assert verify(bad, SECRET) is None, bad


def test_wrong_secret_and_forged_payload_are_refused() -> None:
    token = sign({"s": 1}, SECRET)
    assert verify(token, b"t" * 32) is None
    forged_body = base64.urlsafe_b64encode(json.dumps({"s": 2}).encode()).rstrip(b"=").decode()
    assert verify(f"{forged_body}.{token.split('.')[1]}", SECRET) is None
    assert verify(token, b"") is None
    assert verify(123, SECRET) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sign({"s": 1}, b"")


def test_signed_non_object_payload_is_refused() -> None:
    import hashlib
    import hmac
    body = base64.urlsafe_b64encode(b"[1,2]").rstrip(b"=").decode()
    tag = base64.urlsafe_b64encode(hmac.new(SECRET, body.encode(), hashlib.sha256).digest()[:16]).rstrip(b"=").decode()
    assert verify(f"{body}.{tag}", SECRET) is None


def test_unsubscribe_links() -> None:
    links = unsubscribe_links(42, "bob@example.com", "T.Acme.io", "alex@acme.io", SECRET)
    url = urlsplit(links.https_url)
    assert (url.scheme, url.netloc) == ("https", "t.acme.io")
    assert url.path.startswith("/u/")
    assert verify_unsubscribe(url.path[3:], SECRET) == (42, "bob@example.com")
    assert links.mailto == "mailto:alex@acme.io?subject=unsubscribe"
    assert links.header == f"<{links.https_url}>, <mailto:alex@acme.io?subject=unsubscribe>"
    assert len(links.https_url) < 200


def test_verify_unsubscribe_refuses_other_purposes() -> None:
    assert verify_unsubscribe(sign({"p": "c", "s": 1, "e": "a@b.c"}, SECRET), SECRET) is None
    assert verify_unsubscribe(sign({"p": "u", "s": True, "e": "a@b.c"}, SECRET), SECRET) is None
    assert verify_unsubscribe(sign({"p": "u", "s": 1}, SECRET), SECRET) is None


@pytest.mark.parametrize("host", ["", "evil.com/path", "a b", "x@y"])
def test_bad_tracking_host_refused(host: str) -> None:
    with pytest.raises(ValueError):
        unsubscribe_links(1, "a@b.c", host, "alex@acme.io", SECRET)
