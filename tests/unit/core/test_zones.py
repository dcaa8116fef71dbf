"""Time zone suggestions: a misspelt or partial name gets the zone it most likely means."""

from __future__ import annotations

import pytest

from outbound.core.zones import check_timezone, suggest_timezone, zone_hint
from outbound.prospects.normalise import normalise_timezone


@pytest.mark.parametrize(("text", "expected"), [
    ("Europe/Berln", "Europe/Berlin"),
    ("America/Los_Angles", "America/Los_Angeles"),
    ("america/new york", "America/New_York"),
    ("Paris", "Europe/Paris"),
    ("kolkata", "Asia/Kolkata"),
    ("Mars/Olympus", None),
    ("", None),
])
def test_suggest_timezone(text: str, expected: str | None) -> None:
    assert suggest_timezone(text) == expected


def test_an_offset_is_not_a_zone_and_the_hint_names_zones_at_it() -> None:
    hint = zone_hint("+05:30")
    assert hint.startswith("a UTC offset, not a zone; zones at +05:30 now: ") and "Asia/Kolkata" in hint
    assert "Asia/Calcutta" not in hint  # the old alias is left to zone.tab's canonical names
    assert zone_hint("UTC+25").startswith("a UTC offset, not a zone") and "now" not in zone_hint("UTC+25")


def test_refusals_carry_the_hint() -> None:
    assert normalise_timezone("Europe/Berln").reason == \
        "'Europe/Berln' is not an IANA time zone name (did you mean Europe/Berlin?)"
    assert normalise_timezone("Mars/Olympus").reason == "'Mars/Olympus' is not an IANA time zone name like Europe/Paris"
    with pytest.raises(ValueError, match=r"unknown time zone 'America/Los_Angles'; did you mean America/Los_Angeles\?"):
        check_timezone("America/Los_Angles")
