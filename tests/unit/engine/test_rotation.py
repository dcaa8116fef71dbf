"""Mailbox caps with warm-up, gaps, per-domain hourly limits, sticky picks and pool resolution."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from outbound.engine.rotation import (
    MailboxUsage,
    PoolError,
    PoolMember,
    check_mailbox,
    day_span,
    draw_next_allowed,
    mailbox_day,
    pick_mailbox,
    pool_mailboxes,
    remaining_capacity,
    sending_day_number,
)
from outbound.spec.sequence import Senders
from tests.unit.engine.sched_support import domain, mailbox, utc

NOW = utc(2026, 3, 9, 14, 0)
WARM = {"start": 5, "increase": 2, "max": 40}


@pytest.mark.parametrize(
    ("kw", "day", "sent", "left"),
    [
        ({"daily_cap": 30}, 0, 0, 30),  # already warm
        ({"daily_cap": 30}, 0, 31, 0),
        ({"daily_cap": 30, "warmup": WARM}, 0, 0, 5),  # day 0: start
        ({"daily_cap": 30, "warmup": WARM}, 3, 4, 7),  # 5 + 2*3 = 11
        ({"daily_cap": 30, "warmup": WARM}, 20, 10, 20),  # ramp past daily_cap: 30
        ({"daily_cap": 50, "warmup": WARM}, 100, 0, 40),  # warm-up max binds
    ],
)
def test_remaining_capacity_with_warmup(kw: dict[str, Any], day: int, sent: int, left: int) -> None:
    mb = mailbox("a@x.example", **kw)
    assert remaining_capacity(mb, MailboxUsage(mb.address, "x.example", sent_today=sent, sending_day=day)) == left


def test_sending_day_counts_distinct_earlier_days() -> None:
    days = [date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 9), date(2026, 3, 10)]
    assert sending_day_number(days, date(2026, 3, 9)) == 2
    assert sending_day_number([], date(2026, 3, 9)) == 0


@pytest.mark.parametrize(
    ("now", "tz", "day", "span"),
    [
        (utc(2026, 3, 9, 23, 30), None, date(2026, 3, 9), (utc(2026, 3, 9), utc(2026, 3, 10))),
        (utc(2026, 3, 9, 23, 30), "Europe/Berlin", date(2026, 3, 10), (utc(2026, 3, 9, 23), utc(2026, 3, 10, 23))),
        # the spring-forward day in New York is 23 hours long
        (utc(2026, 3, 8, 12), "America/New_York", date(2026, 3, 8), (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))),
    ],
)
def test_mailbox_day(now: Any, tz: str | None, day: date, span: tuple[Any, Any]) -> None:
    assert mailbox_day(now, tz) == day
    assert day_span(day, tz) == span


def test_draw_next_allowed_within_gap_and_seeded() -> None:
    mb = mailbox("a@x.example", gap={"min": "2m", "max": "5m"})
    draws = [draw_next_allowed(mb, NOW, random.Random(s)) for s in range(50)]
    assert all(NOW + timedelta(minutes=2) <= d <= NOW + timedelta(minutes=5) for d in draws)
    assert len(set(draws)) > 40
    assert draw_next_allowed(mb, NOW, random.Random(3)) == draws[3]


def _use(address: str, **kw: Any) -> MailboxUsage:
    return MailboxUsage(address, address.rsplit("@", 1)[1], **kw)


@pytest.mark.parametrize(
    ("usage", "paused_domains", "blocker", "says"),
    [
        ({}, {}, None, "can send"),
        ({"paused": True, "pause_reason": "bounce rate 6%"}, {}, "paused", "mailbox paused: bounce rate 6%"),
        ({}, {"x.example": "blocklisted"}, "domain_paused", "domain x.example paused: blocklisted"),
        ({"sent_today": 20}, {}, "cap", "at its daily cap (20 of 20)"),
        ({"next_allowed_at": NOW + timedelta(seconds=30)}, {}, "gap", "waits for its gap until 2026-03-09 14:00:30Z"),
        ({"last_send_at": NOW - timedelta(seconds=30)}, {}, "gap", "14:00:30Z"),  # no draw stored: gap.min
        ({"last_send_at": NOW - timedelta(minutes=9), "next_allowed_at": NOW}, {}, None, "can send"),
        ({"sent_last_hour_by_domain": {"gmail.com": 3}}, {}, "recipient_domain", "hourly limit for gmail.com (3)"),
        ({"sent_last_hour_by_domain": {"yahoo.com": 3}}, {}, None, "can send"),
    ],
)
def test_check_mailbox(usage: dict[str, Any], paused_domains: dict[str, str], blocker: str | None, says: str) -> None:
    mb = mailbox("a@x.example", daily_cap=20, gap={"min": "1m", "max": "4m"}, recipient_domain_hourly_limit=3)
    c = check_mailbox(mb, _use(mb.address, **usage), "Gmail.com", NOW, paused_domains)
    assert c.ok is (blocker is None)
    assert c.blocker == blocker
    assert says in c.reason


def test_cap_retry_is_next_mailbox_day() -> None:
    mb = mailbox("a@x.example", daily_cap=1)
    assert check_mailbox(mb, _use(mb.address, sent_today=1), "g.com", NOW).retry_at == utc(2026, 3, 10)
    berlin = check_mailbox(mb, _use(mb.address, sent_today=1), "g.com", NOW, day_timezone="Europe/Berlin")
    assert berlin.retry_at == utc(2026, 3, 9, 23)


def _pool(*domains: Any) -> list[PoolMember]:
    return [(d, mb) for d in domains for mb in d.mailboxes]


A = domain("a.example", "ann", "bob", daily_cap=20)
B = domain("b.example", "cat", "dan", daily_cap=20)
POOL = _pool(A, B)


def test_new_enrollment_goes_to_most_remaining_capacity_across_domains() -> None:
    usage = {"ann@a.example": _use("ann@a.example", sent_today=10), "bob@a.example": _use("bob@a.example", sent_today=8),
             "cat@b.example": _use("cat@b.example", sent_today=3), "dan@b.example": _use("dan@b.example", sent_today=5)}
    p = pick_mailbox(POOL, usage, None, "gmail.com", NOW)
    assert p.address == "cat@b.example" and p.domain is B
    assert "most remaining capacity" in p.reason and "17 of 20" in p.reason


def test_ties_broken_by_sent_today_then_address() -> None:
    warm = domain("w.example", "zed", "amy", "kim", daily_cap=20)
    fresh = domain("f.example", "new", daily_cap=30, warmup=WARM)  # day 0: cap 5
    usage = {"new@f.example": _use("new@f.example", sent_today=0),
             "zed@w.example": _use("zed@w.example", sent_today=15),
             "amy@w.example": _use("amy@w.example", sent_today=15),
             "kim@w.example": _use("kim@w.example", sent_today=15)}
    # all have 5 left: the fresh one has sent fewer; without it, address order
    assert pick_mailbox(_pool(warm, fresh), usage, None, "g.com", NOW).address == "new@f.example"
    assert pick_mailbox(_pool(warm), usage, None, "g.com", NOW).address == "amy@w.example"


def test_thread_keeps_its_mailbox_even_when_others_have_more_room() -> None:
    usage = {"ann@a.example": _use("ann@a.example", sent_today=19)}
    p = pick_mailbox(POOL, usage, "ANN@a.example", "g.com", NOW)
    assert p.address == "ann@a.example" and p.moved_from is None
    assert "keeps its mailbox" in p.reason


@pytest.mark.parametrize(
    ("usage", "says"),
    [
        ({"sent_today": 20}, "at its daily cap"),
        ({"next_allowed_at": NOW + timedelta(minutes=2)}, "waits for its gap"),
    ],
)
def test_thread_waits_for_its_own_mailbox_when_only_busy(usage: dict[str, Any], says: str) -> None:
    p = pick_mailbox(POOL, {"ann@a.example": _use("ann@a.example", **usage)}, "ann@a.example", "g.com", NOW)
    assert p.mailbox is None and says in p.reason
    assert p.retry_at is not None and p.retry_at > NOW


def test_paused_thread_mailbox_moves_within_its_domain() -> None:
    usage = {"ann@a.example": _use("ann@a.example", paused=True, pause_reason="spam complaints"),
             "bob@a.example": _use("bob@a.example", sent_today=15),
             "cat@b.example": _use("cat@b.example", sent_today=0)}
    p = pick_mailbox(POOL, usage, "ann@a.example", "g.com", NOW)
    assert p.address == "bob@a.example" and p.moved_from == "ann@a.example"
    assert p.reason.startswith("mailbox paused: spam complaints; moved to bob@a.example (same domain)")


def test_paused_thread_waits_for_same_domain_gap_rather_than_switch() -> None:
    usage = {"ann@a.example": _use("ann@a.example", paused=True),
             "bob@a.example": _use("bob@a.example", next_allowed_at=NOW + timedelta(seconds=90))}
    p = pick_mailbox(POOL, usage, "ann@a.example", "g.com", NOW)
    assert p.mailbox is None and p.retry_at == NOW + timedelta(seconds=90)
    assert "waiting for a mailbox of a.example" in p.reason


def test_paused_domain_moves_thread_to_another_domain() -> None:
    usage = {"cat@b.example": _use("cat@b.example", sent_today=12)}
    p = pick_mailbox(POOL, usage, "bob@a.example", "g.com", NOW, paused_domains={"a.example": "DMARC failing"})
    assert p.address == "dan@b.example" and p.moved_from == "bob@a.example"
    assert "domain a.example paused: DMARC failing" in p.reason


def test_mailbox_removed_from_pool_moves() -> None:
    p = pick_mailbox(_pool(B), {}, "ann@a.example", "g.com", NOW)
    assert p.address == "cat@b.example"
    assert "no longer in the pool" in p.reason


@pytest.mark.parametrize(
    ("usage", "paused_domains", "says"),
    [
        ({a: {"sent_today": 20} for a in ("ann@a.example", "bob@a.example", "cat@b.example", "dan@b.example")}, {},
         "all mailboxes of the pool at their daily cap"),
        ({a: {"paused": True} for a in ("ann@a.example", "bob@a.example")}, {"b.example": "x"},
         "all mailboxes of the pool are paused"),
        ({"ann@a.example": {"sent_today": 20}, "bob@a.example": {"paused": True},
          "cat@b.example": {"next_allowed_at": NOW + timedelta(minutes=1)},
          "dan@b.example": {"sent_last_hour_by_domain": {"g.com": 2}}}, {},
         "no mailbox of the pool can send now: 1 paused, 1 at their daily cap, 1 waiting for their gap, 1 at their hourly limit"),
    ],
)
def test_no_mailbox_reasons(usage: dict[str, dict[str, Any]], paused_domains: dict[str, str], says: str) -> None:
    a = domain("a.example", "ann", "bob", daily_cap=20, recipient_domain_hourly_limit=2)
    b = domain("b.example", "cat", "dan", daily_cap=20, recipient_domain_hourly_limit=2)
    p = pick_mailbox(_pool(a, b), {k: _use(k, **v) for k, v in usage.items()}, None, "g.com", NOW,
                     paused_domains=paused_domains)
    assert p.mailbox is None
    assert says in p.reason


def test_pool_mailboxes_resolves_domains_and_single_mailboxes() -> None:
    c = domain("c.example", "eve", "fay")
    got = pool_mailboxes(Senders(domains=["A.example"], mailboxes=["fay@c.example", "bob@a.example"]),
                         {"a": A, "b": B, "c": c})
    assert not isinstance(got, PoolError)
    assert [mb.address for _, mb in got] == ["ann@a.example", "bob@a.example", "fay@c.example"]
    assert got[2][0] is c


def test_pool_mailboxes_unknown_names() -> None:
    got = pool_mailboxes(Senders(domains=["nope.example"], mailboxes=["zed@a.example", "ann@a.example"]),
                         {"a": A, "b": B})
    assert isinstance(got, PoolError)
    assert got.unknown == ("nope.example", "zed@a.example")
    assert "unknown senders: nope.example, zed@a.example" in got.reason
    assert "a.example, b.example" in got.reason


def _pick_by_checking_all(pool: list[PoolMember], usage: dict[str, MailboxUsage], rdom: str,
                          paused: dict[str, str]) -> str | None:
    """The rule for a new enrollment, spelt out: of the mailboxes that can send, the one ranked
    first by remaining capacity, then fewest sent today, then address."""
    ready = [mb for _, mb in pool if check_mailbox(mb, usage[mb.address], rdom, NOW, paused).ok]
    ranked = sorted(ready, key=lambda mb: (-remaining_capacity(mb, usage[mb.address]), usage[mb.address].sent_today,
                                           mb.address))
    return ranked[0].address if ranked else None


def test_new_enrollment_shortcut_picks_what_checking_every_mailbox_picks() -> None:
    """pick_mailbox stops at the first ranked mailbox that can send (it no longer checks them all);
    over random pools and states its choice must be the same, and so must a refusal's reason."""
    rng = random.Random(7)
    limited = {"daily_cap": 20, "warmup": WARM, "gap": {"min": "1m", "max": "2m"}, "recipient_domain_hourly_limit": 2}
    doms = [domain("a.example", "ann", "bob", "cy", **limited), domain("b.example", "cat", "dan", **limited)]
    pool = _pool(*doms)
    for _ in range(2000):
        usage = {mb.address: _use(mb.address, sent_today=rng.choice([0, 3, 5, 9, 20, 25]),
                                  sending_day=rng.choice([0, 2, 30]), paused=rng.random() < 0.2,
                                  next_allowed_at=NOW + timedelta(seconds=30) if rng.random() < 0.3 else None,
                                  sent_last_hour_by_domain={"g.com": rng.choice([0, 1, 2])})
                 for _, mb in pool}
        paused = {"b.example": "blocklisted"} if rng.random() < 0.2 else {}
        rdom = rng.choice(["g.com", "h.com"])
        expected = _pick_by_checking_all(pool, usage, rdom, paused)
        got = pick_mailbox(pool, usage, None, rdom, NOW, paused_domains=paused)
        assert got.address == expected
        if expected is None:
            assert got.reason and got.reason.startswith(("all mailboxes", "no mailbox of the pool"))
