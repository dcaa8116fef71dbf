"""The verdict on one inbound message."""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass, field
from typing import Literal

from outbound.core.bounces import Fault

Kind = Literal[
    "hard_bounce",
    "soft_bounce",
    "auto_reply",
    "human_reply",
    "unsubscribe",
    "complaint",
    "delivery_report",
    "other",
]

KINDS: tuple[Kind, ...] = typing.get_args(Kind)


@dataclass(frozen=True)
class RecipientResult:
    """One recipient of a bounce or delivery report, with its own status, reason and (for a failure) fault."""

    address: str
    status: str | None
    reason: str
    hard: bool
    fault: Fault | None = None


@dataclass(frozen=True)
class Classification:
    """What an inbound message is, and what the matcher needs to tie it to our send.

    ``reason`` is one of the bounce reasons listed in :mod:`outbound.core.bounces`, and ``fault``
    (bounces only) whose fault it is: ``recipient``, ``mailbox``, ``domain`` or ``transient``; a
    soft bounce with a ``mailbox`` or ``domain`` fault (5.7.26, relay denied...) is our sender's
    problem, not the prospect's. For other kinds ``reason`` is: ``feedback``/``opt_out``
    (complaint), ``vacation``/``auto_reply`` (auto_reply), ``unsubscribe_request`` (unsubscribe),
    ``reply`` (human_reply), ``delivered``/``delayed`` (delivery_report), ``unrecognised``/``unparseable``
    (other).
    ``why`` says in words which rule decided.
    """

    kind: Kind
    recipients: tuple[str, ...] = ()
    status: str | None = None
    reason: str | None = None
    return_date: dt.date | None = None
    reply_text: str | None = None
    original_message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    per_recipient: tuple[RecipientResult, ...] = field(default=())
    why: str = ""
    fault: Fault | None = None
    intent: str | None = None            # human and auto-replies, unsubscribe requests (outbound.inbox.intent)
    referral: dict[str, str | None] | None = None   # {"email", "name"} of the person the reply points to
    follow_up_on: dt.date | None = None  # intent "later": when to write again

    def as_json(self) -> dict[str, object]:
        """The CLI's JSON fields (without the file name)."""
        return {
            "kind": self.kind,
            "recipients": list(self.recipients),
            "status": self.status,
            "reason": self.reason,
            "fault": self.fault,
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "intent": self.intent,
            "referral": self.referral,
            "follow_up_on": self.follow_up_on.isoformat() if self.follow_up_on else None,
        }
