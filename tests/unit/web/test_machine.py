"""Telling machine opens and clicks from people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outbound.web.machine import classify_fetch

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
APPLE_MAIL = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
HOUR_AGO = NOW - timedelta(hours=1)


@pytest.mark.parametrize(("agent", "ip"), [(CHROME, "203.0.113.9"), (APPLE_MAIL, "198.51.100.4"),
                                           (GMAIL_PROXY, "66.249.84.1"), (CHROME, None), (CHROME, "2001:db8::1")])
def test_people(agent: str, ip: str | None) -> None:
    verdict = classify_fetch(user_agent=agent, ip=ip, sent_at=HOUR_AGO, now=NOW)
    assert not verdict.machine, verdict.reason


@pytest.mark.parametrize(("agent", "ip", "method", "why"), [
    ("Mozilla/5.0", "198.51.100.4", "GET", "Apple Mail Privacy Protection"),
    (APPLE_MAIL, "17.58.101.3", "GET", "17.0.0.0/8"),
    ("", "198.51.100.4", "GET", "no user agent"),
    (None, "198.51.100.4", "GET", "no user agent"),
    ("python-requests/2.32", "198.51.100.4", "GET", "python-"),
    ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "198.51.100.4", "GET", "barracuda"),
    ("Mozilla/5.0 (compatible; bingbot/2.0)", "198.51.100.4", "GET", "bot"),
    (CHROME, "198.51.100.4", "HEAD", "HEAD"),
])
def test_machines(agent: str | None, ip: str, method: str, why: str) -> None:
    verdict = classify_fetch(user_agent=agent, ip=ip, method=method, sent_at=HOUR_AGO, now=NOW)
    assert verdict.machine and why in verdict.reason


def test_a_fetch_seconds_after_delivery_is_a_scanner_and_later_is_a_person() -> None:
    fast = classify_fetch(user_agent=CHROME, ip="198.51.100.4", sent_at=NOW - timedelta(seconds=3), now=NOW)
    slow = classify_fetch(user_agent=CHROME, ip="198.51.100.4", sent_at=NOW - timedelta(minutes=5), now=NOW)
    unknown = classify_fetch(user_agent=CHROME, ip="198.51.100.4", sent_at=None, now=NOW)
    assert fast.machine and "3s after delivery" in fast.reason
    assert not slow.machine and not unknown.machine
