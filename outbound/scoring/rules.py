"""Rule evaluation, pure: a prospect's new events and score change in, decisions (with reasons) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from outbound.core import events as ev
from outbound.scoring.spec import Rule, When


@dataclass(frozen=True)
class EventView:
    id: int
    type: str
    at: datetime
    prospect_id: int
    enrollment_id: int | None
    data: dict[str, Any]

    def describe(self) -> str:
        tone = ""
        if self.type == ev.REPLIED:
            positive = self.data.get("positive")
            tone = " (positive)" if positive is True else " (negative)" if positive is False else ""
        return f"{self.type}{tone} at {self.at:%Y-%m-%d %H:%M}Z (event {self.id})"


@dataclass(frozen=True)
class EnrollmentView:
    """What ``ghosted`` and ``completed`` read of the triggering send's enrollment."""

    sequence: str
    state: str
    steps_sent: int
    engaged: bool                  # a reply or a person's click since the enrollment began


class History(Protocol):
    """The prospect's past beyond the batch, looked up only when a rule asks (the store answers it)."""

    def count(self, prospect_id: int, types: list[str], since: datetime | None, upto: EventView) -> int:
        """Events of ``types`` at ``since`` or later, up to ``upto`` (machine opens and clicks left out)."""
        ...

    def enrollment(self, enrollment_id: int) -> EnrollmentView | None: ...

    def contacts(self, account: str, types: list[str], since: datetime | None, upto: EventView) -> int:
        """Contacts of the account with an event of ``types`` at ``since`` or later, up to ``upto``."""
        ...


class _NoHistory:
    def count(self, prospect_id: int, types: list[str], since: datetime | None, upto: EventView) -> int:
        return 0

    def enrollment(self, enrollment_id: int) -> EnrollmentView | None:
        return None

    def contacts(self, account: str, types: list[str], since: datetime | None, upto: EventView) -> int:
        return 0


def is_person(e_type: str, data: dict[str, Any]) -> bool:
    """Machine opens and clicks (proxies, scanners) are no sign of a person."""
    return not (e_type in (ev.OPENED, ev.CLICKED) and data.get("machine") is True)


@dataclass
class ProspectChange:
    """One prospect touched by a batch: scores before and after it (both as of the pass time)."""

    prospect_id: int
    account: str | None
    before: float = 0.0
    after: float = 0.0
    account_before: float = 0.0
    account_after: float = 0.0
    events: list[EventView] = field(default_factory=list)
    history: History = field(default_factory=_NoHistory)


@dataclass(frozen=True)
class Decision:
    key: str                       # rule + action + subject + triggering event: each happens once
    rule: str
    kind: str                      # pause | stop | stop_account | move | enroll | resume | hot | webhook
    subject_kind: str              # prospect | account
    subject: str
    prospect_id: int
    event: EventView
    reason: str
    score: float
    account_score: float
    pause_for: timedelta | None = None
    move_to: str | None = None     # move and enroll: the sequence
    webhook: str | None = None
    keep_current: bool = True      # enroll: leave the prospect's other enrollments alone
    until_event: str | None = None  # pause: until this event arrives; resume: only pauses awaiting it


def evaluate(rules: list[Rule], change: ProspectChange) -> list[Decision]:
    out: list[Decision] = []
    for rule in rules:
        for trigger, why in _triggers(rule.when, change):
            out.extend(_decisions(rule, change, trigger, f"rule {rule.name!r}: {why}"))
        if rule.until_event is not None:  # the awaited event lifts the rule's own pause
            scope, subject = (("account", change.account) if rule.pauses_account and change.account
                              else ("prospect", str(change.prospect_id)))
            for e in change.events:
                if e.type == rule.until_event:
                    out.append(Decision(f"{rule.name}:resume_on:{scope}:{subject}:{e.id}", rule.name,
                                        "resume", scope, subject, change.prospect_id, e,
                                        f"rule {rule.name!r}: {e.describe()} arrived", change.after,
                                        change.account_after, until_event=e.type))
    return out


def _triggers(when: When, c: ProspectChange) -> list[tuple[EventView, str]]:
    if when.has_state_condition:
        return [(e, why) for e in c.events if e.type == ev.SENT and (why := _state_holds(when, c, e))]
    if when.event:
        hits = [e for e in c.events if e.type in when.event and is_person(e.type, e.data)
                and (when.positive is None or e.data.get("positive") is when.positive)
                and (not when.intent or e.data.get("intent") in when.intent)]
        if not hits or not _scores_hold(when, c.after, c.account_after):
            return []
        if when.contacts_at_least is not None or when.at_least is not None:
            return _first_count(when, c, hits)
        return [(e, _why(e, when, c)) for e in hits]
    # A rule on scores alone fires when the change crosses into its condition, not on every event after.
    if not c.events or not _scores_hold(when, c.after, c.account_after) or _scores_hold(when, c.before, c.account_before):
        return []
    last = c.events[-1]
    return [(last, _why(last, when, c))]


def _first_count(when: When, c: ProspectChange, hits: list[EventView]) -> list[tuple[EventView, str]]:
    """The first event at which the count holds (the rule acts once), looked up one event at a time."""
    window = f"within {_span(when.within)}" if when.within else "in all"
    what = "/".join(when.event)
    for e in hits:
        since = None if when.within is None else e.at - when.within
        if when.contacts_at_least is not None:
            if not c.account:
                return []
            n = c.history.contacts(c.account, when.event, since, e)
            if n >= when.contacts_at_least:
                return [(e, f"{e.describe()}, {n} contacts of {c.account} with {what} {window} "
                            f">= {when.contacts_at_least}")]
        elif when.at_least is not None and (n := c.history.count(c.prospect_id, when.event, since, e)) >= when.at_least:
            return [(e, f"{e.describe()}, {n} {what} {window} >= {when.at_least}")]
    return []


def _span(d: timedelta) -> str:
    return f"{d.days}d" if d.days and not d.seconds else f"{int(d.total_seconds() // 3600)}h"


def _state_holds(when: When, c: ProspectChange, e: EventView) -> str:
    """Why the send's enrollment is ghosted or completed ("" when it is not)."""
    if e.enrollment_id is None:
        return ""
    view = c.history.enrollment(e.enrollment_id)
    if view is None:
        return ""
    done = view.state == "completed"
    if when.ghosted is not None:
        steps = when.ghosted.steps
        if view.engaged or not (done if steps is None else view.steps_sent >= steps):
            return ""
        sent = "completed" if steps is None else f"{view.steps_sent} steps sent"
        return f"ghosted: {view.sequence} {sent} with no reply and no click ({e.describe()})"
    if not done or (isinstance(when.completed, str) and when.completed != view.sequence):
        return ""
    return f"{view.sequence} completed ({e.describe()})"


def _scores_hold(when: When, score: float, account: float) -> bool:
    return ((when.score_at_least is None or score >= when.score_at_least)
            and (when.score_below is None or score < when.score_below)
            and (when.account_score_at_least is None or account >= when.account_score_at_least))


def _why(e: EventView, when: When, c: ProspectChange) -> str:
    parts = [e.describe()]
    if when.score_at_least is not None:
        parts.append(f"score {c.after:.1f} >= {when.score_at_least:g}")
    if when.score_below is not None:
        parts.append(f"score {c.after:.1f} < {when.score_below:g}")
    if when.account_score_at_least is not None:
        parts.append(f"account {c.account} score {c.account_after:.1f} >= {when.account_score_at_least:g}")
    return ", ".join(parts)


def _decisions(rule: Rule, c: ProspectChange, e: EventView, reason: str) -> list[Decision]:
    pid = str(c.prospect_id)

    def make(kind: str, subject_kind: str = "prospect", subject: str = pid, **extra: Any) -> Decision:
        # an account count acts once per account, whichever contact tipped it
        once = (f"{rule.name}:{kind}:account:{c.account}" if rule.when.contacts_at_least is not None
                else f"{rule.name}:{kind}:{subject_kind}:{subject}")
        return Decision(key=once if rule.once_per_prospect else f"{once}:{e.id}", rule=rule.name, kind=kind,
                        subject_kind=subject_kind, subject=subject, prospect_id=c.prospect_id, event=e,
                        reason=reason, score=c.after, account_score=c.account_after, **extra)

    out: list[Decision] = []
    if rule.stop_account and c.account:
        out.append(make("stop_account", "account", c.account))
    if rule.stop:
        out.append(make("stop"))
    if rule.pause:
        timed = isinstance(rule.pause, timedelta)
        if rule.pauses_account and not c.account:
            pass  # a prospect with no company domain has no account to pause
        elif rule.pauses_account:
            out.append(make("pause", "account", c.account or "", until_event=rule.until_event))
        else:
            out.append(make("pause", pause_for=rule.pause if isinstance(rule.pause, timedelta) else None,
                            until_event=None if timed else rule.until_event))
    if rule.resume:
        out.append(make("resume"))
    if rule.move_to:
        out.append(make("move", move_to=rule.move_to))
    if rule.enroll:
        out.append(make("enroll", move_to=rule.enroll, keep_current=rule.keep_current))
    if rule.hot:
        out.append(make("hot"))
    if rule.webhook:
        out.append(make("webhook", webhook=rule.webhook))
    return out
