"""Parse human wait and gap expressions: ``3d``, ``4h``, ``90m``, ``2 business days``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_BUSINESS = re.compile(r"^(\d+)\s*(?:business|working)\s+days?$")


DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[a-zA-Z]+\s*)+$|^0$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "a duration such as '90s', '30m', '4h', '3d' or a number of seconds",
    "examples": ["3d", "4h", "30m"],
}
WAIT_SCHEMA = {
    "anyOf": [*DURATION_SCHEMA["anyOf"], {"type": "string", "pattern": r"^\s*\d+\s*(business|working)\s+days?\s*$"}],
    "description": "how long after the previous send: '3d', '4h', '30m' or '2 business days'",
    "examples": ["3d", "2 business days"],
}


@dataclass(frozen=True)
class Wait:
    """A wait before a step: a fixed duration, or a number of business days (Mon-Fri)."""

    delta: timedelta = timedelta(0)
    business_days: int = 0

    def __str__(self) -> str:
        if self.business_days:
            return f"{self.business_days} business day{'s' if self.business_days != 1 else ''}"
        return format_duration(self.delta)


def parse_duration(text: str | int | float) -> timedelta:
    """``"1h30m"``, ``"3d"``, ``"45 minutes"`` or a bare number of seconds."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as '3d', '4h' or '30m'")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=text)
    s = text.strip().lower()
    if s in ("0", ""):
        return timedelta(0)
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if s[pos:m.start()].strip(" ,") or m.group(2) not in _UNITS:
            raise ValueError(f"cannot read {text!r} as a duration; write e.g. '3d', '4h', '30m' or '2 business days'")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0 or s[pos:].strip():
        raise ValueError(f"cannot read {text!r} as a duration; write e.g. '3d', '4h', '30m' or '2 business days'")
    return timedelta(seconds=total)


def parse_wait(text: str | int | float) -> Wait:
    if isinstance(text, str):
        m = _BUSINESS.match(text.strip().lower())
        if m:
            return Wait(business_days=int(m.group(1)))
    return Wait(delta=parse_duration(text))


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
