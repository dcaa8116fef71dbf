"""Mailbox pauses of the daemon's domain check, as the rulebook decides them (``outbound.health.job``
runs the check and words the reason)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine

from outbound.rulebook.decide import decide
from outbound.rulebook.facts import DomainCheck
from outbound.store.db import session_scope
from outbound.store.effects import change_senders


def apply_domain_checks(engine: Engine, checks: Iterable[DomainCheck], now: datetime) -> tuple[list[str], list[str]]:
    """(paused, resumed) addresses, in one transaction; each change records its event."""
    paused: list[str] = []
    resumed: list[str] = []
    with session_scope(engine) as session:
        for check in checks:
            for change in decide(check).senders:
                moved = change_senders(session, change, now)
                (paused if change.action == "pause" else resumed).extend(moved)
    return paused, resumed
