"""Time zone names as the user files and config.toml give them (IANA names)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def check_timezone(name: str) -> str:
    """The name itself if ``zoneinfo`` knows it; ValueError with a hint otherwise (pydantic shows it)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'") from None
    return name
