"""Reading RFC 8058 one-click POST bodies in both form encodings."""

from __future__ import annotations

import pytest

from outbound.web.oneclick import MAX_BODY, one_click_requested

FORM = "application/x-www-form-urlencoded"


def _multipart(name: str, value: str, boundary: str = "b0undary") -> tuple[str, bytes]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--{boundary}--\r\n")
    return f"multipart/form-data; boundary={boundary}", body.encode()


@pytest.mark.parametrize(("ctype", "body"), [
    (FORM, b"List-Unsubscribe=One-Click"),
    (FORM + "; charset=utf-8", b"other=1&List-Unsubscribe=One-Click"),
    (None, b"List-Unsubscribe=One-Click"),
    _multipart("List-Unsubscribe", "One-Click"),
    (FORM, "List-Unsubscribe=One-Click&name=Ren\u00e9e".encode()),
])
def test_accepted(ctype: str | None, body: bytes) -> None:
    assert one_click_requested(ctype, body)


@pytest.mark.parametrize(("ctype", "body"), [
    (FORM, b""),
    (FORM, b"List-Unsubscribe=one-click-please"),
    (FORM, b"list-unsubscribe=One-Click"),
    ("application/json", b'{"List-Unsubscribe": "One-Click"}'),
    (FORM, b"List-Unsubscribe=One-Click" + b"&x=" + b"y" * MAX_BODY),
    _multipart("Other", "One-Click"),
    ("multipart/form-data; boundary=zzz", b"garbage without parts"),
])
def test_refused(ctype: str | None, body: bytes) -> None:
    assert not one_click_requested(ctype, body)
