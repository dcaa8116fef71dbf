"""An IMAP folder's position: its UIDVALIDITY and the highest UID handled (the poller and the store share it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Watermark:
    uidvalidity: int
    last_uid: int
