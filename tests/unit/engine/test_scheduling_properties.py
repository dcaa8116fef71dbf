"""Property tests: planned sends stay inside the window and after the wait; picks respect every limit."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outbound.core.durations import parse_wait
from outbound.core.mailbox import MailboxUsage
from outbound.engine.planner import ActionKind, Facts, due_at, next_action
from outbound.engine.rotation import check_mailbox, pick_mailbox, remaining_capacity
from outbound.engine.window import is_open, next_opening, place_in_window, window_close
from outbound.spec.sequence import DAY_NAMES, SendingWindow
from tests.unit.engine.sched_support import domain, sequence, step

ZONES = ["America/New_York", "Europe/Berlin", "UTC", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo"]
QUARTER = timedelta(minutes=15)
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# instants clustered around the 2026 DST changes of New York and Berlin, plus anywhere in 2024-2027
_DST_DAYS = [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 29, tzinfo=UTC),
             datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]
instants = st.one_of(
    st.tuples(st.sampled_from(_DST_DAYS), st.integers(-3 * 86400, 3 * 86400)).map(lambda p: p[0] + timedelta(seconds=p[1])),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
)


def as_time(quarter: int) -> time:
    return time(quarter // 4, quarter % 4 * 15) if quarter < 96 else time(23, 59, 59)


@st.composite
def windows(draw: st.DrawFn) -> SendingWindow:
    start = draw(st.integers(0, 95))
    end = draw(st.integers(start + 1, 96))
    days = draw(st.lists(st.sampled_from(DAY_NAMES), min_size=1, max_size=7, unique=True))
    holidays = draw(st.lists(st.dates(date(2024, 1, 1), date(2027, 12, 31)), max_size=4))
    if draw(st.booleans()):  # holidays next to the DST changes, where the examples cluster
        holidays += draw(st.lists(st.sampled_from([d.date() + timedelta(days=k) for d in _DST_DAYS for k in (-1, 0, 1)]),
                                  max_size=3))
    return SendingWindow(days=days, start=as_time(start), end=as_time(end), holidays=holidays)


def brute_opening(w: SendingWindow, tz: ZoneInfo, at: datetime) -> datetime:
    """Reference by stepping: ``at`` if open, else the first open quarter-hour after it (window
    times and these zones' DST changes all fall on quarter hours in UTC)."""
    if is_open(w, tz, at):
        return at
    t = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    while not is_open(w, tz, t := t + QUARTER):
        pass
    return t


@PROPS
@given(windows(), st.sampled_from(ZONES), instants)
def test_next_opening_is_the_earliest_open_instant(w: SendingWindow, zone: str, at: datetime) -> None:
    tz = ZoneInfo(zone)
    got = next_opening(w, tz, at)
    assert got >= at and is_open(w, tz, got)
    assert got == brute_opening(w, tz, at)
    close = window_close(w, tz, got)
    assert close > got and not is_open(w, tz, close)
    assert is_open(w, tz, close - timedelta(seconds=1))


@PROPS
@given(windows(), st.sampled_from(ZONES), instants, st.integers(0, 2**32),
       st.timedeltas(timedelta(0), timedelta(hours=8)))
def test_placed_send_inside_window_and_not_early(w: SendingWindow, zone: str, due: datetime, seed: int,
                                                 max_offset: timedelta) -> None:
    tz = ZoneInfo(zone)
    got = place_in_window(w, tz, due, random.Random(seed), max_offset)
    assert got >= due
    assert is_open(w, tz, got)
    opening = next_opening(w, tz, due)
    assert opening <= got <= opening + max_offset


waits = st.sampled_from(["0", "30m", "4h", "1d", "3d", "2d6h", "1w", "1 business day", "3 business days"])


@PROPS
@given(windows(), st.sampled_from(ZONES), instants, waits, st.integers(0, 2**32),
       st.timedeltas(timedelta(0), timedelta(days=20)))
def test_next_action_never_outside_window_or_before_wait(w: SendingWindow, zone: str, prev: datetime, wait: str,
                                                         seed: int, later: timedelta) -> None:
    seq = sequence([step("a"), step("b", wait=wait)], window=w.model_dump())
    now = prev + later
    a = next_action(seq, 1, prev, Facts(), now, random.Random(seed), prospect_timezone=zone)
    assert a.kind is ActionKind.send and a.at is not None
    tz = ZoneInfo(zone)
    assert is_open(w, tz, a.at)  # inside the window on the prospect's wall clock: never at night
    due = due_at(parse_wait(wait), prev, tz, w.holidays)
    assert a.at >= due and a.at >= now
    # whole days keep the wall time, so a DST change can shorten a wait by at most its hour (Lord Howe: 30 min)
    assert a.at - prev >= parse_wait(wait).delta - timedelta(hours=1)
    assert a.due is (a.at == now)


@st.composite
def usages(draw: st.DrawFn, address: str) -> MailboxUsage:
    now = datetime(2026, 3, 9, 14, tzinfo=UTC)
    gap = draw(st.one_of(st.none(), st.integers(-600, 600)))
    return MailboxUsage(
        address, address.rsplit("@", 1)[1],
        sent_today=draw(st.integers(0, 45)), sending_day=draw(st.integers(0, 30)),
        next_allowed_at=None if gap is None else now + timedelta(seconds=gap),
        sent_last_hour_by_domain={"gmail.com": draw(st.integers(0, 6))},
        paused=draw(st.booleans()) and draw(st.booleans()),
    )


ADDRESSES = ["ann@a.example", "bob@a.example", "cat@b.example", "dan@b.example", "eve@c.example"]


@PROPS
@given(st.tuples(*(usages(a) for a in ADDRESSES)), st.sets(st.sampled_from(["a.example", "b.example", "c.example"]),
       max_size=2), st.one_of(st.none(), st.sampled_from([*ADDRESSES, "old@gone.example"])),
       st.sampled_from(["gmail.com", "yahoo.com"]), st.integers(0, 2))
def test_pick_never_returns_a_blocked_mailbox(usage: tuple[MailboxUsage, ...], paused: set[str], current: str | None,
                                              rcpt: str, warm_kind: int) -> None:
    now = datetime(2026, 3, 9, 14, tzinfo=UTC)
    kw: dict[str, Any] = {"daily_cap": 25, "recipient_domain_hourly_limit": 4}
    if warm_kind:
        kw["warmup"] = {"start": 3, "increase": warm_kind, "max": 40}
    doms = [domain("a.example", "ann", "bob", **kw), domain("b.example", "cat", "dan", **kw), domain("c.example", "eve", **kw)]
    pool = [(d, mb) for d in doms for mb in d.mailboxes]
    by_addr = {u.address: u for u in usage}
    paused_domains = {d: "test" for d in paused}
    p = pick_mailbox(pool, by_addr, current, rcpt, now, paused_domains=paused_domains)
    checks = {mb.address: check_mailbox(mb, by_addr[mb.address], rcpt, now, paused_domains) for _, mb in pool}
    assert p.reason
    if p.mailbox is not None:
        u = by_addr[p.mailbox.address]
        assert not u.paused and p.mailbox.address.rsplit("@", 1)[1] not in paused
        assert u.sent_today < p.mailbox.cap_on_day(u.sending_day)
        assert remaining_capacity(p.mailbox, u) > 0
        assert u.next_allowed_at is None or u.next_allowed_at <= now
        assert u.sent_last_hour_by_domain.get(rcpt, 0) < 4
        assert p.domain is not None and p.mailbox in p.domain.mailboxes
        if current is None:  # new enrollments get the most room among those that can send
            best = max(remaining_capacity(mb, by_addr[mb.address]) for _, mb in pool if checks[mb.address].ok)
            assert remaining_capacity(p.mailbox, u) == best
    elif current is None:
        assert not any(c.ok for c in checks.values())
    if current in checks and checks[current].ok:
        assert p.address == current  # a thread never leaves a mailbox that can send
