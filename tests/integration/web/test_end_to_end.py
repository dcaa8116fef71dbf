"""From a sent message to a stopped sequence: the engine mails over SMTP, the link in the message's
List-Unsubscribe header (on the sending domain's own tracking host) is POSTed to the link server."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.rulebook.decide import UNSUBSCRIBE_REASONS
from outbound.store.prospects import get_prospect
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine import workspace as engine_ws
from tests.integration.web.harness import ServerThread, enrollment_states, events, suppressed_values

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59", "timezone": "UTC"}
LINK = re.compile(r"<(https://([^/>]+)/u/[^>]+)>")


async def _ticks(tw: engine_ws.BuiltWorkspace, start: datetime, hours: float) -> None:
    pool = SmtpPool()
    try:
        now = start
        while now < start + timedelta(hours=hours):
            await run_tick(tw.ctx, pool, now)
            now += timedelta(minutes=10)
    finally:
        await pool.close_all()


async def test_the_link_in_a_sent_message_unsubscribes_and_stops_the_sequence(
        smtp_sink: SmtpSink, tmp_path: Path, start_server: Callable[..., ServerThread]) -> None:
    seq = engine_ws.three_step_sequence(domains=["d0.test", "d1.test"], window=ALWAYS)
    d1 = engine_ws.domain("d1.test", smtp_sink.port, 1, gap={"min": 0, "max": 0})
    d1["tracking_host"] = "links.d1.test"  # each sending domain names its own tracking host
    tw = engine_ws.build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
                         [engine_ws.domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0}), d1])
    engine_ws.add_prospects(tw, 6, "seq", at=START)
    await _ticks(tw, START, 1)
    assert len(smtp_sink.messages) == 6
    hosts = {"d0.test": "t.d0.test", "d1.test": "links.d1.test"}
    server = start_server(tw.engine, secret=engine_ws.SECRET)
    target = smtp_sink.messages[0].message
    for received in smtp_sink.messages:
        msg = received.message
        match = LINK.search(str(msg["List-Unsubscribe"]))
        assert match is not None
        sender_domain = str(msg["From"]).rsplit("@", 1)[1].rstrip(">")
        assert match.group(2) == hosts[sender_domain]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = msg.get_body(("plain",))
        assert body is not None and match.group(1) in body.get_content()  # the footer shows the same link
    url = LINK.search(str(target["List-Unsubscribe"]))
    assert url is not None
    https_url, host = url.group(1), url.group(2)
    address = str(target["To"]).strip("<>").rsplit("<", 1)[-1].strip(">")
    local = server.base + https_url.removeprefix(f"https://{host}")
    answer = httpx.post(local, data={"List-Unsubscribe": "One-Click"}, headers={"host": host})
    assert answer.status_code == 200
    assert suppressed_values(tw.engine)[address] == UNSUBSCRIBE_REASONS["link"]
    assert enrollment_states(tw.engine, address) == {"seq": "stopped"}
    before = len(smtp_sink.messages)
    await _ticks(tw, START + timedelta(days=3), 1)  # the follow-ups go to everyone else only
    later = [m.message for m in smtp_sink.messages[before:]]
    assert len(later) == 5
    assert all(str(m["To"]).find(address) < 0 for m in later)
    assert get_prospect(tw.engine, address) is not None


async def test_a_tracking_sequence_mails_click_and_open_links_that_the_server_records(
        smtp_sink: SmtpSink, tmp_path: Path, start_server: Callable[..., ServerThread]) -> None:
    seq = engine_ws.three_step_sequence(window=ALWAYS, tracking={"clicks": True, "opens": True})
    seq["steps"][0]["html"] = ('<html><body><p>Hi {{ first_name }}, see <a href="https://example.com/case-study">'
                               "our case study</a>.</p></body></html>")
    plain = engine_ws.three_step_sequence(name="plain", window=ALWAYS)
    plain["steps"][0]["html"] = seq["steps"][0]["html"]
    tw = engine_ws.build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq, plain],
                         [engine_ws.domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0})])
    engine_ws.add_prospects(tw, 1, "seq", at=START)
    engine_ws.add_prospects(tw, 1, "plain", at=START, seed=2, source="other")
    await _ticks(tw, START, 1)
    assert len(smtp_sink.messages) == 2
    parts = [m.message.get_body(("html",)) for m in smtp_sink.messages]
    html = {str(i): p.get_content() for i, p in enumerate(parts) if p is not None}
    tracked = [h for h in html.values() if "/c/" in h]
    assert len(tracked) == 1  # only the sequence that asks for it
    untracked = next(h for h in html.values() if h is not tracked[0])
    assert 'href="https://example.com/case-study"' in untracked and "/o/" not in untracked
    click = re.search(r'href="https://t\.d0\.test(/c/[^"]+)"', tracked[0])
    pixel = re.search(r'src="https://t\.d0\.test(/o/[^"]+\.gif)"', tracked[0])
    unsubscribe = re.search(r'href="https://t\.d0\.test(/u/[^"]+)"', tracked[0])
    assert click and pixel and unsubscribe  # the unsubscribe link stays direct
    server = start_server(tw.engine, {n: s.sequence.tracking for n, s in tw.ctx.workspace.sequences.items()},
                          secret=engine_ws.SECRET)
    agent = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"}
    with httpx.Client(base_url=server.base, headers=agent) as client:
        went = client.get(click.group(1))
        assert (went.status_code, went.headers["location"]) == (302, "https://example.com/case-study")
        assert client.get(pixel.group(1)).status_code == 200
    assert [e.data["url"] for e in events(tw.engine, "clicked")] == ["https://example.com/case-study"]
    assert len(events(tw.engine, "opened")) == 1
