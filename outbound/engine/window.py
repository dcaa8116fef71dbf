"""Sending windows read on a zone's wall clock: open or not, next opening, closing, business days.

Every instant in and out is a tz-aware datetime (results are in UTC). A window is open at an
instant when, on the local wall clock of the zone, the day is one of ``window.days``, the date is
not a holiday and ``start <= time < end``. DST is handled by working from that definition: the
instants where the window can open or close are the UTC images of ``start``/``end`` on each local
date (both folds, for the repeated hour) plus the zone's offset transitions (a start inside the
spring-forward gap opens at the transition). The earliest such candidate that really is
open/closed is the answer, so a nonexistent or doubled local hour never yields a send at night.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outbound.spec.sequence import SendingWindow


class Draw(Protocol):
    """What placing a send needs of a random number generator (``random.Random`` is one)."""

    def random(self) -> float: ...

# Upper bound of the random offset added when a send moves to the next opening; it is further
# bounded by the open span, so a moved send always lands inside the window.
DEFAULT_MAX_OFFSET = timedelta(minutes=90)
_SCAN_CHUNK = timedelta(days=8)
_PROBE = timedelta(hours=6)  # no real zone changes its offset twice within six hours


@dataclass(frozen=True)
class Zone:
    """The zone a window is read in, and why this one (shown by the CLI)."""

    tz: ZoneInfo
    reason: str

    @property
    def name(self) -> str:
        return self.tz.key


def load_zone(name: str | None) -> ZoneInfo | None:
    """A ZoneInfo for an IANA name, or None when the name is empty or unknown."""
    if not name or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def resolve_zone(window: SendingWindow, prospect_timezone: str | None, default_timezone: str) -> Zone:
    """The window's fixed zone, else the prospect's, else ``fallback_timezone``, else the config default."""
    if window.timezone != "prospect":
        tz = load_zone(window.timezone)
        if tz is not None:
            return Zone(tz, f"the window's zone {tz.key}")
    note = ""
    tz = load_zone(prospect_timezone)
    if tz is not None:
        return Zone(tz, f"the prospect's zone {tz.key}")
    if prospect_timezone and prospect_timezone.strip():
        note = f"unknown prospect zone {prospect_timezone.strip()!r}; "
    tz = load_zone(window.fallback_timezone)
    if tz is not None:
        return Zone(tz, f"{note}the sequence's fallback zone {tz.key}")
    tz = load_zone(default_timezone)
    if tz is not None:
        return Zone(tz, f"{note}the default zone {tz.key}")
    return Zone(ZoneInfo("UTC"), f"{note}UTC (the default zone {default_timezone!r} is unknown)")


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("scheduling needs tz-aware datetimes")
    return at


def is_sending_day(window: SendingWindow, day: date) -> bool:
    return day.weekday() in window.weekday_numbers and day not in window.holidays


def is_open(window: SendingWindow, tz: ZoneInfo, at: datetime) -> bool:
    """Whether the window is open at ``at`` on the zone's wall clock (``end`` is exclusive)."""
    local = _aware(at).astimezone(tz)
    return is_sending_day(window, local.date()) and _wall(window.start) <= local.time() < _wall(window.end)


def _wall(t: time) -> time:
    # a window time written with an offset ('09:00+02:00') is still read as wall time
    return t.replace(tzinfo=None)


def local_instants(day: date, t: time, tz: ZoneInfo) -> list[datetime]:
    """UTC images of a local wall time, both folds (one or two in practice; gaps give shifted ones)."""
    out: list[datetime] = []
    for fold in (0, 1):
        u = datetime.combine(day, t, tzinfo=tz).replace(fold=fold).astimezone(UTC)
        if u not in out:
            out.append(u)
    return out


def transitions(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """The instants in [lo, hi] where the zone's UTC offset changes (first instant of the new offset)."""
    out: list[datetime] = []
    t = _aware(lo).astimezone(UTC)
    hi = _aware(hi).astimezone(UTC)
    if hi - t <= _SCAN_CHUNK + timedelta(days=2) and t.astimezone(tz).utcoffset() == hi.astimezone(tz).utcoffset():
        return out  # fast path: no zone changes its offset and back within ten days
    while t < hi:
        nxt = min(t + _PROBE, hi)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            a, b = 0, int((nxt - t).total_seconds())
            before = t.astimezone(tz).utcoffset()
            while b - a > 1:  # bisect to the second; offsets change on whole seconds
                mid = (a + b) // 2
                if (t + timedelta(seconds=mid)).astimezone(tz).utcoffset() == before:
                    a = mid
                else:
                    b = mid
            out.append(t + timedelta(seconds=b))
        t = nxt
    return out


def _dates(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[date]:
    first = lo.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date() + timedelta(days=1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def next_opening(window: SendingWindow, tz: ZoneInfo, at: datetime) -> datetime:
    """The earliest instant >= ``at`` at which the window is open (``at`` itself when open)."""
    at = _aware(at).astimezone(UTC)
    if is_open(window, tz, at):
        return at
    # Each run of 7 days holds every weekday once, so holidays can only hide so many openings.
    horizon = at + timedelta(days=7 * (len(window.holidays) + 2) + 2)
    lo = at
    while lo < horizon:
        hi = lo + _SCAN_CHUNK
        cands = transitions(tz, lo, hi)
        for d in _dates(tz, lo, hi):
            if is_sending_day(window, d):
                cands.extend(local_instants(d, _wall(window.start), tz))
        found = [c for c in cands if at <= c <= hi and is_open(window, tz, c)]
        if found:
            return min(found)
        lo = hi
    raise ValueError("the sending window never opens (every sending day is a holiday?)")


def window_close(window: SendingWindow, tz: ZoneInfo, at: datetime) -> datetime:
    """The first instant after ``at`` (an open instant) at which the window is closed."""
    at = _aware(at).astimezone(UTC)
    if not is_open(window, tz, at):
        raise ValueError("window_close needs an instant inside the window")
    hi = at + timedelta(days=2)
    cands = transitions(tz, at, hi)
    for d in _dates(tz, at, hi):
        cands.extend(local_instants(d, _wall(window.end), tz))
        cands.append(datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC))
    closed = [c for c in cands if c > at and not is_open(window, tz, c)]
    return min(closed)


def place_in_window(window: SendingWindow, tz: ZoneInfo, due: datetime, rng: Draw,
                    max_offset: timedelta = DEFAULT_MAX_OFFSET) -> datetime:
    """``due`` when the window is open then, else the next opening plus a random offset.

    The offset is drawn from [0, min(max_offset, open span)) in whole seconds, so the result is
    always inside the window; the rng is only consumed when the send moves.
    """
    due = _aware(due).astimezone(UTC)
    if is_open(window, tz, due):
        return due
    opening = next_opening(window, tz, due)
    span = min(max_offset, window_close(window, tz, opening) - opening)
    return opening + timedelta(seconds=int(rng.random() * span.total_seconds()))


def add_calendar_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Same local wall time ``days`` dates later (a time in the spring-forward gap moves past it)."""
    local = _aware(start).astimezone(tz)
    if days == 0:
        return start.astimezone(UTC)
    return datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=tz).astimezone(UTC)


def add_business_days(start: datetime, days: int, tz: ZoneInfo, holidays: Collection[date] = ()) -> datetime:
    """Same local wall time on the ``days``-th following Mon-Fri date that is not a holiday."""
    local = _aware(start).astimezone(tz)
    if days <= 0:
        return start.astimezone(UTC)
    d, left = local.date(), days
    while left:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in holidays:
            left -= 1
    return datetime.combine(d, local.time(), tzinfo=tz).astimezone(UTC)
