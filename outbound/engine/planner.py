"""What an enrollment does next: due times, step conditions, the next action, and send priority.

Pure functions of plain values and ``now``. Waits count from the previous step's send (or skip)
time in the resolved zone: whole days keep the local wall time (so '3d' across a DST change is
Monday 10:00 -> Thursday 10:00, 71 or 73 hours), the sub-day rest is elapsed time, and
'N business days' keeps the wall time on the N-th following Mon-Fri date that is no holiday.
A step due outside the window moves to the next opening plus a seeded random offset.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Generic, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from outbound.core.durations import Wait
from outbound.engine.window import (
    DEFAULT_MAX_OFFSET,
    Draw,
    add_business_days,
    add_calendar_days,
    is_open,
    next_opening,
    place_in_window,
    resolve_zone,
)
from outbound.spec.sequence import Condition, SendingWindow, Step, StopEvent
from outbound.spec.sequence import Sequence as SequenceSpec


@dataclass(frozen=True)
class Facts:
    """What the enrollment has seen so far."""

    replied: bool = False
    opened: bool = False
    clicked: bool = False


@dataclass(frozen=True)
class Decision:
    """Outcome of a step's condition: send it, skip it, or stop the enrollment."""

    verdict: Literal["send", "skip", "stop"]
    reason: str


# condition -> (the fact it reads, the value that makes it true)
_CHECKS: dict[Condition, tuple[str, bool]] = {
    Condition.no_reply: ("replied", False),
    Condition.opened: ("opened", True),
    Condition.not_opened: ("opened", False),
    Condition.clicked: ("clicked", True),
    Condition.not_clicked: ("clicked", False),
}
_SAID = {"replied": ("the prospect replied", "no reply so far"),
         "opened": ("the prospect opened", "no open so far"),
         "clicked": ("the prospect clicked", "no click so far")}


def evaluate_condition(step: Step, facts: Facts) -> Decision:
    """Send the step when its ``if`` holds, else what its ``on_false`` says (skip or stop)."""
    if step.condition is Condition.always:
        return Decision("send", "no condition")
    fact, wanted = _CHECKS[step.condition]
    seen: bool = getattr(facts, fact)
    said = _SAID[fact][0 if seen else 1]
    if seen == wanted:
        return Decision("send", f"if {step.condition.value}: true ({said})")
    return Decision(step.on_false, f"if {step.condition.value}: false ({said}); on_false: {step.on_false}")


def due_at(wait: Wait, previous_at: datetime, tz: ZoneInfo, holidays: Collection[date] = ()) -> datetime:
    """When a step with ``wait`` falls due after the previous send/skip at ``previous_at`` (UTC)."""
    t = add_business_days(previous_at, wait.business_days, tz, frozenset(holidays))
    whole = wait.delta.days
    return add_calendar_days(t, whole, tz) + (wait.delta - timedelta(days=whole))


class ActionKind(StrEnum):
    send = "send"
    skip = "skip"
    complete = "complete"
    stop = "stop"


@dataclass(frozen=True)
class Action:
    """What to do with an enrollment.

    send: send ``step`` at ``at`` (``due`` is True when ``at`` is now: send it this tick);
    skip: ``step`` is skipped at ``at``; continue with ``step + 1`` counting its wait from ``at``;
    complete: no steps left; stop: ``step``'s condition (or a reply) ends the enrollment.
    """

    kind: ActionKind
    reason: str
    step: int | None = None
    at: datetime | None = None
    due: bool = False


def step_positions(sequence: SequenceSpec) -> dict[str, int]:
    """Step id -> its index in the sequence as it is now (ids are unique within a sequence)."""
    return {step.id: i for i, step in enumerate(sequence.steps)}


def resume_index(positions: Mapping[str, int], done_steps: str | None, waiting_for: str | None, stored: int) -> int:
    """The index of the step an enrollment does next in the sequence as it is *now*.

    Enrollments follow steps by id, so a live sequence may be edited: the next step is the one
    after the furthest step done (sent, soft-bounced past or skipped) that still exists, so a
    removed step is passed over and a new one is due only where it lies ahead. With nothing done
    still in the sequence, the step it was waiting for (if that still exists), else the stored index.
    An index equal to the number of steps means every step is done.
    """
    if done_steps:
        furthest = -1
        for step_id in done_steps.split():
            at = positions.get(step_id, -1)
            if at > furthest:
                furthest = at
        if furthest >= 0:
            return furthest + 1
    if waiting_for is not None:
        at = positions.get(waiting_for, -1)
        if at >= 0:
            return at
    return min(stored, len(positions))


def with_done(done_steps: str | None, step_id: str) -> str:
    """``done_steps`` with ``step_id`` added (once)."""
    if not done_steps:
        return step_id
    return done_steps if step_id in done_steps.split() else f"{done_steps} {step_id}"


def step_rng(*parts: object) -> random.Random:
    """A rng seeded from e.g. (enrollment id, step index): repeated planning gives the same time."""
    seed = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


class StepRng:
    """``step_rng(*parts)``, seeded only when first drawn from: most due steps are placed without
    a draw, and seeding a Mersenne Twister costs more than planning the step (~10 µs)."""

    __slots__ = ("_parts", "_rng")

    def __init__(self, *parts: object) -> None:
        self._parts = parts
        self._rng: random.Random | None = None

    def random(self) -> float:
        if self._rng is None:
            self._rng = step_rng(*self._parts)
        return self._rng.random()


def _fmt(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def next_action(sequence: SequenceSpec, next_step: int, previous_at: datetime, facts: Facts, now: datetime,
                rng: Draw, *, prospect_timezone: str | None = None, default_timezone: str = "UTC",
                max_offset: timedelta = DEFAULT_MAX_OFFSET) -> Action:
    """The next action for an enrollment whose next step index is ``next_step``.

    ``previous_at`` is when the previous step was sent or skipped (the enrollment time for step 0).
    The condition is checked only once the step is due, so facts gathered during the wait count.
    """
    if previous_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("scheduling needs tz-aware datetimes")
    steps = sequence.steps
    if next_step >= len(steps):
        return Action(ActionKind.complete, f"all {len(steps)} steps done")
    if facts.replied and StopEvent.reply in sequence.stop_on:
        return Action(ActionKind.stop, "the prospect replied (stop_on: reply)", step=next_step)
    now = now.astimezone(UTC)
    window = sequence.window
    zone = resolve_zone(window, prospect_timezone, default_timezone)
    step = steps[next_step]
    label = f"step {next_step + 1} {step.id!r}"
    due = due_at(step.wait, previous_at, zone.tz, window.holidays)
    planned = place_in_window(window, zone.tz, due, rng, max_offset)
    if planned > now:
        moved = "" if planned == due else f" (due {_fmt(due, zone.tz)}, outside the window)"
        return Action(ActionKind.send, f"{label} at {_fmt(planned, zone.tz)}{moved}, {zone.reason}",
                      step=next_step, at=planned)
    if not is_open(window, zone.tz, now):
        # overdue (e.g. the engine was down) but the window is shut now: wait for it to open
        later = place_in_window(window, zone.tz, now, rng, max_offset)
        return Action(ActionKind.send, f"{label} overdue; window closed, next at {_fmt(later, zone.tz)}, {zone.reason}",
                      step=next_step, at=later)
    decision = evaluate_condition(step, facts)
    if decision.verdict == "send":
        return Action(ActionKind.send, f"{label} due now, {zone.reason}; {decision.reason}", step=next_step, at=now, due=True)
    if decision.verdict == "skip":
        return Action(ActionKind.skip, f"{label} skipped: {decision.reason}", step=next_step, at=now)
    return Action(ActionKind.stop, f"{label} stops the enrollment: {decision.reason}", step=next_step, at=now)


def next_opening_for(window: SendingWindow, prospect_timezone: str | None, default_timezone: str,
                     at: datetime) -> datetime:
    """Convenience for the CLI: the window's next opening for one prospect."""
    return next_opening(window, resolve_zone(window, prospect_timezone, default_timezone).tz, at)


class DueLike(Protocol):
    @property
    def enrollment_id(self) -> int | str: ...
    @property
    def step_index(self) -> int: ...
    @property
    def due_at(self) -> datetime: ...


@dataclass(frozen=True)
class DueItem:
    enrollment_id: int | str
    step_index: int
    due_at: datetime

    @property
    def first_touch(self) -> bool:
        return self.step_index == 0


D = TypeVar("D", bound=DueLike)
T = TypeVar("T")


def priority_key(item: DueLike) -> tuple[int, datetime, str]:
    """Follow-ups before first touches, then the longest-waiting first, then a stable id order."""
    return (0 if item.step_index > 0 else 1, item.due_at, str(item.enrollment_id))


def order_due(items: Iterable[D]) -> list[D]:
    """Due items in the order they should use scarce capacity."""
    return sorted(items, key=priority_key)


@dataclass(frozen=True)
class Admission(Generic[T]):
    admitted: list[T]
    deferred: list[T]
    reason: str


def admit_new(daily_new_limit: int | None, started_today: int, first_touches: Sequence[T]) -> Admission[T]:
    """Which due first touches may start today, in the order given (order them with ``order_due``).

    ``started_today`` counts enrollments of this sequence whose first step went out today.
    """
    items = list(first_touches)
    if daily_new_limit is None:
        return Admission(items, [], "no daily_new_limit")
    room = max(0, daily_new_limit - started_today)
    if room == 0:
        return Admission([], items, f"daily_new_limit {daily_new_limit} reached ({started_today} started today)")
    if room >= len(items):
        return Admission(items, [], f"within daily_new_limit {daily_new_limit} ({started_today} started today)")
    return Admission(items[:room], items[room:],
                     f"{room} of {len(items)} may start: daily_new_limit {daily_new_limit}, {started_today} started today")


# ---------------------------------------------------------------- what an edit of a live sequence does

@dataclass(frozen=True)
class StepGroup:
    """Enrollments of one sequence that stand at the same point (a GROUP BY of their step columns)."""

    live: bool                 # active, paused or blocked: still to do steps
    completed: bool
    done_steps: str | None
    waiting_for: str | None    # the step id planned when last seen (None: not planned since a send)
    next_step: int
    count: int


def edit_effects(sequence: SequenceSpec, groups: Iterable[StepGroup], sent_steps: Collection[str]) -> list[str]:
    """What the sequence as it is now does to its enrollments, compared with what they last saw:
    live enrollments waiting for a removed step, and steps no enrollment has seen before that some
    have passed (they skip it) while others still reach it. ``sent_steps``: step ids with sends."""
    groups = list(groups)
    positions = step_positions(sequence)
    ids = [s.id for s in sequence.steps]
    known = set(sent_steps)
    for g in groups:
        known.update((g.done_steps or "").split())
        if g.waiting_for:
            known.add(g.waiting_for)
    nexts = [(g, resume_index(positions, g.done_steps, g.waiting_for, g.next_step)) for g in groups]
    out = [_removed(removed, moves, ids) for removed, moves in _removals(nexts, positions, ids).items()]
    for step_id in ids:
        if step_id in known:
            continue
        at = positions[step_id]
        if not any(_passed_or_after(g, positions, at) for g in groups):
            continue  # nobody has reached this point: a step added here changes nothing yet
        due = sum(g.count for g, index in nexts if g.live and index <= at)
        passed = sum(g.count for g, index in nexts if g.live and index > at)
        out.append(f"new step {step_id!r} at position {at + 1}: due for {_n(due)} that have not passed it; "
                   f"{passed:,} {'has' if passed == 1 else 'have'} passed it and skip it")
    return out


def _removals(nexts: list[tuple[StepGroup, int]], positions: Mapping[str, int],
              ids: list[str]) -> dict[str, dict[str | None, int]]:
    moves: dict[str, dict[str | None, int]] = {}
    for g, index in nexts:
        if g.live and g.waiting_for and g.waiting_for not in positions:
            target = ids[index] if index < len(ids) else None
            by_target = moves.setdefault(g.waiting_for, {})
            by_target[target] = by_target.get(target, 0) + g.count
    return dict(sorted(moves.items()))


def _removed(step_id: str, moves: dict[str | None, int], ids: list[str]) -> str:
    total = sum(moves.values())
    head = f"step {step_id!r} was removed; {_n(total, 'live enrollment')} waiting for it"
    order = sorted(moves.items(), key=lambda kv: ids.index(kv[0]) if kv[0] is not None else len(ids))
    if len(order) == 1:
        target = order[0][0]
        return head + (f" move to {target!r}" if target is not None else " complete (no step after it)")
    parts = [f"{n:,} to {t!r}" if t is not None else f"{n:,} complete" for t, n in order]
    return head + " move on: " + ", ".join(parts)


def _passed_or_after(g: StepGroup, positions: Mapping[str, int], at: int) -> bool:
    """Whether these enrollments are past position ``at`` (a step there would be new to them)."""
    done = [positions[s] for s in (g.done_steps or "").split() if s in positions]
    if any(p > at for p in done):
        return True
    if g.waiting_for is not None and positions.get(g.waiting_for, -1) > at:
        return True
    return g.completed and bool(done)


def _n(count: int, what: str = "enrollment") -> str:
    return f"{count:,} {what}{'' if count == 1 else 's'}"
