"""The verdict on one inbound message."""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass, field
from typing import Literal

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
    """One recipient of a bounce or delivery report, with its own status and reason."""

    address: str
    status: str | None
    reason: str
    hard: bool


@dataclass(frozen=True)
class Classification:
    """What an inbound message is, and what the matcher needs to tie it to our send.

    ``reason`` is one of the bounce reasons listed in :mod:`outbound.inbox.reasons`, or for other
    kinds: ``feedback``/``opt_out`` (complaint), ``vacation``/``auto_reply`` (auto_reply),
    ``unsubscribe_request`` (unsubscribe), ``reply`` (human_reply), ``delivered``/``delayed``
    (delivery_report), ``unrecognised``/``unparseable`` (other).
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

    def as_json(self) -> dict[str, object]:
        """The CLI's JSON fields (without the file name)."""
        return {
            "kind": self.kind,
            "recipients": list(self.recipients),
            "status": self.status,
            "reason": self.reason,
            "return_date": self.return_date.isoformat() if self.return_date else None,
        }
