"""A person in a real browser (headless Chromium over the DevTools Protocol): open the link, press the button."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from sqlalchemy import Engine

from outbound.rulebook.decide import UNSUBSCRIBE_REASONS
from tests.fixtures.common import unavailable
from tests.integration.web.cdp import ChromiumUnavailable, Page, chromium_page
from tests.integration.web.harness import ServerThread, counts, enrollment_states, seed, suppressed_values


async def test_confirmation_page_button_unsubscribes_in_chromium(
        sqlite_store: Engine, start_server: Callable[..., ServerThread]) -> None:
    data = seed(sqlite_store, 2)
    server = start_server(sqlite_store)
    person = data.emails[0]
    url = data.local_url(person, server.base)
    async with contextlib.AsyncExitStack() as stack:
        try:
            page: Page = await stack.enter_async_context(chromium_page())
        except ChromiumUnavailable as exc:
            unavailable(str(exc))
        await page.navigate(url)
        assert await page.evaluate("document.title") == "Unsubscribe"
        assert person in await page.evaluate("document.body.innerText")
        assert counts(sqlite_store).suppressed == 0  # opening the page (a GET) changes nothing
        page.drain()
        assert await page.evaluate("document.getElementById('unsubscribe').click(), true") is True
        await page.wait_for("Page.loadEventFired")
        text = await page.evaluate("document.body.innerText")
        assert await page.evaluate("location.href") == url
    assert "You are unsubscribed" in text
    assert suppressed_values(sqlite_store) == {person: UNSUBSCRIBE_REASONS["link"]}
    assert enrollment_states(sqlite_store, person) == {"seq": "stopped", "other": "stopped"}
    assert enrollment_states(sqlite_store, data.emails[1]) == {"seq": "active", "other": "active"}
