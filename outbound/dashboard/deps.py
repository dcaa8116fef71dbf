"""What the dashboard is given by the composition root: the store, the clock, the login, and the
actions that live above it (answering a reply needs the engine's transport; the others are the
CLI's own functions)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine

from outbound.dashboard.figures import FiguresCache


@dataclass(frozen=True)
class MailboxView:
    """One sending mailbox as the Mailboxes page shows it."""

    address: str
    domain: str
    state: str                     # active | paused
    pause_reason: str | None
    sent_today: int
    cap_today: int
    warmup_day: int
    next_send_at: datetime | None
    auth: str                      # password | oauth2 | none
    token: str                     # connected | refresh failing | refused | never connected | "" (password)
    token_detail: str
    limits: str | None             # the provider's per-mailbox limits, in words


class Actions(Protocol):
    """Each returns what it did, in words, or raises ActionRefused saying why nothing was done."""

    def answer(self, reply_id: int, body: str, by: str) -> str: ...

    def set_intent(self, reply_id: int, intent: str, by: str) -> str: ...


class ActionRefused(Exception):
    """Shown to the person who clicked, as is: say why, and what to do."""


@dataclass
class DashboardDeps:
    engine: Engine
    secret: bytes                                   # the signing secret: sessions and CSRF tokens derive from it
    users: Mapping[str, str]                        # user -> password or its scrypt hash
    actions: Actions
    mailboxes: Callable[[], list[MailboxView]]
    clock: Callable[[], datetime]
    figures: FiguresCache
    session_hours: float = 12
    bounce_pause: float | None = None               # [health] max_bounce_rate: the bounce chart's line
    sequences: Sequence[str] = field(default_factory=tuple)
    intents: Sequence[str] = field(default_factory=tuple)
    secure_cookies: bool = False                    # set the cookie's Secure flag (behind TLS)
    db_threads: int = 4
