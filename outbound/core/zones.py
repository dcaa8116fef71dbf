"""Time zone names as the user files and config.toml give them (IANA names), and what to suggest instead."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def check_timezone(name: str) -> str:
    """The name itself if ``zoneinfo`` knows it; ValueError with a hint otherwise (pydantic shows it)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = zone_hint(name) or "use an IANA name such as 'Europe/Berlin'"
        raise ValueError(f"unknown time zone {name!r}; {hint}") from None
    return name


@cache
def zone_names() -> dict[str, str]:
    """Lower-cased IANA name -> its canonical spelling."""
    # zoneinfo lists a few files of the tz folder that are not zones people live in.
    names = zoneinfo.available_timezones() - {"localtime", "Factory", "posixrules", "posix", "right"}
    return {n.lower(): n for n in names}


@cache
def _canonical() -> frozenset[str]:
    """The zones tzdata's zone.tab lists (Asia/Kolkata, not its old alias Asia/Calcutta); empty if absent."""
    for folder in zoneinfo.TZPATH:
        try:
            text = Path(folder, "zone.tab").read_text(encoding="utf-8")
        except OSError:
            continue
        return frozenset(cols[2] for line in text.splitlines()
                         if not line.startswith("#") and len(cols := line.split("\t")) >= 3)
    return frozenset()


@cache
def _cities() -> dict[str, str]:
    """'paris' -> 'Europe/Paris' for the city part of every Area/City zone that no other zone shares."""
    seen: dict[str, list[str]] = {}
    for name in zone_names().values():
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/")):
            seen.setdefault(name.rpartition("/")[2].lower(), []).append(name)
    return {city: names[0] for city, names in seen.items() if len(names) == 1}


def suggest_timezone(text: str) -> str | None:
    """The zone a misspelt or partial name most likely means (``Europe/Berln`` -> ``Europe/Berlin``,
    ``Paris`` -> ``Europe/Paris``), or None."""
    key = text.strip().replace(" ", "_").lower()
    if not key or len(key) > 60:
        return None
    if key in _cities():
        return _cities()[key]
    guess = difflib.get_close_matches(key, list(zone_names()), n=1, cutoff=0.8)
    return zone_names()[guess[0]] if guess else None


def zone_hint(text: str) -> str:
    """'did you mean Europe/Berlin?', or for a UTC offset the zones at that offset now; '' without a guess."""
    offset = _OFFSET.match(text.strip())
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0)) * (-1 if sign == "-" else 1)
        now = datetime.now(UTC)
        names = _canonical() or {n for n in zone_names().values() if "/" in n and not n.startswith("Etc/")}
        at = sorted(n for n in names if ZoneInfo(n).utcoffset(now) == delta)
        # an offset changes with daylight saving where people live: the zone's name does not
        return "a UTC offset, not a zone" + (f"; zones at {text.strip()} now: {', '.join(at[:3])}" if at else "")
    guess = suggest_timezone(text)
    return f"did you mean {guess}?" if guess else ""
