"""What the store counts of a mailbox's sending, as rotation and the caps read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class MailboxUsage:
    """A mailbox's sending so far, as counted by the store for the mailbox's current day."""

    address: str
    domain: str
    sent_today: int = 0
    sending_day: int = 0  # distinct earlier days on which it sent (0 on its first day)
    last_send_at: datetime | None = None
    next_allowed_at: datetime | None = None  # last send + the random gap drawn then
    sent_last_hour_by_domain: Mapping[str, int] = field(default_factory=dict)  # lower-case recipient domains
    paused: bool = False
    pause_reason: str = ""
