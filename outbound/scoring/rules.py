"""Rule evaluation, pure: a prospect's new events and score change in, decisions (with reasons) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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


@dataclass(frozen=True)
class Decision:
    key: str                       # rule + action + subject + triggering event: each happens once
    rule: str
    kind: str                      # pause | stop | stop_account | move | hot | webhook
    subject_kind: str              # prospect | account
    subject: str
    prospect_id: int
    event: EventView
    reason: str
    score: float
    account_score: float
    pause_for: timedelta | None = None
    move_to: str | None = None
    webhook: str | None = None


def evaluate(rules: list[Rule], change: ProspectChange) -> list[Decision]:
    out: list[Decision] = []
    for rule in rules:
        for trigger, why in _triggers(rule.when, change):
            out.extend(_decisions(rule, change, trigger, f"rule {rule.name!r}: {why}"))
    return out


def _triggers(when: When, c: ProspectChange) -> list[tuple[EventView, str]]:
    if when.event:
        hits = [e for e in c.events if e.type in when.event
                and (when.positive is None or e.data.get("positive") is when.positive)
                and (not when.intent or e.data.get("intent") in when.intent)]
        if not hits or not _scores_hold(when, c.after, c.account_after):
            return []
        return [(e, _why(e, when, c)) for e in hits]
    # A rule on scores alone fires when the change crosses into its condition, not on every event after.
    if not c.events or not _scores_hold(when, c.after, c.account_after) or _scores_hold(when, c.before, c.account_before):
        return []
    last = c.events[-1]
    return [(last, _why(last, when, c))]


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
        return Decision(key=f"{rule.name}:{kind}:{subject_kind}:{subject}:{e.id}", rule=rule.name, kind=kind,
                        subject_kind=subject_kind, subject=subject, prospect_id=c.prospect_id, event=e,
                        reason=reason, score=c.after, account_score=c.account_after, **extra)

    out: list[Decision] = []
    if rule.stop_account and c.account:
        out.append(make("stop_account", "account", c.account))
    if rule.stop:
        out.append(make("stop"))
    if rule.pause:
        out.append(make("pause", pause_for=None if rule.pause == "manual" else rule.pause))
    if rule.move_to:
        out.append(make("move", move_to=rule.move_to))
    if rule.hot:
        out.append(make("hot"))
    if rule.webhook:
        out.append(make("webhook", webhook=rule.webhook))
    return out
