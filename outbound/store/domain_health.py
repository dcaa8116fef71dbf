"""Mailbox pauses of the daemon's domain check: a failing domain's mailboxes paused, its own pauses lifted
once the domain passes again (``outbound.health.job`` runs the check and says why)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.tables import Event, MailboxState

PAUSE_PREFIX = "domain health check failed: "
"""How this check's pause reasons begin: only those pauses are lifted by a passing check."""


@dataclass(frozen=True)
class DomainVerdict:
    domain: str
    mailboxes: list[str]
    failure: str | None  # the pause reason (beginning with PAUSE_PREFIX); None when the domain passes


def apply_domain_verdicts(engine: Engine, verdicts: Iterable[DomainVerdict], now: datetime) -> tuple[list[str], list[str]]:
    """(paused, resumed) addresses, in one transaction; each change records its event."""
    paused: list[str] = []
    resumed: list[str] = []
    with session_scope(engine) as session:
        for verdict in verdicts:
            rows = {r.address: r for r in session.exec(select(MailboxState).where(
                col(MailboxState.address).in_(verdict.mailboxes)))}
            for address in verdict.mailboxes:
                row = rows.get(address)
                if row is None:
                    row = MailboxState(address=address, domain=verdict.domain)
                    session.add(row)
                if verdict.failure is not None and row.state != "paused":
                    row.state, row.pause_reason, row.paused_at = "paused", verdict.failure, now
                    session.add(Event(type=ev.MAILBOX_PAUSED, at=now, mailbox=address, data={"reason": verdict.failure}))
                    paused.append(address)
                elif (verdict.failure is None and row.state == "paused"
                      and (row.pause_reason or "").startswith(PAUSE_PREFIX)):
                    row.state, row.pause_reason, row.paused_at = "active", None, None
                    session.add(Event(type=ev.MAILBOX_RESUMED, at=now, mailbox=address,
                                      data={"reason": "domain health check passes again"}))
                    resumed.append(address)
    return paused, resumed
