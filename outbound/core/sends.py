"""What matching and the rulebook see of our sends: the store's answers to an inbound lookup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SendRef:
    """What matching and the effects need of a send row."""

    send_id: int
    enrollment_id: int
    prospect_id: int
    mailbox: str
    to_address: str
    message_id: str | None
    sequence_name: str
    step_id: str
    step_index: int
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Lookup:
    """What the store must look up for one message."""

    message_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    sender: str | None


@dataclass(frozen=True)
class Found:
    by_message_id: Mapping[str, SendRef] = field(default_factory=dict)
    """Our sends whose Message-ID is among ``Lookup.message_ids``."""
    by_recipient: Mapping[str, Sequence[SendRef]] = field(default_factory=dict)
    """Recent sends to each failed recipient."""
    by_sender: Sequence[SendRef] = ()
    """Sends of the active/paused enrollments of the prospect whose address is the sender's."""
