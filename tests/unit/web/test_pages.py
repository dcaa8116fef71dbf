"""The pages a person sees: escaped, self-contained, and the button posts the one-click form."""

from __future__ import annotations

import re

from outbound.web import pages


def test_confirm_page_escapes_and_posts_the_one_click_form() -> None:
    html = pages.confirm_page('x"><script>alert(1)</script>@evil.test', "/u/abc.def")
    assert "<script>" not in html and "&lt;script&gt;" in html
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', html)
    assert form is not None and form.group(1) == "/u/abc.def"
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in form.group(2)


def test_pages_load_nothing_from_elsewhere() -> None:
    for html in (pages.confirm_page("a@b.test", "/u/t"), pages.done_page("a@b.test"), pages.not_found_page(),
                 pages.bad_request_page("/u/t"), pages.unavailable_page()):
        assert not re.search(r'(src|href)\s*=', html)
        assert "http://" not in html and "https://" not in html
