"""The sending engine over real SMTP (aiosmtpd on loopback) in simulated time."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState, Suppression
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday


async def simulate(tw: BuiltWorkspace, start: datetime, days: float, step: timedelta = timedelta(minutes=15)) -> None:
    pool = SmtpPool()
    now = start
    try:
        while now < start + timedelta(days=days):
            await run_tick(tw.ctx, pool, now)
            now += step
    finally:
        await pool.close_all()


async def test_three_step_threaded_sequence_to_200_prospects(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    warmup = {"start": 5, "increase": 5, "max": 20}
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
               [three_step_sequence(domains=["d0.test", "d1.test"])],
               [domain("d0.test", smtp_sink.port, 3, warmup=warmup), domain("d1.test", smtp_sink.port, 3, warmup=warmup)])
    people = {p.email: p for p in add_prospects(tw, 200, "seq")}
    await simulate(tw, START, 16)

    by_recipient: dict[str, list] = defaultdict(list)
    for m in smtp_sink.messages:
        by_recipient[m.rcpt_tos[0]].append(m.message)
    assert set(by_recipient) == set(people), "every prospect got mail"
    per_mailbox_day: dict[tuple[str, str], int] = defaultdict(int)
    for email, msgs in by_recipient.items():
        assert len(msgs) == 3, f"{email} got {len(msgs)} messages, not exactly one per step"
        msgs.sort(key=lambda m: m["Date"].datetime)
        first, second, third = msgs
        assert first["Subject"] == f"Hello {people[email].first_name}"
        assert second["Subject"] == third["Subject"] == f"Re: Hello {people[email].first_name}"
        assert second["In-Reply-To"] == first["Message-ID"]
        assert third["In-Reply-To"] == second["Message-ID"]
        assert third["References"].split() == [first["Message-ID"], second["Message-ID"]]
        assert len({m["From"].addresses[0].addr_spec for m in msgs}) == 1, "a thread keeps its mailbox"
        assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert not [k for k in first if k.lower().startswith("x-")]
        zone = ZoneInfo(people[email].timezone or "America/Chicago")
        previous = None
        for m in msgs:
            sent = m["Date"].datetime
            local = sent.astimezone(zone)
            assert local.weekday() < 5 and 9 <= local.hour < 17, f"{email} mailed at {local} local time"
            if previous is not None:
                assert sent - previous >= timedelta(days=2)
            previous = sent
            per_mailbox_day[(m["From"].addresses[0].addr_spec, sent.astimezone(UTC).date().isoformat())] += 1
    days_by_mailbox: dict[str, list[str]] = defaultdict(list)
    for (mailbox, day) in sorted(per_mailbox_day):
        days_by_mailbox[mailbox].append(day)
    for mailbox, days in days_by_mailbox.items():
        for n, day in enumerate(days):
            cap = min(20, 5 + 5 * n)
            assert per_mailbox_day[(mailbox, day)] <= cap, f"{mailbox} sent {per_mailbox_day[(mailbox, day)]} on {day} (cap {cap})"
    assert max(per_mailbox_day.values()) == 20, "the ramp reached the cap"
    with session_scope(tw.engine) as s:
        states = {e.state for e in s.exec(select(Enrollment))}
        assert states == {EnrollmentState.completed}
        assert len(s.exec(select(Send).where(Send.state == SendState.sent)).all()) == 600


async def test_follow_ups_go_before_first_touches_when_caps_bind(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    seq = three_step_sequence(window={"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                                      "end": "23:59", "timezone": "UTC"})
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
               [domain("d0.test", smtp_sink.port, 1, daily_cap=4, gap={"min": 0, "max": 0})])
    add_prospects(tw, 4, "seq", seed=1, source="early")
    await simulate(tw, START, 0.5, timedelta(hours=1))
    assert len(smtp_sink.messages) == 4  # day 1: four first touches use the cap
    add_prospects(tw, 4, "seq", seed=2, source="late", at=START + timedelta(days=1))
    await simulate(tw, START + timedelta(days=2), 0.9, timedelta(hours=1))
    day3 = smtp_sink.messages[4:]
    assert len(day3) == 4
    assert all(m.message["Subject"].startswith("Re:") for m in day3), "the cap went to follow-ups first"


async def test_451_then_success_is_one_delivery(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    seq = three_step_sequence(window={"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                                      "end": "23:59", "timezone": "UTC"})
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq], [domain("d0.test", smtp_sink.port, 1)])
    add_prospects(tw, 1, "seq")
    smtp_sink.script.append("451 4.3.0 <{a}>: Temporary local problem")
    await simulate(tw, START, 0.2, timedelta(minutes=5))
    assert len(smtp_sink.messages) == 1
    with session_scope(tw.engine) as s:
        send = s.exec(select(Send)).one()
        assert (send.state, send.attempts) == (SendState.sent, 2)


async def test_550_user_unknown_bounces_stops_and_suppresses(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    seq = three_step_sequence(window={"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                                      "end": "23:59", "timezone": "UTC"})
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq], [domain("d0.test", smtp_sink.port, 1)])
    add_prospects(tw, 1, "seq")
    smtp_sink.script.append("550 5.1.1 <{a}>: Recipient address rejected: User unknown")
    await simulate(tw, START, 3, timedelta(minutes=30))
    assert smtp_sink.messages == []
    with session_scope(tw.engine) as s:
        enr = s.exec(select(Enrollment)).one()
        assert enr.state == EnrollmentState.stopped and "5.1.1" in (enr.reason or "")
        event = s.exec(select(Event).where(Event.type == "bounced")).one()
        assert event.data["hard"] is True and event.data["status"] == "5.1.1"
        assert len(s.exec(select(Suppression)).all()) == 1


async def test_missing_variable_blocks_with_reason_and_sends_nothing(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    seq = three_step_sequence(window={"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                                      "end": "23:59", "timezone": "UTC"}, required_fields=["first_name", "company"])
    seq["steps"][0]["body"] = "Hi {{ first_name }} at {{ company }}"
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq], [domain("d0.test", smtp_sink.port, 1)])
    add_prospects(tw, 2, "seq")  # no company
    await simulate(tw, START, 0.2, timedelta(minutes=5))
    assert smtp_sink.messages == []
    with session_scope(tw.engine) as s:
        reasons = {e.reason for e in s.exec(select(Enrollment))}
        assert reasons == {"missing required field(s): company"}


@pytest.mark.parametrize("kind", ["postgresql"])
async def test_engine_on_postgresql(smtp_sink: SmtpSink, tmp_path: Path, postgres_url: str, kind: str) -> None:
    tw = build(tmp_path / "ws", postgres_url, [three_step_sequence(domains=["d0.test", "d1.test"])],
               [domain("d0.test", smtp_sink.port, 2), domain("d1.test", smtp_sink.port, 2)])
    add_prospects(tw, 30, "seq")
    await simulate(tw, START, 9)
    assert len(smtp_sink.messages) == 90
    assert len({(m.rcpt_tos[0], m.message["Subject"], m.message["In-Reply-To"]) for m in smtp_sink.messages}) == 90
