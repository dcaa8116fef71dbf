"""Sending windows on the local wall clock, across DST changes in New York and Berlin."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from outbound.engine.window import (
    add_business_days,
    add_calendar_days,
    is_open,
    next_opening,
    place_in_window,
    resolve_zone,
    transitions,
    window_close,
)
from tests.unit.engine.sched_support import ALL_DAYS, BERLIN, NY, local, utc, window

APIA = ZoneInfo("Pacific/Apia")


@pytest.mark.parametrize(
    ("win", "prospect", "default", "zone", "says"),
    [
        ({"timezone": "Asia/Tokyo"}, "Europe/Berlin", "UTC", "Asia/Tokyo", "window's zone"),
        ({}, "Europe/Berlin", "UTC", "Europe/Berlin", "prospect's zone"),
        ({"fallback_timezone": "America/Chicago"}, None, "UTC", "America/Chicago", "fallback zone"),
        ({"fallback_timezone": "America/Chicago"}, "Mars/Olympus", "UTC", "America/Chicago", "unknown prospect zone"),
        ({}, "", "Europe/Paris", "Europe/Paris", "default zone"),
        ({}, None, "Nowhere/Town", "UTC", "is unknown"),
    ],
)
def test_resolve_zone(win: dict[str, Any], prospect: str | None, default: str, zone: str, says: str) -> None:
    z = resolve_zone(window(**win), prospect, default)
    assert z.name == zone
    assert says in z.reason


@pytest.mark.parametrize(
    ("tz", "at", "expected"),
    [
        (NY, local(NY, 2026, 3, 9, 9, 0), True),  # Monday, first EDT weekday, 13:00 UTC
        (NY, utc(2026, 3, 9, 13, 59), True),
        (NY, utc(2026, 3, 9, 12, 59), False),  # 08:59 EDT (would be 07:59 EST)
        (NY, local(NY, 2026, 3, 9, 17, 0), False),  # end is exclusive
        (NY, local(NY, 2026, 3, 7, 12, 0), False),  # Saturday
        (BERLIN, utc(2026, 10, 26, 8, 0), True),  # 09:00 CET, first weekday after fall-back
        (BERLIN, utc(2026, 10, 23, 7, 0), True),  # 09:00 CEST, Friday before it
        (BERLIN, utc(2026, 10, 26, 7, 30), False),  # 08:30 CET
        (BERLIN, utc(2026, 12, 25, 10, 0), False),  # holiday
    ],
)
def test_is_open(tz: ZoneInfo, at: datetime, expected: bool) -> None:
    assert is_open(window(holidays=["2026-12-25"]), tz, at) is expected


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        is_open(window(), NY, datetime(2026, 3, 9, 12, 0))


def test_transitions_found_to_the_second() -> None:
    span = (utc(2026, 1, 1), utc(2027, 1, 1))
    assert transitions(NY, *span) == [utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)]
    assert transitions(BERLIN, *span) == [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)]


@pytest.mark.parametrize(
    ("tz", "win", "at", "expected"),
    [
        # New York spring-forward Sunday 2026-03-08, all days open 09-17: 09:00 EDT = 13:00 UTC
        (NY, {"days": ALL_DAYS}, local(NY, 2026, 3, 7, 18, 0), utc(2026, 3, 8, 13, 0)),
        # weekday window: Friday evening EST -> Monday 09:00 EDT
        (NY, {}, local(NY, 2026, 3, 6, 17, 30), utc(2026, 3, 9, 13, 0)),
        # fall-back Sunday 2026-11-01: 09:00 EST = 14:00 UTC
        (NY, {"days": ALL_DAYS}, local(NY, 2026, 10, 31, 18, 0), utc(2026, 11, 1, 14, 0)),
        (NY, {}, local(NY, 2026, 10, 30, 18, 0), utc(2026, 11, 2, 14, 0)),
        # Berlin spring-forward Sunday 2026-03-29: 09:00 CEST = 07:00 UTC
        (BERLIN, {"days": ["sun"]}, local(BERLIN, 2026, 3, 28, 20, 0), utc(2026, 3, 29, 7, 0)),
        (BERLIN, {}, local(BERLIN, 2026, 3, 27, 18, 0), utc(2026, 3, 30, 7, 0)),
        # Berlin fall-back Sunday 2026-10-25: 09:00 CET = 08:00 UTC
        (BERLIN, {"days": ["sun"]}, local(BERLIN, 2026, 10, 24, 20, 0), utc(2026, 10, 25, 8, 0)),
        # a start inside the spring-forward gap opens when the clock jumps (03:00 EDT / 03:00 CEST)
        (NY, {"days": ALL_DAYS, "start": "02:30", "end": "05:00"}, utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 7, 0)),
        (BERLIN, {"days": ALL_DAYS, "start": "02:15", "end": "06:00"}, utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 0)),
        # a start inside the repeated hour opens again at its second occurrence (01:30 EST)
        (NY, {"days": ALL_DAYS, "start": "01:30", "end": "01:45"}, utc(2026, 11, 1, 5, 50), utc(2026, 11, 1, 6, 30)),
        # the repeated hour re-enters a window that ended inside it (01:00 EST after 01:30 EDT)
        (NY, {"days": ALL_DAYS, "start": "00:00", "end": "01:30"}, utc(2026, 11, 1, 5, 40), utc(2026, 11, 1, 6, 0)),
        # holidays and weekends skipped: Thu 17:00 -> (Fri holiday, weekend) -> Mon 09:00
        (BERLIN, {"holidays": ["2026-12-25"]}, local(BERLIN, 2026, 12, 24, 17, 0), utc(2026, 12, 28, 8, 0)),
        # already open: unchanged
        (NY, {}, utc(2026, 3, 9, 15, 17, 23), utc(2026, 3, 9, 15, 17, 23)),
        # Samoa skipped 2011-12-30 entirely: Thursday evening -> Saturday 09:00 (+14)
        (APIA, {"days": ALL_DAYS}, local(APIA, 2011, 12, 29, 18, 0), utc(2011, 12, 30, 19, 0)),
    ],
)
def test_next_opening(tz: ZoneInfo, win: dict[str, Any], at: datetime, expected: datetime) -> None:
    w = window(**win)
    got = next_opening(w, tz, at)
    assert got == expected
    assert is_open(w, tz, got)
    assert not is_open(w, tz, got - timedelta(seconds=1)) or got == at


@pytest.mark.parametrize(
    ("tz", "win", "at", "expected"),
    [
        (NY, {}, utc(2026, 3, 9, 13, 0), local(NY, 2026, 3, 9, 17, 0)),
        # window over the gap: 01:30 EST -> closes 05:00 EDT, 2.5 real hours later
        (NY, {"days": ALL_DAYS, "start": "01:00", "end": "05:00"}, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 9, 0)),
        # end inside the repeated hour closes at its first occurrence
        (NY, {"days": ALL_DAYS, "start": "00:00", "end": "01:30"}, utc(2026, 11, 1, 5, 10), utc(2026, 11, 1, 5, 30)),
        (BERLIN, {"days": ALL_DAYS, "start": "01:00", "end": "04:00"}, utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 3, 0)),
    ],
)
def test_window_close(tz: ZoneInfo, win: dict[str, Any], at: datetime, expected: datetime) -> None:
    assert window_close(window(**win), tz, at) == expected


def test_window_close_needs_an_open_instant() -> None:
    with pytest.raises(ValueError, match="inside the window"):
        window_close(window(), NY, local(NY, 2026, 3, 9, 20, 0))


def test_place_inside_window_keeps_due_and_leaves_rng_alone() -> None:
    rng = random.Random(1)
    due = local(NY, 2026, 3, 9, 11, 0)
    assert place_in_window(window(), NY, due, rng) == due
    assert rng.random() == random.Random(1).random()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_place_outside_window_moves_to_opening_plus_bounded_offset(seed: int) -> None:
    due = local(NY, 2026, 3, 7, 3, 0)  # Saturday night
    got = place_in_window(window(), NY, due, random.Random(seed), timedelta(minutes=90))
    opening = utc(2026, 3, 9, 13, 0)  # Monday 09:00 EDT
    assert opening <= got < opening + timedelta(minutes=90)
    assert got == place_in_window(window(), NY, due, random.Random(seed), timedelta(minutes=90))


def test_place_offset_spread_and_bounded_by_short_window() -> None:
    w = window(start="09:00", end="09:10")
    due = local(BERLIN, 2026, 3, 27, 20, 0)
    got = {place_in_window(w, BERLIN, due, random.Random(s), timedelta(hours=2)) for s in range(40)}
    opening = local(BERLIN, 2026, 3, 30, 9, 0)
    assert all(opening <= g < opening + timedelta(minutes=10) for g in got)
    assert len(got) > 20  # really random, not a constant offset


@pytest.mark.parametrize(
    ("tz", "start", "days", "holidays", "expected"),
    [
        (NY, local(NY, 2026, 3, 6, 10, 0), 1, [], local(NY, 2026, 3, 9, 10, 0)),  # Fri EST -> Mon EDT
        (NY, local(NY, 2026, 3, 6, 10, 0), 2, [], local(NY, 2026, 3, 10, 10, 0)),
        (NY, local(NY, 2026, 3, 7, 10, 0), 1, [], local(NY, 2026, 3, 9, 10, 0)),  # Saturday counts from Monday
        (NY, local(NY, 2026, 3, 5, 10, 0), 1, [date(2026, 3, 6)], local(NY, 2026, 3, 9, 10, 0)),
        (BERLIN, local(BERLIN, 2026, 10, 23, 10, 0), 1, [], utc(2026, 10, 26, 9, 0)),  # CEST Fri -> CET Mon
        (BERLIN, local(BERLIN, 2026, 12, 23, 10, 0), 3, [date(2026, 12, 24), date(2026, 12, 25)],
         local(BERLIN, 2026, 12, 30, 10, 0)),
        (NY, local(NY, 2026, 3, 6, 10, 0), 0, [], local(NY, 2026, 3, 6, 10, 0)),
    ],
)
def test_add_business_days(tz: ZoneInfo, start: datetime, days: int, holidays: list[date], expected: datetime) -> None:
    assert add_business_days(start, days, tz, holidays) == expected


@pytest.mark.parametrize(
    ("tz", "start", "days", "expected"),
    [
        (NY, utc(2026, 3, 7, 15, 0), 1, utc(2026, 3, 8, 14, 0)),  # 10:00 EST -> 10:00 EDT: 23 h
        (NY, utc(2026, 10, 31, 14, 0), 1, utc(2026, 11, 1, 15, 0)),  # 10:00 EDT -> 10:00 EST: 25 h
        (NY, local(NY, 2026, 3, 7, 2, 30), 1, utc(2026, 3, 8, 7, 30)),  # 02:30 does not exist: 03:30 EDT
        (NY, local(NY, 2026, 10, 31, 1, 30), 1, utc(2026, 11, 1, 5, 30)),  # doubled 01:30: the first one
        (BERLIN, utc(2026, 3, 28, 9, 0), 1, utc(2026, 3, 29, 8, 0)),
        (BERLIN, utc(2026, 10, 24, 8, 0), 1, utc(2026, 10, 25, 9, 0)),
    ],
)
def test_add_calendar_days_keeps_wall_time(tz: ZoneInfo, start: datetime, days: int, expected: datetime) -> None:
    assert add_calendar_days(start, days, tz) == expected
