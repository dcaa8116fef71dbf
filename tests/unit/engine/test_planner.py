"""Due times, step conditions, the next action, priority and the daily new-prospect limit."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from outbound.core.durations import parse_wait
from outbound.engine.planner import (
    ActionKind,
    DueItem,
    Facts,
    StepRng,
    admit_new,
    due_at,
    evaluate_condition,
    next_action,
    next_opening_for,
    order_due,
    step_rng,
)
from outbound.engine.window import is_open
from outbound.spec.sequence import Step
from tests.unit.engine.sched_support import BERLIN, NY, local, sequence, step, utc, window

NO, REPLIED, OPENED, CLICKED = Facts(), Facts(replied=True), Facts(opened=True), Facts(opened=True, clicked=True)


@pytest.mark.parametrize(
    ("cond", "on_false", "facts", "verdict"),
    [
        ("always", "skip", REPLIED, "send"),
        ("no_reply", "skip", NO, "send"),
        ("no_reply", "stop", REPLIED, "stop"),
        ("no_reply", "skip", REPLIED, "skip"),
        ("opened", "skip", OPENED, "send"),
        ("opened", "skip", NO, "skip"),
        ("opened", "stop", NO, "stop"),
        ("not_opened", "skip", OPENED, "skip"),
        ("not_opened", "skip", NO, "send"),
        ("clicked", "stop", OPENED, "stop"),
        ("clicked", "skip", CLICKED, "send"),
        ("not_clicked", "skip", CLICKED, "skip"),
        ("not_clicked", "stop", OPENED, "send"),
    ],
)
def test_evaluate_condition(cond: str, on_false: str, facts: Facts, verdict: str) -> None:
    s = Step.model_validate(step("bump", **{"if": cond, "on_false": on_false}))
    d = evaluate_condition(s, facts)
    assert d.verdict == verdict
    assert (cond if cond != "always" else "no condition") in d.reason
    if verdict != "send":
        assert f"on_false: {on_false}" in d.reason


@pytest.mark.parametrize(
    ("wait", "tz", "prev", "expected"),
    [
        ("3d", NY, local(NY, 2026, 3, 5, 10, 0), local(NY, 2026, 3, 8, 10, 0)),  # over spring-forward: 71 h
        ("3d", NY, local(NY, 2026, 10, 29, 10, 0), local(NY, 2026, 11, 1, 10, 0)),  # over fall-back: 73 h
        ("1d12h", BERLIN, local(BERLIN, 2026, 3, 28, 10, 0), local(BERLIN, 2026, 3, 29, 22, 0)),
        ("4h", NY, utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 9, 30)),  # sub-day waits are elapsed time
        ("2 business days", BERLIN, local(BERLIN, 2026, 10, 22, 16, 0), local(BERLIN, 2026, 10, 26, 16, 0)),
        ("0", NY, utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 5, 30)),
    ],
)
def test_due_at(wait: str, tz: ZoneInfo, prev: datetime, expected: datetime) -> None:
    assert due_at(parse_wait(wait), prev, tz) == expected


def test_due_at_business_days_skip_holidays() -> None:
    prev = local(BERLIN, 2026, 12, 23, 10, 0)
    got = due_at(parse_wait("2 business days"), prev, BERLIN, [datetime(2026, 12, 24).date()])
    assert got == local(BERLIN, 2026, 12, 28, 10, 0)


SEQ = sequence(
    [step("intro"), step("bump", wait="3d", **{"if": "no_reply"}),
     step("nudge", wait="2 business days", **{"if": "opened", "on_false": "stop"}),
     step("last", wait="4d", **{"if": "not_clicked"})],
    window={"start": "09:00", "end": "17:00"},
)


def test_complete_after_last_step() -> None:
    a = next_action(SEQ, 4, utc(2026, 3, 9, 14), NO, utc(2026, 3, 20, 14), random.Random(0))
    assert a.kind is ActionKind.complete
    assert "4 steps" in a.reason


def test_reply_stops_when_stop_on_reply() -> None:
    a = next_action(SEQ, 1, utc(2026, 3, 9, 14), REPLIED, utc(2026, 3, 20, 14), random.Random(0))
    assert a.kind is ActionKind.stop
    assert "replied" in a.reason
    no_stop = sequence([step("a"), step("b", wait="1d", **{"if": "no_reply"})], stop_on=["bounce"])
    b = next_action(no_stop, 1, utc(2026, 3, 9, 14), REPLIED, utc(2026, 3, 11, 14), random.Random(0),
                    default_timezone="UTC")
    assert b.kind is ActionKind.skip  # the condition decides instead


@pytest.mark.parametrize(
    ("prev", "now", "tz", "kind", "at", "due"),
    [
        # sent Thu 10:00 EST; bump due Sun 10:00 EDT (weekend) -> Monday 09:00 EDT + offset; waiting
        (local(NY, 2026, 3, 5, 10, 0), local(NY, 2026, 3, 6, 12, 0), "America/New_York",
         ActionKind.send, (utc(2026, 3, 9, 13, 0), timedelta(minutes=90)), False),
        # now is past the planned time and the window is open: send now
        (local(NY, 2026, 3, 3, 10, 0), local(NY, 2026, 3, 6, 11, 0), "America/New_York",
         ActionKind.send, (local(NY, 2026, 3, 6, 11, 0), timedelta(0)), True),
        # overdue but the window is shut (Saturday): the next opening
        (local(NY, 2026, 3, 2, 10, 0), local(NY, 2026, 3, 7, 11, 0), "America/New_York",
         ActionKind.send, (utc(2026, 3, 9, 13, 0), timedelta(minutes=90)), False),
        # same UTC instants, Berlin prospect: due Thu 16:00 CET, inside -> waiting for exactly that time
        (utc(2026, 3, 2, 15, 0), utc(2026, 3, 4, 12, 0), "Europe/Berlin",
         ActionKind.send, (utc(2026, 3, 5, 15, 0), timedelta(0)), False),
    ],
)
def test_next_action_send_times(prev: datetime, now: datetime, tz: str, kind: ActionKind,
                                at: tuple[datetime, timedelta], due: bool) -> None:
    a = next_action(SEQ, 1, prev, NO, now, step_rng("enr-1", 1), prospect_timezone=tz)
    assert a.kind is kind and a.step == 1 and a.due is due
    assert a.at is not None
    lo, spread = at
    assert lo <= a.at <= lo + spread
    assert is_open(SEQ.window, ZoneInfo(tz), a.at)
    assert tz in a.reason
    again = next_action(SEQ, 1, prev, NO, now, step_rng("enr-1", 1), prospect_timezone=tz)
    assert again == a  # same seed, same plan: re-planning every tick is stable


def test_next_action_zone_fallbacks() -> None:
    seq = sequence([step("a")], window={"fallback_timezone": "Europe/Berlin"})
    now = utc(2026, 3, 7, 12, 0)  # Saturday
    a = next_action(seq, 0, now, NO, now, random.Random(0), prospect_timezone=None, default_timezone="Asia/Tokyo")
    assert a.at is not None and "Europe/Berlin" in a.reason
    assert local(BERLIN, 2026, 3, 9, 9, 0) <= a.at < local(BERLIN, 2026, 3, 9, 10, 30)
    plain = sequence([step("a")])
    b = next_action(plain, 0, now, NO, now, random.Random(0), prospect_timezone="Bad/Zone", default_timezone="Asia/Tokyo")
    assert b.at is not None and "Asia/Tokyo" in b.reason and "Bad/Zone" in b.reason
    assert local(ZoneInfo("Asia/Tokyo"), 2026, 3, 9, 9, 0) <= b.at


@pytest.mark.parametrize(
    ("index", "facts", "kind"),
    [
        (2, NO, ActionKind.stop),  # nudge needs an open, on_false: stop
        (2, OPENED, ActionKind.send),
        (3, CLICKED, ActionKind.skip),  # last: not_clicked, on_false: skip
        (3, OPENED, ActionKind.send),
    ],
)
def test_next_action_conditions_checked_when_due(index: int, facts: Facts, kind: ActionKind) -> None:
    prev = local(NY, 2026, 3, 2, 10, 0)
    now = local(NY, 2026, 3, 13, 11, 0)  # Friday, long after either wait
    a = next_action(SEQ, index, prev, facts, now, random.Random(0), prospect_timezone="America/New_York")
    assert a.kind is kind and a.step == index
    assert a.at == now
    assert SEQ.steps[index].id in a.reason


def test_condition_not_checked_before_due() -> None:
    prev = local(NY, 2026, 3, 9, 10, 0)
    a = next_action(SEQ, 2, prev, NO, prev + timedelta(hours=1), random.Random(0), prospect_timezone="America/New_York")
    assert a.kind is ActionKind.send and not a.due  # would stop if evaluated now
    assert a.at == local(NY, 2026, 3, 11, 10, 0)


def test_step_rng_is_stable_and_distinct() -> None:
    assert step_rng(7, 1).random() == step_rng(7, 1).random()
    assert step_rng(7, 1).random() != step_rng(7, 2).random()


def test_lazy_step_rng_draws_what_step_rng_draws_and_seeds_only_when_drawn_from() -> None:
    eager, lazy = step_rng(7, 1), StepRng(7, 1)
    assert lazy._rng is None
    assert [lazy.random() for _ in range(3)] == [eager.random() for _ in range(3)]
    prev, now = local(NY, 2026, 3, 9, 10, 0), local(NY, 2026, 3, 11, 23, 0)  # due at night: moved, with a draw
    moved = next_action(SEQ, 1, prev, NO, now, StepRng("enr-1", 1), prospect_timezone="America/New_York")
    assert not moved.due and moved.at is not None
    assert moved.at == next_action(SEQ, 1, prev, NO, now, step_rng("enr-1", 1), prospect_timezone="America/New_York").at
    inside = StepRng("enr-1", 1)
    next_action(SEQ, 0, prev, NO, local(NY, 2026, 3, 9, 11, 0), inside, prospect_timezone="America/New_York")
    assert inside._rng is None  # due inside the window: nothing drawn, nothing seeded


def test_next_opening_for() -> None:
    got = next_opening_for(window(), "Europe/Berlin", "UTC", local(BERLIN, 2026, 10, 24, 12, 0))
    assert got == utc(2026, 10, 26, 8, 0)


def test_naive_now_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        next_action(SEQ, 0, datetime(2026, 3, 9), NO, utc(2026, 3, 9), random.Random(0))


def test_order_due_follow_ups_first_then_oldest() -> None:
    t = utc(2026, 3, 9, 13)
    items = [DueItem("n1", 0, t - timedelta(hours=5)), DueItem("f2", 2, t), DueItem("f1", 1, t - timedelta(hours=1)),
             DueItem("n0", 0, t - timedelta(hours=5)), DueItem(3, 1, t)]
    assert [i.enrollment_id for i in order_due(items)] == ["f1", 3, "f2", "n0", "n1"]
    assert [i.first_touch for i in order_due(items)] == [False, False, False, True, True]


@pytest.mark.parametrize(
    ("limit", "started", "n", "admitted", "says"),
    [
        (None, 500, 4, 4, "no daily_new_limit"),
        (10, 3, 4, 4, "within"),
        (10, 8, 4, 2, "2 of 4 may start"),
        (10, 10, 4, 0, "reached"),
        (10, 12, 4, 0, "reached"),
        (0, 0, 3, 0, "reached"),
    ],
)
def test_admit_new(limit: int | None, started: int, n: int, admitted: int, says: str) -> None:
    items = [f"e{i}" for i in range(n)]
    a = admit_new(limit, started, items)
    assert a.admitted == items[:admitted]
    assert a.deferred == items[admitted:]
    assert says in a.reason
