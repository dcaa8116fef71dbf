"""``scoring.yaml``: weights, half-life, rules, webhooks and lead-source costs (every key optional)."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator, model_validator

from outbound.core import events as ev
from outbound.core.durations import parse_duration
from outbound.errors import Problem, WorkspaceError
from outbound.spec.yamlfile import read_yaml, validate_document

FILE_NAME = "scoring.yaml"
SCORED_TYPES = frozenset(ev.WEIGHABLE)  # the events the scorer reads (with the rules' own)
# Default points: scoring policy, not part of a type's definition. A weighable type without one
# weighs 0 until scoring.yaml gives it a weight.
DEFAULT_POINTS: dict[str, float] = {
    ev.REPLIED: 5.0,                 # a reply whose tone is unknown (positive: null)
    ev.AUTO_REPLIED: 0.5, ev.BOUNCED: -10.0, ev.UNSUBSCRIBED: -25.0, ev.COMPLAINED: -50.0,
    ev.OPENED: 1.0,                  # machine opens (data.machine: true) never count
    ev.CLICKED: 3.0, ev.QUALIFIED: 25.0, ev.MEETING_BOOKED: 40.0, ev.WON: 60.0, ev.LOST: -15.0}
# A reply is weighed by its tone: these keys follow ``replied`` in the weights.
REPLY_TONES: dict[str, float] = {"replied_positive": 15.0, "replied_negative": -5.0}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(v: Any) -> Any:
    return parse_duration(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else v


def weights_model(weighable: Iterable[str]) -> type[_Strict]:
    """The ``weights`` model: one float per weighable event type, the reply's tones after ``replied``.

    Its fields are the keys scoring.yaml accepts and the "did you mean" suggestions for a typo.
    """
    fields: dict[str, Any] = {}
    for name in weighable:
        fields[name] = (float, DEFAULT_POINTS.get(name, 0.0))
        if name == ev.REPLIED:
            fields |= {tone: (float, points) for tone, points in REPLY_TONES.items()}
    return create_model("Weights", __base__=_Strict, __module__=__name__,
                        __doc__="Points per event; a reply is weighed by its tone (positive true/false/unknown).",
                        **fields)


if TYPE_CHECKING:
    class Weights(_Strict):
        """What mypy sees of the model below: a float per key."""

        def __getattr__(self, name: str) -> float: ...
else:
    Weights = weights_model(ev.WEIGHABLE)


def _known(info: ValidationInfo) -> tuple[str, ...]:
    """The event types a rule may name: the built-in ones and the file's own ``event_types``."""
    context = info.context if isinstance(info.context, dict) else {}
    return tuple(context.get("known", ev.ALL))


def _check_event(name: str, info: ValidationInfo) -> str:
    known = _known(info)
    if name not in known:
        guess = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        raise ValueError(f"unknown event type {name!r}; " + (f"did you mean {guess[0]!r}?" if guess else
                                                              f"expected one of: {', '.join(sorted(known))}"))
    return name


# the intents outbound.inbox.intent gives a reply (the scoring layer sits below inbox, so spelled out here)
REPLY_INTENTS = ("interested", "meeting_request", "information_request", "not_interested", "do_not_contact",
                 "wrong_person", "left_company", "later", "out_of_office", "other")


class Ghosted(_Strict):
    """No reply and no click after ``steps`` sends of an enrollment (None: once it completed)."""

    steps: Annotated[int, Field(gt=0)] | None = None


class When(_Strict):
    """What triggers a rule: event types (and a reply's tone, a count in a window), a state of an
    enrollment (ghosted, completed) and/or score thresholds."""

    event: list[str] = Field(default_factory=list)
    positive: bool | None = None
    intent: list[str] = Field(default_factory=list, description="event: replied only: the reply's intents")
    at_least: Annotated[int, Field(gt=0)] | None = Field(
        None, description="the prospect has this many of the events (machine opens and clicks never count)")
    within: timedelta | None = Field(None, description="counted over this window, up to the triggering event")
    contacts_at_least: Annotated[int, Field(gt=0)] | None = Field(
        None, description="this many contacts of the prospect's account have one of the events (once per account)")
    ghosted: Ghosted | None = None
    completed: bool | str | None = Field(None, description="an enrollment completed (true, or of this sequence)")
    score_at_least: float | None = None
    score_below: float | None = None
    account_score_at_least: float | None = None

    @field_validator("event", "intent", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("event")
    @classmethod
    def _known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_check_event(name, info) for name in v]

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, v: Any) -> Any:
        return _duration(v)

    @field_validator("ghosted", mode="before")
    @classmethod
    def _ghosted(cls, v: Any) -> Any:
        return ({} if v is True else None if v is False else v)

    @model_validator(mode="after")
    def _something(self) -> When:
        counted = self.at_least is not None or self.contacts_at_least is not None
        if (counted or self.within is not None) and not self.event:
            raise ValueError("'at_least', 'contacts_at_least' and 'within' count events: give 'event' too")
        if self.at_least is not None and self.contacts_at_least is not None:
            raise ValueError("give either at_least (the prospect's events) or contacts_at_least (the account's), not both")
        if not self.event and not self.has_score_condition and not self.has_state_condition:
            raise ValueError("a rule needs an event or a score condition (score_at_least, score_below, "
                             "account_score_at_least), or ghosted or completed")
        if self.event and self.has_state_condition:
            raise ValueError("give either event or ghosted/completed, not both")
        if self.ghosted is not None and self.completed:
            raise ValueError("give either ghosted or completed, not both")
        if self.positive is not None and self.event != [ev.REPLIED]:
            raise ValueError("'positive' only applies to event: replied")
        if self.intent and self.event != [ev.REPLIED]:
            raise ValueError("'intent' only applies to event: replied")
        unknown = [i for i in self.intent if i not in REPLY_INTENTS]
        if unknown:
            raise ValueError(f"unknown intent {unknown[0]!r}; expected one of: {', '.join(REPLY_INTENTS)}")
        if self.within is not None and not counted:
            raise ValueError("'within' needs 'at_least' or 'contacts_at_least'")
        return self

    @property
    def has_state_condition(self) -> bool:
        return self.ghosted is not None or bool(self.completed)

    @property
    def stateful(self) -> bool:
        """Counts and states hold for a while: the rule acts once per prospect, not once per event."""
        return self.at_least is not None or self.contacts_at_least is not None or self.has_state_condition

    @property
    def has_score_condition(self) -> bool:
        return any(x is not None for x in (self.score_at_least, self.score_below, self.account_score_at_least))


class PauseUntil(_Strict):
    until_event: str = Field(description="paused until this event arrives for the prospect (or the account)")
    account: bool = Field(False, description="pause every contact of the prospect's account, until the event "
                                             "arrives for any of them")

    @field_validator("until_event")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        return _check_event(v, info)


class Rule(_Strict):
    """What to do when ``when`` holds: pause/stop/resume the enrollment, enroll, stop the account, escalate."""

    name: str
    when: When
    pause: timedelta | Literal["manual"] | PauseUntil | None = Field(
        None, description="pause the enrollment for this long, 'manual' until `outbound` resumes it, "
                          "or {until_event: TYPE}")
    stop: bool = False
    stop_account: bool = False
    hot: bool = False
    move_to: str | None = Field(None, description="stop the current enrollment and enroll in this sequence")
    enroll: str | None = Field(None, description="enroll in this sequence (see keep_current)")
    keep_current: bool = Field(True, description="with enroll: false stops the prospect's other enrollments")
    resume: bool = Field(False, description="lift the prospect's paused enrollments")
    webhook: str | None = Field(None, description="name of a webhook under 'webhooks' to notify")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("a rule name is letters, digits, '_', '-' or '.', at most 64")
        return v

    @field_validator("pause", mode="before")
    @classmethod
    def _pause(cls, v: Any) -> Any:
        return v if v == "manual" or isinstance(v, dict) else _duration(v)

    @model_validator(mode="after")
    def _actions(self) -> Rule:
        if not (self.pause or self.stop or self.stop_account or self.hot or self.move_to or self.webhook
                or self.enroll or self.resume):
            raise ValueError("a rule needs an action: pause, stop, stop_account, hot, move_to, enroll, resume "
                             "or webhook")
        if self.pause and (self.stop or self.move_to):
            raise ValueError("give either pause or stop/move_to, not both")
        if self.resume and (self.pause or self.stop):
            raise ValueError("give either resume or pause/stop, not both")
        if self.enroll and self.move_to:
            raise ValueError("give either enroll or move_to, not both")
        return self

    @property
    def until_event(self) -> str | None:
        return self.pause.until_event if isinstance(self.pause, PauseUntil) else None

    @property
    def pauses_account(self) -> bool:
        return isinstance(self.pause, PauseUntil) and self.pause.account

    @property
    def once_per_prospect(self) -> bool:
        """The rule's actions happen once per prospect (not once per triggering event)."""
        return self.when.stateful or bool(self.enroll) or self.resume or self.until_event is not None


class Webhook(_Strict):
    url: str
    secret_env: str | None = Field(None, description="environment variable holding the HMAC-SHA256 key")
    timeout: timedelta = timedelta(seconds=10)
    max_attempts: Annotated[int, Field(gt=0)] = 8
    backoff: timedelta = Field(timedelta(minutes=1), description="first retry delay; doubles each attempt")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("a webhook url starts with http:// or https://")
        return v

    @field_validator("secret_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV.match(v):
            raise ValueError("secret_env is the NAME of an environment variable (letters, digits, '_'), not the secret")
        return v

    @field_validator("timeout", "backoff", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return _duration(v)


class Source(_Strict):
    cost_per_lead: Annotated[float, Field(ge=0)] | None = None


def _own_type_problem(name: str) -> str:
    if name in ev.DEFINITIONS:
        return f"event type {name!r} is built in; give your own type another name"
    if not _TYPE.match(name):
        return f"event type {name!r}: lower-case letters, digits and '_', starting with a letter"
    return ""


class EventTypeSpec(_Strict):
    """A CRM signal of the workspace's own (job_change, funding_round, ...): its data fields."""

    fields: list[str] = Field(default_factory=list)
    doc: str | None = None

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _TYPE.match(name) or name in ("email", "type", "at", "note", "by"):
                raise ValueError(f"field {name!r}: lower-case letters, digits and '_', starting with a letter, "
                                 "and not email, type, at, note or by")
        return v


class ScoringSpec(_Strict):
    half_life: timedelta = timedelta(days=30)
    event_types: dict[str, EventTypeSpec] = Field(
        default_factory=dict, description="the workspace's own event types (CRM signals) and their data fields")
    weights: Weights = Field(default_factory=Weights)
    rules: list[Rule] = Field(default_factory=list)
    webhooks: dict[str, Webhook] = Field(default_factory=dict)
    sources: dict[str, Source] = Field(default_factory=dict)
    vendors: dict[str, Source] = Field(default_factory=dict, description="cost per lead of each lead vendor")
    stages: list[str] = Field(default_factory=lambda: [ev.MQL, ev.SQL],
                              description="the funnel's stages after a positive reply, in order (event types)")
    schema_: str | None = Field(None, alias="$schema", exclude=True)

    @field_validator("half_life", mode="before")
    @classmethod
    def _half_life(cls, v: Any) -> Any:
        return _duration(v)

    @field_validator("half_life")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("half_life must be longer than zero")
        return v

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_check_event(name, info) for name in v]

    @field_validator("event_types")
    @classmethod
    def _own_types(cls, v: dict[str, EventTypeSpec]) -> dict[str, EventTypeSpec]:
        for name in v:
            if why := _own_type_problem(name):
                raise ValueError(why)
        return v

    @property
    def custom_types(self) -> dict[str, ev.EventType]:
        return {n: ev.custom_type(n, tuple(t.fields), t.doc or "") for n, t in self.event_types.items()}

    @property
    def catalogue(self) -> ev.Catalogue:
        """The built-in types and the workspace's own, through the same derived lists."""
        return ev.with_custom(self.custom_types) if self.event_types else ev.CATALOGUE

    @property
    def scored_types(self) -> frozenset[str]:
        """The events the scorer reads: the weighable ones (the workspace's own included) and the rules' own."""
        return frozenset(self.catalogue.weighable) | self.rule_event_types

    @property
    def rule_event_types(self) -> frozenset[str]:
        """The events the rules read: their own, ``sent`` for ghosted/completed, the awaited ones."""
        types = {t for r in self.rules for t in r.when.event}
        types |= {ev.SENT for r in self.rules if r.when.has_state_condition}
        return frozenset(types | {t for r in self.rules if (t := r.until_event) is not None})


def check_scoring_file(path: Path, sequences: set[str] | None = None) -> list[Problem]:
    """Every problem of a scoring file as ``file:line:col`` (none when the file does not exist)."""
    return [] if not path.exists() else _read(path, sequences)[1]


def load_scoring(root: Path, sequences: set[str] | None = None) -> ScoringSpec:
    """``root/scoring.yaml``, or the defaults when there is none; WorkspaceError on problems."""
    path = root / FILE_NAME
    if not path.exists():
        return ScoringSpec()
    spec, problems = _read(path, sequences)
    if problems or spec is None:
        raise WorkspaceError(problems)
    return spec


@functools.cache
def spec_model(custom: tuple[str, ...]) -> type[ScoringSpec]:
    """ScoringSpec whose weights also take the workspace's own event types."""
    if not custom:
        return ScoringSpec
    weights: Any = weights_model((*ev.WEIGHABLE, *custom))
    model: Any = create_model("ScoringSpec", __base__=ScoringSpec, __module__=__name__,
                              weights=(weights, Field(default_factory=weights)))
    return model


def _own_type_names(data: Any) -> tuple[str, ...]:
    raw = data.get("event_types") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return ()
    return tuple(str(k) for k in raw if isinstance(k, str) and _TYPE.match(k) and k not in ev.DEFINITIONS)


def _read(path: Path, sequences: set[str] | None) -> tuple[ScoringSpec | None, list[Problem]]:
    doc = read_yaml(path)
    if isinstance(doc, Problem):
        return None, [doc]
    raw = doc.data.get("event_types") if isinstance(doc.data, dict) else None
    bad = [Problem(path, f"event_types.{name}: {why}", *doc.position(("event_types", name)))
           for name in (raw if isinstance(raw, dict) else {}) if (why := _own_type_problem(str(name)))]
    if bad:
        return None, bad
    custom = _own_type_names(doc.data)
    spec = validate_document(doc, spec_model(custom), {"known": (*ev.ALL, *custom)})
    if isinstance(spec, list):
        return None, spec
    problems: list[Problem] = []
    names: set[str] = set()
    for i, rule in enumerate(spec.rules):
        if rule.name in names:
            problems.append(Problem(path, f"rules[{i}].name: rule {rule.name!r} is defined twice", *doc.position(("rules", i, "name"))))
        names.add(rule.name)
        if rule.webhook is not None and rule.webhook not in spec.webhooks:
            known = ", ".join(sorted(spec.webhooks)) or "none defined"
            problems.append(Problem(path, f"rules[{i}].webhook: no webhook named {rule.webhook!r} (known: {known})",
                                    *doc.position(("rules", i, "webhook"))))
        for key in ("move_to", "enroll"):
            target = getattr(rule, key)
            if target is not None and sequences is not None and target not in sequences:
                problems.append(Problem(path, f"rules[{i}].{key}: no sequence named {target!r}",
                                        *doc.position(("rules", i, key))))
    return (None if problems else spec), problems
