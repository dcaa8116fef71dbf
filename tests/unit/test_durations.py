from datetime import timedelta

import pytest

from outbound.core.durations import Wait, format_duration, parse_duration, parse_wait


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45 minutes", timedelta(minutes=45)),
        ("2 days", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        (90, timedelta(seconds=90)),
        ("0", timedelta(0)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["3x", "soon", "3d later", "d3", "-1", True])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


def test_business_days() -> None:
    assert parse_wait("2 business days") == Wait(business_days=2)
    assert parse_wait("1 working day") == Wait(business_days=1)
    assert str(parse_wait("3 business days")) == "3 business days"
    assert parse_wait("3d") == Wait(delta=timedelta(days=3))


def test_format_duration_round_trips() -> None:
    for text in ("3d", "4h", "1d2h3m4s"):
        assert format_duration(parse_duration(text)) == text
