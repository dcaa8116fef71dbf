"""A team member's session in real Chromium: log in, read the overview (the figures `outbound report
--json` prints), answer a reply (it reaches the SMTP sink), pause and resume a mailbox, unsubscribe a
person, log out; a POST without the CSRF token and requests without a session are refused.
Screenshots at 1400 px and 390 px go to docs/screenshots/ (the README shows two of them)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from tests.browser.conftest import PASSWORD, SCREENSHOTS, Served


def _login(page: Any, served: Served, then: str = "/") -> None:
    page.goto(served.url + then)
    assert "/login?next=" in page.url, "a page without a session must lead to the login"
    page.fill("#user", "admin")
    page.fill("#password", PASSWORD)
    page.click("[data-testid=login]")
    page.wait_for_load_state()


def _kpi(page: Any, key: str) -> str:
    return str(page.locator(f"[data-testid=kpi-{key}] b").inner_text()).strip()


def test_a_session_in_chromium(browser: Any, served: Served) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    _login(page, served, "/?window=all")
    assert page.url.endswith("/?window=all")

    report = json.loads(served.cli("report", "--json").stdout)
    [figures] = report["groups"].values()
    assert _kpi(page, "sent") == str(figures["sent"]) == str(served.history.sends)
    assert _kpi(page, "delivered") == str(figures["delivered"])
    for key in ("bounce_rate", "reply_rate", "positive_rate", "unsubscribe_rate", "complaint_rate"):
        assert _kpi(page, key.replace("_", "-")) == f"{figures[key]:.1%}", key
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview-1400.png"), full_page=True)

    # a reply: open it, answer it; the answer goes out through the mailbox that received it
    page.goto(served.url + "/replies")
    page.locator("[data-testid^=reply-]").first.click()
    page.wait_for_load_state()
    assert "pricing" in page.locator(".msg").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "reply-1400.png"), full_page=True)
    page.fill("#body", "Happy to: our pricing is per mailbox, here are the details.")
    page.click("[data-testid=send-answer]")
    page.wait_for_load_state()
    assert "answer sent to" in page.locator("[data-testid=flash]").inner_text()
    [answer] = served.sink.messages
    assert "pricing is per mailbox" in answer.message.get_content()
    assert page.locator("[data-testid=reply-state]").inner_text() == "answered"

    # a mailbox: pause, then resume
    page.goto(served.url + "/mailboxes")
    row = page.locator("[data-testid='mailbox-m0@d0.test']")
    row.locator("input[name=reason]").fill("checking a bounce spike")
    row.locator("[data-testid=pause]").click()
    page.wait_for_load_state()
    row = page.locator("[data-testid='mailbox-m0@d0.test']")
    assert row.locator("[data-testid=state]").inner_text() == "paused"
    assert "paused by hand: checking a bounce spike" in row.inner_text()
    page.goto(served.url + "/?window=all")
    assert "m0@d0.test" in page.locator("[data-testid=paused-mailboxes]").inner_text()
    page.goto(served.url + "/mailboxes")
    page.locator("[data-testid='mailbox-m0@d0.test'] [data-testid=resume]").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid='mailbox-m0@d0.test'] [data-testid=state]").inner_text() == "active"

    # a person: find them, unsubscribe them
    page.goto(served.url + "/people")
    page.fill("[data-testid=search]", "pat2")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    page.locator("[data-testid=people] a").first.click()
    page.wait_for_load_state()
    email = unquote(page.url.rsplit("/", 1)[1])
    page.click("[data-testid=unsubscribe-person]")
    page.wait_for_load_state()
    assert "unsubscribed" in page.locator("[data-testid=flash]").inner_text()
    assert set(page.locator("[data-testid=enrollment-state]").all_inner_texts()) == {"stopped"}
    listed = served.cli("suppress", "list").stdout
    assert email in listed, listed

    # the phone layout: nothing wider than the screen but the tables' own scroll areas
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(served.url + "/?window=all")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(SCREENSHOTS / "overview-390.png"), full_page=True)
    phone.close()

    page.click("[data-testid=logout]")
    page.wait_for_load_state()
    assert page.url.endswith("/login")
    page.goto(served.url + "/")
    assert "/login?next=" in page.url
    context.close()


def test_without_the_csrf_token_or_a_session_nothing_happens(browser: Any, served: Served) -> None:
    context = browser.new_context()
    page = context.new_page()
    _login(page, served)
    forged = page.request.post(served.url + "/mailboxes/pause", form={"target": "m0@d0.test"}, max_redirects=0)
    assert forged.status == 403
    stranger = browser.new_context()
    anonymous = stranger.request.post(served.url + "/mailboxes/pause", form={"target": "m0@d0.test", "csrf": "x"},
                                      max_redirects=0)
    assert anonymous.status == 403
    redirected = stranger.request.get(served.url + "/replies", max_redirects=0)
    assert redirected.status == 303 and redirected.headers["location"].startswith("/login")
    page.goto(served.url + "/mailboxes")
    assert set(page.locator("[data-testid=state]").all_inner_texts()) == {"active"}
    stranger.close()
    context.close()
