"""IMAP poll state in the database: per-folder watermarks and per-mailbox poll leases.

:class:`DbWatermarkStore` implements the poller's ``WatermarkStore`` protocol on the
``imap_watermarks`` table; the poller advances it after each handled message, so a restart
resumes where the last daemon stopped. Leases (``mailboxes.lease_owner``) let several daemons
share the mailboxes: each polls only those it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, or_, update
from sqlmodel import col, select

from outbound.core.watermark import Watermark
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import ImapWatermark, MailboxState


class DbWatermarkStore:
    """The poller's WatermarkStore on the database (sync engine, run off the event loop)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    async def get(self, mailbox: str, folder: str) -> Watermark | None:
        return await asyncio.to_thread(get_watermark, self.engine, mailbox, folder)

    async def set(self, mailbox: str, folder: str, watermark: Watermark) -> None:
        await asyncio.to_thread(set_watermark, self.engine, mailbox, folder, watermark, self.clock())


def get_watermark(engine: Engine, mailbox: str, folder: str) -> Watermark | None:
    with session_scope(engine) as session:
        row = session.get(ImapWatermark, (mailbox, folder))
        return None if row is None else Watermark(row.uidvalidity, row.last_uid)


def set_watermark(engine: Engine, mailbox: str, folder: str, watermark: Watermark, now: datetime) -> None:
    # one poller per mailbox (the lease) writes these rows, so read-then-write cannot race
    with session_scope(engine) as session:
        row = session.get(ImapWatermark, (mailbox, folder))
        if row is None:
            session.add(ImapWatermark(mailbox=mailbox, folder=folder, uidvalidity=watermark.uidvalidity,
                                      last_uid=watermark.last_uid, updated_at=now))
        else:
            row.uidvalidity, row.last_uid, row.updated_at = watermark.uidvalidity, watermark.last_uid, now


def acquire_poll_leases(engine: Engine, addresses: list[str], worker: str, now: datetime,
                        until: datetime) -> list[str]:
    """The addresses this worker may poll until ``until``: free, expired or already its own leases.
    A mailbox with no state row yet (not synced) is polled without a lease."""
    if not addresses:
        return []
    with session_scope(engine) as session:
        known = set(session.scalars(select(col(MailboxState.address)).where(col(MailboxState.address).in_(addresses))))
        taken: list[str] = []
        for address in addresses:
            if address not in known:
                taken.append(address)
                continue
            # one conditional UPDATE per row: two daemons cannot both win it
            result = session.execute(update(MailboxState).where(
                col(MailboxState.address) == address,
                or_(col(MailboxState.lease_owner).is_(None), col(MailboxState.lease_owner) == worker,
                    col(MailboxState.lease_until).is_(None), col(MailboxState.lease_until) < now),
            ).values(lease_owner=worker, lease_until=until))
            if getattr(result, "rowcount", 0):
                taken.append(address)
        return taken


def release_poll_leases(engine: Engine, addresses: list[str], worker: str) -> None:
    if not addresses:
        return
    with session_scope(engine) as session:
        session.execute(update(MailboxState).where(
            col(MailboxState.address).in_(addresses), col(MailboxState.lease_owner) == worker,
        ).values(lease_owner=None, lease_until=None))
