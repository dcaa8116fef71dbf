"""The sequence file: steps, waits, conditions, variants, sending window, stop rules."""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from outbound.core.durations import WAIT_SCHEMA, Wait, parse_wait
from outbound.core.zones import check_timezone

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Strict(BaseModel):
    """Base for user-file models: unknown keys are errors (with a 'did you mean')."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(StrEnum):
    """When a step is sent: every condition looks at the enrollment so far."""

    always = "always"
    no_reply = "no_reply"
    opened = "opened"
    not_opened = "not_opened"
    clicked = "clicked"
    not_clicked = "not_clicked"


# The tracking flag each open/click condition reads: with it off, no open or click is ever recorded.
TRACKED_BY: dict[Condition, Literal["opens", "clicks"]] = {
    Condition.opened: "opens", Condition.not_opened: "opens",
    Condition.clicked: "clicks", Condition.not_clicked: "clicks",
}


class StopEvent(StrEnum):
    reply = "reply"
    bounce = "bounce"
    unsubscribe = "unsubscribe"
    auto_reply = "auto_reply"
    complaint = "complaint"


class SendingWindow(Strict):
    """When mail may go out, evaluated in the prospect's (or the given) time zone."""

    days: list[DayName] = Field(default_factory=lambda: list(WEEKDAYS))
    start: time = time(9, 0)
    end: time = time(17, 0)
    timezone: str = Field("prospect", description="'prospect' (the prospect's own zone) or an IANA name")
    fallback_timezone: str | None = Field(
        None, description="zone used when timezone is 'prospect' and the prospect has none")
    holidays: list[date] = Field(default_factory=list, description="dates on which nothing is sent")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return v if v == "prospect" else check_timezone(v)

    @field_validator("fallback_timezone")
    @classmethod
    def _fallback(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)

    @model_validator(mode="after")
    def _order(self) -> SendingWindow:
        if self.start >= self.end:
            raise ValueError("the window's start must be before its end")
        if not self.days:
            raise ValueError("the window needs at least one day")
        return self

    @cached_property  # asked for every due enrollment on every tick
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(DAY_NAMES.index(d) for d in self.days)


class Variant(Strict):
    """An A/B/n alternative of a step's subject and/or body."""

    id: str
    weight: Annotated[float, Field(gt=0)] = 1
    subject: str | None = None
    body: str | None = None
    body_file: str | None = None
    html: str | None = None
    html_file: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("an id is letters, digits, '_', '-' or '.', at most 64")
        return v


class Step(Strict):
    id: str
    wait: Annotated[Wait, WithJsonSchema(WAIT_SCHEMA)] = Field(Wait(), description="'3d', '4h', '30m' or '2 business days', counted from the previous send")
    subject: str | None = Field(None, description="Jinja2 template; a threaded step may omit it to reuse 'Re: <previous>'")
    body: str | None = None
    body_file: str | None = Field(None, description="template file, relative to the sequence file")
    html: str | None = None
    html_file: str | None = None
    variants: list[Variant] = Field(default_factory=list)
    thread: bool = Field(False, description="send as a reply in the thread of the previous step")
    condition: Condition = Field(Condition.always, alias="if")
    on_false: Literal["skip", "stop"] = Field("skip", description="what happens when the condition is false")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("an id is letters, digits, '_', '-' or '.', at most 64")
        return v

    @field_validator("wait", mode="before")
    @classmethod
    def _wait(cls, v: object) -> Wait:
        if isinstance(v, Wait):
            return v
        if isinstance(v, (str, int, float)):
            return parse_wait(v)
        raise ValueError("expected a wait such as '3d', '4h' or '2 business days'")

    @model_validator(mode="after")
    def _content(self) -> Step:
        if self.body and self.body_file:
            raise ValueError("give either body or body_file, not both")
        if self.html and self.html_file:
            raise ValueError("give either html or html_file, not both")
        variants_have_body = bool(self.variants) and all(v.body or v.body_file for v in self.variants)
        if not (self.body or self.body_file or variants_have_body):
            raise ValueError("a step needs a body or body_file (or every variant needs one)")
        variants_have_subject = bool(self.variants) and all(v.subject for v in self.variants)
        if not (self.subject or self.thread or variants_have_subject):
            raise ValueError("a step needs a subject unless it is threaded (thread: true)")
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must be unique within a step")
        return self


class Senders(Strict):
    """The pool a sequence sends from: whole domains and/or single mailboxes."""

    domains: list[str] = Field(default_factory=list)
    mailboxes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> Senders:
        if not self.domains and not self.mailboxes:
            raise ValueError("name at least one sending domain or mailbox")
        return self


class Tracking(Strict):
    clicks: bool = False
    opens: bool = False


VerifyAction = Literal["send", "skip"]


class VerifyPolicy(Strict):
    """What enrollment and the claim do with an address verified ``risky``, per reason (``invalid`` is
    always skipped, an unverified or ``unknown`` one is sent)."""

    role: VerifyAction = Field("skip", description="info@, sales@, noreply@ ... (RFC 2142 and the common ones)")
    disposable: VerifyAction = Field("skip", description="a throwaway-mail domain")
    catch_all: VerifyAction = Field("send", alias="catch-all", description="a domain whose server takes any address")

    def skips(self, code: str) -> bool:
        return {"role": self.role, "disposable": self.disposable, "catch-all": self.catch_all}.get(code) == "skip"


_ACTION = {"enum": ["send", "skip"]}
VERIFY_POLICY_SCHEMA = {"anyOf": [_ACTION, {"type": "object", "additionalProperties": False, "properties": {
    "role": _ACTION, "disposable": _ACTION, "catch-all": _ACTION}}]}


class Sequence(Strict):
    name: str
    description: str = ""
    window: SendingWindow = Field(default_factory=SendingWindow)
    senders: Senders
    daily_new_limit: Annotated[int, Field(ge=0)] | None = Field(
        None, description="most prospects started on this sequence per day")
    account_daily_limit: Annotated[int, Field(gt=0)] | None = Field(
        2, description="most first touches per company domain per day (null: no limit)")
    required_fields: list[str] = Field(default_factory=list)
    stop_on: list[StopEvent] = Field(
        default_factory=lambda: [StopEvent.reply, StopEvent.bounce, StopEvent.unsubscribe, StopEvent.complaint])
    stop_account_on_reply: bool = False
    referral_sequence: str | None = Field(
        None, description="with [inbox] import_referrals: the sequence a person named in a wrong-person or "
        "left-company reply is enrolled in")
    tracking: Tracking = Field(default_factory=Tracking)
    verify_policy: Annotated[VerifyPolicy, WithJsonSchema(VERIFY_POLICY_SCHEMA)] = Field(
        default_factory=VerifyPolicy,
        description="'send' or 'skip' for every risky address, or per reason: role, disposable, catch-all")
    steps: Annotated[list[Step], Field(min_length=1)]
    schema_: str | None = Field(None, alias="$schema", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("a sequence name is letters, digits, '_', '-' or '.', at most 64")
        return v

    @field_validator("verify_policy", mode="before")
    @classmethod
    def _one_policy(cls, v: object) -> object:
        if isinstance(v, str):
            if v not in ("send", "skip"):
                raise ValueError("expected 'send', 'skip', or a mapping of role, disposable, catch-all to one of them")
            return {"role": v, "disposable": v, "catch-all": v}
        return v

    @model_validator(mode="after")
    def _steps(self) -> Sequence:
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"step ids must be unique; repeated: {', '.join(dupes)}")
        if self.steps[0].thread:
            raise ValueError("the first step cannot be threaded: there is nothing to reply to")
        return self

    def step_index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)


def untracked_conditions(seq: Sequence) -> list[tuple[int, str]]:
    """(step index, message) for each step whose ``if`` reads opens or clicks that the sequence does not track:
    ``opened``/``clicked`` are then always false and ``not_opened``/``not_clicked`` always true."""
    out: list[tuple[int, str]] = []
    for i, step in enumerate(seq.steps):
        flag = TRACKED_BY.get(step.condition)
        if flag is None or getattr(seq.tracking, flag):
            continue
        if step.condition.value.startswith("not_"):
            outcome = "always true: its on_false never applies"
        elif step.on_false == "stop":
            outcome = "always false: every enrollment that reaches it stops (on_false: stop)"
        else:
            outcome = "always false: the step is never sent (on_false: skip)"
        out.append((i, f"step {step.id!r} if: {step.condition.value} — {flag[:-1]} tracking is off for this sequence "
                       f"(tracking.{flag}: false), so this condition is {outcome}"))
    return out
