"""One-click unsubscribe against a real uvicorn on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import Engine

from outbound.core import events as ev
from outbound.render.tracking import click_link
from outbound.rulebook.decide import UNSUBSCRIBE_REASONS
from outbound.tokens import sign
from tests.integration.web.harness import (
    HOST,
    SECRET,
    ServerThread,
    cli_server,
    counts,
    enrollment_states,
    events,
    seed,
    suppressed_values,
)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
CONNECTIONS = 32


def test_one_click_post_suppresses_and_stops_every_enrollment(store: Engine,
                                                              start_server: Callable[..., ServerThread]) -> None:
    data = seed(store, 3)
    server = start_server(store)
    target, bystander = data.emails[0], data.emails[1]
    url = data.local_url(target, server.base)
    with httpx.Client() as client:
        answer = client.post(url, data=ONE_CLICK)
        assert answer.status_code == 200
        assert "unsubscribed" in answer.text
        # state is written before the answer: read right after, no waiting
        assert suppressed_values(store) == {target: UNSUBSCRIBE_REASONS["link"]}
        assert enrollment_states(store, target) == {"seq": "stopped", "other": "stopped"}
        assert enrollment_states(store, bystander) == {"seq": "active", "other": "active"}
        for _ in range(3):  # repeated POSTs (the provider retries, the person clicks twice) change nothing
            assert client.post(url, data=ONE_CLICK).status_code == 200
    recorded = events(store, ev.UNSUBSCRIBED)
    assert len(recorded) == 1
    assert recorded[0].send_id == data.send_ids[target]
    assert recorded[0].data["address"] == target and recorded[0].data["enrollments_changed"] == 2
    assert counts(store).suppressed == 1


def test_get_and_head_only_show_the_confirmation_page(store: Engine, start_server: Callable[..., ServerThread]) -> None:
    data = seed(store, 1)
    server = start_server(store)
    url = data.local_url(data.emails[0], server.base)
    with httpx.Client() as client:
        page = client.get(url)
        head = client.head(url)
    assert page.status_code == 200 and head.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'method="post"' in page.text and 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert data.emails[0] in page.text
    assert "http" not in page.text.split("<body>", 1)[1]  # no external assets or links
    after = counts(store)
    assert (after.suppressed, after.unsubscribed_events, after.stopped) == (0, 0, 0)


def test_multipart_one_click_as_rfc_8058_recommends(store: Engine, start_server: Callable[..., ServerThread]) -> None:
    data = seed(store, 1)
    server = start_server(store)
    url = data.local_url(data.emails[0], server.base)
    answer = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200
    assert data.emails[0] in suppressed_values(store)


def test_post_without_the_one_click_field_changes_nothing(store: Engine,
                                                          start_server: Callable[..., ServerThread]) -> None:
    data = seed(store, 1)
    server = start_server(store)
    url = data.local_url(data.emails[0], server.base)
    with httpx.Client() as client:
        assert client.post(url).status_code == 400
        assert client.post(url, data={"List-Unsubscribe": "Maybe"}).status_code == 400
        assert client.post(url, content=b"x" * 100_000,
                           headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 400
    assert counts(store).suppressed == 0 and counts(store).stopped == 0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_forged_truncated_altered_and_swapped_tokens_are_404(store: Engine,
                                                             start_server: Callable[..., ServerThread]) -> None:
    data = seed(store, 2)
    server = start_server(store)
    victim, attacker = data.emails
    good = data.local_url(attacker, server.base)
    token = good.rsplit("/", 1)[1]
    body, tag = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    swapped_body = _b64(json.dumps({**payload, "e": victim}, separators=(",", ":"), sort_keys=True).encode())
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    bad = {
        "forged with another secret": sign({**payload, "e": victim}, b"not-the-real-secret-0123456789"),
        "truncated": token[:-4],
        "tag removed": body,
        "body altered": f"{flipped}.{tag}",
        "another address, old tag": f"{swapped_body}.{tag}",
        "a click token": click_link(data.send_ids[victim], "https://example.com/", HOST, SECRET).rsplit("/", 1)[1],
        "garbage": "not-a-token",
    }
    with httpx.Client(base_url=server.base) as client:
        for what, forged in bad.items():
            assert client.post(f"/u/{forged}", data=ONE_CLICK).status_code == 404, what
            assert client.get(f"/u/{forged}").status_code == 404, what
        assert counts(store).suppressed == 0 and counts(store).stopped == 0
        # the attacker's genuine token unsubscribes the attacker only
        assert client.post(good.removeprefix(server.base), data=ONE_CLICK).status_code == 200
    assert set(suppressed_values(store)) == {attacker}
    assert enrollment_states(store, victim) == {"seq": "active", "other": "active"}


def test_health(store: Engine, start_server: Callable[..., ServerThread]) -> None:
    server = start_server(store)
    answer = httpx.get(f"{server.base}/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


async def test_400_concurrent_one_click_posts_are_each_recorded_once(store: Engine, tmp_path: Path) -> None:
    """`outbound serve` in its own process; 400 addresses, 50 of them POSTed twice at the same moment."""
    data = seed(store, 400, sequences=("seq",))
    with cli_server(tmp_path / "ws", str(store.url.render_as_string(hide_password=False))) as server:
        urls = [data.local_url(e, server.base) for e in data.emails]
        jobs = urls + urls[:50]
        resent: list[str] = []
        gate = asyncio.Semaphore(CONNECTIONS)  # keeps httpx's pool queue short (its cost grows with the queue)
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        started = time.monotonic()
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            async def post(url: str) -> int:
                # a keep-alive connection the server closes just as it is reused fails with ReadError:
                # the request is sent again, as a provider would (the endpoint is idempotent)
                async with gate:
                    for attempt in range(3):
                        try:
                            return (await client.post(url, data=ONE_CLICK)).status_code
                        except httpx.TransportError:
                            if attempt == 2:
                                raise
                            resent.append(url)
                    raise AssertionError("unreachable")

            statuses = await asyncio.gather(*(post(u) for u in jobs))
        elapsed = time.monotonic() - started
    assert statuses == [200] * len(jobs)
    after = counts(store)
    assert after.suppressed == 400
    assert after.unsubscribed_events == 400
    assert (after.stopped, after.active) == (400, 0)
    assert {e.data["address"] for e in events(store, ev.UNSUBSCRIBED)} == set(data.emails)
    print(f"\n{store.dialect.name}: {len(jobs)} one-click POSTs in {elapsed:.1f}s ({len(jobs) / elapsed:.0f}/s), {len(resent)} resent")
