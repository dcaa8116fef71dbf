"""Click redirects and open pixels over real HTTP: signed targets only, machine fetches flagged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import Engine

from outbound.core import events as ev
from outbound.render.tracking import click_link, open_pixel
from outbound.spec.sequence import Tracking
from outbound.web.app import PIXEL
from tests.integration.web.harness import HOST, SECRET, ServerThread, events, seed

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
ON = {"seq": Tracking(clicks=True, opens=True)}


def _local(url: str, server: ServerThread) -> str:
    return server.base + url.removeprefix(f"https://{HOST}")


def test_click_redirects_to_the_signed_target_and_records_once(sqlite_store: Engine,
                                                               start_server: Callable[..., ServerThread]) -> None:
    data = seed(sqlite_store, 1)
    server = start_server(sqlite_store, ON)
    send_id = data.send_ids[data.emails[0]]
    target = "https://example.com/pricing?plan=team&ref=mail#top"
    link = _local(click_link(send_id, target, HOST, SECRET), server)
    with httpx.Client(headers={"user-agent": BROWSER}) as client:
        first = client.get(link)
        again = client.get(link)
        # a query parameter cannot change where the link goes: no open redirect
        hijack = client.get(link + "?url=https://evil.test/&next=https://evil.test/")
    for answer in (first, again, hijack):
        assert answer.status_code == 302
        assert answer.headers["location"] == target
    clicks = events(sqlite_store, ev.CLICKED)
    assert len(clicks) == 1  # one per send, link and kind of clicker
    assert clicks[0].send_id == send_id and clicks[0].data["url"] == target and clicks[0].data["machine"] is False


def test_forged_click_and_open_tokens_are_404(sqlite_store: Engine, start_server: Callable[..., ServerThread]) -> None:
    data = seed(sqlite_store, 1)
    server = start_server(sqlite_store, ON)
    send_id = data.send_ids[data.emails[0]]
    forged_click = click_link(send_id, "https://evil.test/", HOST, b"some-other-secret-0123456789")
    token = open_pixel(send_id, HOST, SECRET).rsplit("/", 1)[1].removesuffix(".gif")
    with httpx.Client(base_url=server.base) as client:
        assert client.get(forged_click.removeprefix(f"https://{HOST}")).status_code == 404
        assert client.get(f"/o/{token[:-3]}.gif").status_code == 404
        assert client.get(f"/c/{token}").status_code == 404  # an open token is not a click token
    assert events(sqlite_store, ev.CLICKED) == [] and events(sqlite_store, ev.OPENED) == []


def test_open_pixel_flags_apple_proxy_and_fast_scanners_as_machine(sqlite_store: Engine,
                                                                   start_server: Callable[..., ServerThread]) -> None:
    data = seed(sqlite_store, 1)  # sent an hour ago
    fresh = seed(sqlite_store, 1, prefix="fresh", sent_ago=timedelta(seconds=1)).send_ids["fresh0@example.test"]
    server = start_server(sqlite_store, ON)
    old_pixel = _local(open_pixel(data.send_ids[data.emails[0]], HOST, SECRET), server)
    new_pixel = _local(open_pixel(fresh, HOST, SECRET), server)
    with httpx.Client() as client:
        mpp = client.get(old_pixel, headers={"user-agent": "Mozilla/5.0"})
        person = client.get(old_pixel, headers={"user-agent": BROWSER})
        scanner = client.get(new_pixel, headers={"user-agent": BROWSER})
    for answer in (mpp, person, scanner):
        assert answer.status_code == 200 and answer.content == PIXEL
        assert answer.headers["content-type"] == "image/gif" and "no-store" in answer.headers["cache-control"]
    opened = {(e.send_id, e.data["machine"]): e.data["why"] for e in events(sqlite_store, ev.OPENED)}
    assert set(opened) == {(data.send_ids[data.emails[0]], True), (data.send_ids[data.emails[0]], False), (fresh, True)}
    assert "Apple Mail Privacy Protection" in opened[(data.send_ids[data.emails[0]], True)]
    assert "after delivery" in opened[(fresh, True)]


def test_sequences_without_tracking_record_nothing_but_links_still_work(
        sqlite_store: Engine, start_server: Callable[..., ServerThread]) -> None:
    data = seed(sqlite_store, 1)
    server = start_server(sqlite_store, {"seq": Tracking()})  # the default: both off
    send_id = data.send_ids[data.emails[0]]
    with httpx.Client(headers={"user-agent": BROWSER}) as client:
        click = client.get(_local(click_link(send_id, "https://example.com/", HOST, SECRET), server))
        pixel = client.get(_local(open_pixel(send_id, HOST, SECRET), server))
    assert click.status_code == 302 and click.headers["location"] == "https://example.com/"
    assert pixel.status_code == 200
    assert events(sqlite_store, ev.CLICKED) == [] and events(sqlite_store, ev.OPENED) == []
