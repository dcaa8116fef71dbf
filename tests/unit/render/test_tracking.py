"""Click and open tokens, and the HTML link rewriter."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outbound.render.tracking import click_link, open_pixel, rewrite_html, trackable_url, verify_click, verify_open
from outbound.tokens import unsubscribe_links, verify_unsubscribe

SECRET = b"unit-secret-0123456789abcdef"
HOST = "t.example.com"


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".gif")


def test_click_token_round_trip_and_link_shape() -> None:
    link = click_link(42, "https://example.com/a?b=1&c=2", HOST, SECRET)
    assert link.startswith(f"https://{HOST}/c/")
    assert verify_click(_token(link), SECRET) == (42, "https://example.com/a?b=1&c=2")
    assert verify_click(_token(link), b"another-secret-0123456789") is None


def test_tokens_of_one_purpose_do_not_verify_as_another() -> None:
    click = _token(click_link(1, "https://example.com/", HOST, SECRET))
    pixel = _token(open_pixel(1, HOST, SECRET))
    unsub = _token(unsubscribe_links(1, "a@b.test", HOST, "m@d.test", SECRET).https_url)
    assert verify_open(pixel, SECRET) == 1
    assert verify_open(click, SECRET) is None and verify_open(unsub, SECRET) is None
    assert verify_click(pixel, SECRET) is None and verify_click(unsub, SECRET) is None
    assert verify_unsubscribe(click, SECRET) is None and verify_unsubscribe(pixel, SECRET) is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.test/", "/relative", "ftp://x.test/",
                                 "https://x.test/a b", "https://x.test/\r\nSet-Cookie: x"])
def test_only_absolute_http_urls_become_redirect_targets(url: str) -> None:
    assert not trackable_url(url)
    with pytest.raises(ValueError):
        click_link(1, url, HOST, SECRET)


def test_bad_tracking_host_is_refused() -> None:
    with pytest.raises(ValueError):
        open_pixel(1, "evil.test/path", SECRET)


@given(st.text(min_size=1, max_size=60))
def test_any_altered_click_token_is_refused(noise: str) -> None:
    token = _token(click_link(7, "https://example.com/", HOST, SECRET))
    altered = token + noise
    assert verify_click(altered, SECRET) is None
    assert verify_click(token[: len(token) // 2], SECRET) is None


HTML = ('<html><body><p>Hi <a class="x" href="https://example.com/page?a=1&amp;b=2">page</a>, '
        "<a href='http://example.org/'>org</a> <a href=\"mailto:me@x.test\">mail</a> <a href=\"#top\">top</a> "
        '<a data-no-track href="https://keep.test/">keep</a> <a href="{unsub}">Unsubscribe</a></p></body></html>')


def test_rewrite_sends_web_links_through_click_links_and_adds_a_pixel() -> None:
    unsub = unsubscribe_links(5, "a@b.test", HOST, "m@d.test", SECRET).https_url
    out = rewrite_html(HTML.format(unsub=unsub), send_id=5, tracking_host=HOST, secret=SECRET, clicks=True, opens=True,
                       keep={unsub})
    hrefs = re.findall(r'href="([^"]*)"', out)
    targets = [verify_click(_token(h), SECRET) for h in hrefs if h.startswith(f"https://{HOST}/c/")]
    assert targets == [(5, "https://example.com/page?a=1&b=2"), (5, "http://example.org/")]  # &amp; read as &
    assert "mailto:me@x.test" in hrefs and "#top" in hrefs and "https://keep.test/" in hrefs and unsub in hrefs
    pixel = re.search(r'<img src="([^"]+)"[^>]*></body>', out)
    assert pixel is not None and verify_open(_token(pixel.group(1)), SECRET) == 5
    assert out.count("<a ") == HTML.count("<a ")


def test_rewrite_is_a_no_op_when_tracking_is_off() -> None:
    html = HTML.format(unsub="https://t/u/x")
    assert rewrite_html(html, send_id=1, tracking_host=HOST, secret=SECRET, clicks=False, opens=False) == html


def test_rewrite_without_body_tag_appends_the_pixel_and_leaves_huge_urls_alone() -> None:
    huge = "https://example.com/" + "a" * 5000
    out = rewrite_html(f'<a href="{huge}">x</a>', send_id=1, tracking_host=HOST, secret=SECRET, clicks=True, opens=True)
    assert f'href="{huge}"' in out
    assert out.endswith('border:0">') and "/o/" in out
