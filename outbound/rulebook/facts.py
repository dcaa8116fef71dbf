"""The facts that reach the engine, as plain values: one class per kind of fact.

Whatever path a fact came by (SMTP, DSN, reply, link, CRM, scoring rule, operator), it is one of
these, and :func:`outbound.rulebook.decide` alone says what it does. The store looks up what a
decision depends on (the send, how many bounced sends the address already has) and passes it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from outbound.core.bounces import Fault
from outbound.core.outcome import SendOutcome
from outbound.rulebook.retry import DEFAULT_POLICY, RetryPolicy

DEFAULT_STOP_ON = frozenset({"reply", "bounce", "unsubscribe", "complaint"})


@dataclass(frozen=True)
class Policy:
    """The settings an effect depends on: the send's sequence and the [inbox] / [sending] config."""

    stop_on: frozenset[str] = DEFAULT_STOP_ON
    stop_account_on_reply: bool = False
    soft_bounce_limit: int = 3
    auto_reply_pause: timedelta = timedelta(days=7)
    retry: RetryPolicy = DEFAULT_POLICY
    import_referrals: bool = False       # [inbox] import_referrals: a referred person becomes a prospect
    referral_sequence: str | None = None  # the sequence's referral_sequence: where such a prospect is enrolled


@dataclass(frozen=True)
class SendFacts:
    """What a decision needs of the send a fact is about."""

    send_id: int
    enrollment_id: int
    prospect_id: int
    mailbox: str
    to_address: str
    sequence: str
    step_id: str
    step_index: int
    attempts: int = 1
    state: str = "sent"                  # the send's state when the fact arrives
    message_id: str | None = None
    company_domain: str | None = None


@dataclass(frozen=True)
class SmtpResult:
    """One SMTP attempt that did not deliver (delivery itself is the hot path's own write)."""

    send: SendFacts
    outcome: SendOutcome
    at: datetime
    policy: Policy = Policy()
    soft_bounces: int = 0                # other sends to this address already bounced softly
    jitter: float = 0.5                  # a uniform draw in [0, 1) that spreads retries


@dataclass(frozen=True)
class Dsn:
    """A delivery status notification that reports a failure of one of our sends."""

    send: SendFacts
    hard: bool
    status: str | None
    reason: str | None
    at: datetime
    fault: Fault = "recipient"
    policy: Policy = Policy()
    soft_bounces: int = 0                # other sends to this address already bounced softly


@dataclass(frozen=True)
class AutoReply:
    send: SendFacts
    at: datetime
    until: datetime                      # when the enrollment may resume (from the stated return date)
    why: str                             # how ``until`` was chosen
    reason: str = "auto_reply"           # vacation, auto_reply, ...
    policy: Policy = Policy()
    intent: str | None = None            # left_company: "no longer with us" answered by a responder
    referral: tuple[str, str | None] | None = None  # (address, name) the responder points to
    company_domain: str | None = None


@dataclass(frozen=True)
class HumanReply:
    """A person wrote back: to one of our sends, or as recorded from a CRM (``send`` is None)."""

    at: datetime
    prospect_id: int
    send: SendFacts | None = None
    company_domain: str | None = None
    who: str = ""                        # the prospect's address, for reasons
    policy: Policy = Policy()
    via: str = "reply"                   # reply | crm | hand
    intent: str | None = None            # outbound.inbox.intent: interested, later, wrong_person, ...
    follow_up_on: date | None = None     # intent later: when to write again
    referral: tuple[str, str | None] | None = None  # (address, name) the reply points to


OptOutHow = Literal["link", "reply", "hand", "crm"]
ComplaintHow = Literal["arf", "crm", "hand"]


@dataclass(frozen=True)
class OptOut:
    """An unsubscribe, by one-click link, by reply, by hand or from a CRM."""

    address: str
    how: OptOutHow
    at: datetime
    prospect_id: int | None = None
    send: SendFacts | None = None
    also: tuple[str, ...] = ()           # further addresses to suppress (the replying address)
    mailbox: str | None = None           # the mailbox that last mailed the address
    matched: bool = True                 # False: a message tied to none of our sends, still honoured
    by: str | None = None                # who recorded it by hand (dashboard:<user>), in the event


@dataclass(frozen=True)
class Complaint:
    """A spam complaint: an ARF feedback report, or one recorded from a CRM or by hand."""

    address: str
    how: ComplaintHow
    at: datetime
    prospect_id: int | None = None
    send: SendFacts | None = None
    also: tuple[str, ...] = ()
    feedback: str | None = None          # the report's feedback type (abuse, ...)
    mailbox: str | None = None           # the mailbox the complaint counts against
    matched: bool = True                 # False: a report tied to none of our sends, still honoured


@dataclass(frozen=True)
class CrmOutcome:
    """qualified, meeting_booked, won, lost, ... recorded from a CRM or by hand: recorded, nothing stops."""

    type: str
    prospect_id: int
    at: datetime


@dataclass(frozen=True)
class Observed:
    """A delivery report, an unclassifiable message or one tied to no send: recorded, nothing else."""

    type: str


RuleKind = Literal["stop", "pause", "stop_account", "move", "enroll", "resume"]


@dataclass(frozen=True)
class RuleAction:
    """A scoring rule's decision that changes enrollments."""

    kind: RuleKind
    reason: str
    prospect_id: int
    at: datetime
    enrollment_id: int | None = None     # the triggering event's enrollment, when it names one
    pause_until: datetime | None = None  # None with kind pause: until resumed by hand
    account: str | None = None           # the company domain: stop_account, and a pause or resume of the account
    move_to: str | None = None           # move and enroll: the sequence
    keep_current: bool = True            # enroll: the prospect's other enrollments go on
    until_event: str | None = None       # pause: until this event arrives; resume: only the pauses awaiting it


@dataclass(frozen=True)
class OperatorResume:
    """``outbound mailboxes resume ADDRESS|@DOMAIN`` (or the dashboard's Resume button)."""

    target: str
    at: datetime
    by: str | None = None                # cli, dashboard:<user>: who, in the event


@dataclass(frozen=True)
class OperatorPause:
    """``outbound mailboxes pause ADDRESS|@DOMAIN`` (or the dashboard's Pause button): no sends until resumed."""

    target: str
    reason: str
    at: datetime
    by: str | None = None


@dataclass(frozen=True)
class OperatorProspect:
    """A person's enrollments stopped, paused or resumed by hand (``outbound prospects stop|pause|resume``,
    the dashboard's buttons)."""

    prospect_id: int
    action: Literal["stop", "pause", "resume"]
    reason: str
    at: datetime
    by: str | None = None


@dataclass(frozen=True)
class OperatorAccount:
    """``outbound accounts stop|resume DOMAIN``: stop every contact of a company, or lift the account's mark."""

    domain: str
    action: Literal["stop", "resume"]
    reason: str
    at: datetime


@dataclass(frozen=True)
class OperatorSuppress:
    """``outbound suppress ADDRESS|@DOMAIN ...`` or ``suppress import FILE``: never mail these again."""

    values: tuple[str, ...]              # addresses and '@domain's, normalised
    reason: str
    at: datetime


@dataclass(frozen=True)
class DomainCheck:
    """The daemon's DNS health check of one sending domain: a failure pauses the domain's mailboxes, a pass
    lifts only the pauses such a failure made (an operator's or another check's pause stays)."""

    domain: str
    mailboxes: tuple[str, ...]
    failure: str | None                  # the pause reason; None when the domain passes
    at: datetime
    report: Mapping[str, Any] | None = None  # the check's verdict and findings (with their fixes), recorded


@dataclass(frozen=True)
class MailboxHealthVerdict:
    """The mailbox health pass: a threshold crossed (bounce rate, complaint, repeated auth failures) pauses
    the mailbox; a timed health pause that ran out resumes it."""

    address: str
    action: Literal["pause", "resume"]
    reason: str
    at: datetime


@dataclass(frozen=True)
class SecretCheck:
    """Before a send tick claims: the password variables a mailbox's SMTP server names that are not set."""

    mailbox: str
    missing: tuple[str, ...]             # unset environment variables; empty when every one is set
    paused_for_it: bool                  # the mailbox is paused now because one was missing
    at: datetime


@dataclass(frozen=True)
class TokenRefused:
    """The OAuth2 server refused a mailbox's refresh token for good (``invalid_grant``: revoked, the
    password changed, consent withdrawn): no access token can be had until it is connected again."""

    mailbox: str
    error: str                           # the server's error and description (never a token)
    at: datetime
    source: str = "refresh"              # refresh | imap | service_account: the path that found it
    generation: int = 0                  # the stored token's generation (0: never connected): one record each


Fact = (SmtpResult | Dsn | AutoReply | HumanReply | OptOut | Complaint | CrmOutcome | Observed | RuleAction
        | OperatorResume | OperatorPause | OperatorProspect | OperatorAccount | OperatorSuppress | DomainCheck | MailboxHealthVerdict | SecretCheck | TokenRefused)


def return_pause(return_date: date | None, now: datetime, default: timedelta,
                 longest: timedelta = timedelta(days=90)) -> tuple[datetime, str]:
    """When an auto-replying prospect's enrollment may resume: the start of the stated return date
    (UTC), unless that is already past or implausibly far (a misread more likely than a
    sabbatical), then ``now + default``."""
    if return_date is not None:
        at = datetime.combine(return_date, time(0, 0), tzinfo=UTC)
        if now < at <= now + longest:
            return at, f"back on {return_date.isoformat()}"
        return now + default, f"stated return {return_date.isoformat()} ignored (past or too far); default pause"
    return now + default, "no return date stated; default pause"
