"""What a decision does, as values: the store applies an :class:`Effects` in one transaction.

Each part carries the reason that the CLI, ``status`` and the events show verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# Which enrollments a change reaches: the one the fact is about, every live one of its prospect,
# every live one at the prospect's company domain, or every live one of a prospect whose address (or its
# domain) the same decision suppresses.
Reach = Literal["enrollment", "prospect", "account", "suppressed"]
# stop: for good; pause: until a time (None: until resumed by hand); advance: the step is done (a
# soft bounce that does not stop moves on, never resent); due: the step is due again at ``at``;
# block: needs a person (gave up); hold: paused until the truth of a send is known (unknown);
# resume: a paused one goes on (never one held for an unknown outcome)
EnrollmentAction = Literal["stop", "pause", "advance", "due", "block", "hold", "release_hold", "resume"]
SendState = Literal["bounced", "retry", "failed", "unknown"]
SenderScope = Literal["mailbox", "domain"]


@dataclass(frozen=True)
class EnrollmentChange:
    action: EnrollmentAction
    reach: Reach
    reason: str
    at: datetime | None = None          # pause until / due at
    extend_only: bool = False           # a pause only ever moves later (a second auto-reply)
    keep_sequence: str | None = None    # this sequence's enrollment is left alone (a move into it)
    only_reason_prefix: str | None = None  # resume: only a pause whose reason begins so


@dataclass(frozen=True)
class SendChange:
    state: SendState
    error: str
    not_before: datetime | None = None
    release_slot: bool = False          # nothing left the machine: the cap slot is given back
    only_if_sent: bool = False          # a DSN marks a send bounced only if it was recorded as sent


@dataclass(frozen=True)
class Suppress:
    values: tuple[str, ...]             # addresses, or '@domain'
    reason: str


@dataclass(frozen=True)
class SenderChange:
    action: Literal["pause", "resume"]
    scope: SenderScope
    target: str                         # the mailbox address, or the domain
    reason: str
    only_reason_prefix: str | None = None  # resume: only a pause whose reason begins so (the pauser's own)
    by: str | None = None               # who decided, in the event (health, ...)


@dataclass(frozen=True)
class StopAccount:
    domain: str
    reason: str
    lift: bool = False                  # the account's stop is lifted (its stopped enrollments stay stopped)


@dataclass(frozen=True)
class AddReferral:
    """A person a reply points to becomes a prospect of the same account, enrolled once."""

    email: str
    name: str | None
    company_domain: str | None
    sequence: str
    reason: str


@dataclass(frozen=True)
class Record:
    """An event to write; the store fills prospect, enrollment, send and mailbox from the subject."""

    type: str
    data: Mapping[str, object]
    key: str | None = None              # the dedupe key (None: an operator's or sender's note, never deduplicated)
    mailbox: str | None = None          # the mailbox the event is about, when not the send's
    at: datetime | None = None          # when it happened, when not now (a CRM row's own time)


@dataclass(frozen=True)
class Effects:
    outcome: str                                     # one word for logs and summaries
    send: SendChange | None = None
    enrollments: tuple[EnrollmentChange, ...] = ()
    suppress: Suppress | None = None
    senders: tuple[SenderChange, ...] = ()
    account: StopAccount | None = None
    records: tuple[Record, ...] = field(default=())
    referral: AddReferral | None = None

    def describe(self) -> list[str]:
        """The effects in words, one line each (the rulebook table and ``--explain``)."""
        out: list[str] = []
        if self.send is not None:
            out.append(f"send -> {self.send.state}" + (" (cap slot given back)" if self.send.release_slot else ""))
        out += [f"{c.action} {c.reach}: {c.reason}" for c in self.enrollments]
        if self.suppress is not None:
            out.append(f"suppress {', '.join(self.suppress.values)}: {self.suppress.reason}")
        out += [f"{s.action} {s.scope} {s.target}: {s.reason}" for s in self.senders]
        if self.account is not None:
            word = "lift the stop of account" if self.account.lift else "stop account"
            out.append(f"{word} {self.account.domain}: {self.account.reason}")
        if self.referral is not None:
            out.append(f"add prospect {self.referral.email} to {self.referral.sequence}: {self.referral.reason}")
        out += [f"record {r.type}" for r in self.records]
        return out
