"""Mailbox rows: the daily cap counter (moved at claim time), gaps, pauses and their reasons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, and_, case, func, literal, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from outbound.core.mailbox import MailboxUsage
from outbound.spec.workspace import Workspace
from outbound.store.db import session_scope
from outbound.store.tables import MailboxState, Send, SendState

# Sends that used a slot of the mailbox's hour (a refused RCPT counts: the provider saw it).
_COUNTED = (SendState.claimed, SendState.sending, SendState.sent, SendState.unknown, SendState.bounced)


def day_of(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def sync(engine: Engine, workspace: Workspace) -> None:
    """Creates a row for every mailbox of the workspace (rows of removed mailboxes are kept, rows
    already there keep their state). Race-free: daemons starting together all insert every row."""
    rows = [{"address": address, "domain": domain.domain} for address, (domain, _) in workspace.mailboxes().items()]
    with session_scope(engine) as session:
        insert_missing(session, rows)


def insert_missing(session: Session, rows: list[dict[str, str]]) -> None:
    """INSERT ... ON CONFLICT (address) DO NOTHING (SQLite and PostgreSQL both have it): one
    statement, so a daemon inserting the same mailbox meanwhile causes no unique-key error, as a
    read then an insert would; rows already there are left as they are."""
    if rows:
        insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
        session.execute(insert(_MAILBOXES).on_conflict_do_nothing(index_elements=["address"]), rows)


def lock(session: Session, addresses: list[str], workspace: Workspace, *, for_update: bool) -> dict[str, MailboxState]:
    """The rows of these mailboxes, locked in address order (no deadlock between daemons)."""
    query = select(MailboxState).where(col(MailboxState.address).in_(addresses)).order_by(col(MailboxState.address))
    if for_update:
        query = query.with_for_update()
    rows = {r.address: r for r in session.exec(query)}
    missing = [a for a in addresses if a not in rows]
    if missing:  # mailboxes added since the daemon started (another daemon may be adding them too)
        mailboxes = workspace.mailboxes()
        insert_missing(session, [{"address": a, "domain": mailboxes[a][0].domain} for a in missing])
        rows.update((r.address, r) for r in session.exec(query.where(col(MailboxState.address).in_(missing))))
    return rows


def usage(row: MailboxState, now: datetime, hourly: dict[str, int]) -> MailboxUsage:
    today = day_of(now)
    if row.last_send_day == today:
        sent_today, sending_day = row.sent_on_last_day, max(0, row.send_days - 1)
    else:
        sent_today, sending_day = 0, row.send_days
    return MailboxUsage(address=row.address, domain=row.domain, sent_today=sent_today, sending_day=sending_day,
                        last_send_at=row.last_send_at, next_allowed_at=row.next_allowed_at,
                        sent_last_hour_by_domain=hourly, paused=row.state == "paused",
                        pause_reason=row.pause_reason or "")


def count_claims(row: MailboxState, now: datetime, count: int, next_allowed_at: datetime | None) -> None:
    """``count`` claims at ``now`` take slots of today's cap (each given back by ``release`` if
    nothing went out); the claim sets each mailbox's row once, however many it claimed."""
    today = day_of(now)
    if row.last_send_day != today:
        row.send_days += 1
        row.last_send_day = today
        row.sent_on_last_day = 0
    row.sent_on_last_day += count
    row.last_send_at = now
    row.next_allowed_at = next_allowed_at


_MAILBOXES = MailboxState.__table__  # type: ignore[attr-defined]


def release(session: Session, address: str, claimed_at: datetime) -> None:
    """Gives back the cap slot of a claim that sent nothing (same day only).

    One atomic UPDATE, not a read then a write: a claim in another daemon may move the same
    counter meanwhile, and a read-modify-write here would overwrite its increment.
    """
    m = _MAILBOXES
    at = literal(claimed_at, type_=m.c.last_send_at.type)
    session.connection().execute(update(m).where(m.c.address == address).values(
        sent_on_last_day=case((and_(m.c.last_send_day == day_of(claimed_at), m.c.sent_on_last_day > 0),
                               m.c.sent_on_last_day - 1), else_=m.c.sent_on_last_day),
        # nothing went out, so there is no gap to keep after this claim
        next_allowed_at=case((m.c.last_send_at == at, at), else_=m.c.next_allowed_at)))


def sent_last_hour_by_domain(session: Session, addresses: list[str], now: datetime) -> dict[str, dict[str, int]]:
    if not addresses:
        return {}
    rows = session.exec(select(Send.mailbox, Send.to_domain, func.count()).where(
        col(Send.mailbox).in_(addresses), col(Send.claimed_at) > now - timedelta(hours=1),
        col(Send.state).in_(_COUNTED)).group_by(col(Send.mailbox), col(Send.to_domain)))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for mailbox, domain, n in rows:
        out[mailbox][domain] = int(n)
    return out


def all_states(engine: Engine) -> list[MailboxState]:
    with session_scope(engine) as session:
        return list(session.exec(select(MailboxState).order_by(col(MailboxState.address))))


def sent_on(row: MailboxState, day: date) -> int:
    return row.sent_on_last_day if row.last_send_day == day.isoformat() else 0


def take_slot(engine: Engine, address: str, workspace: Workspace, now: datetime,
              refuse: Callable[[MailboxUsage], str | None]) -> str | None:
    """One slot of the mailbox's daily cap for a message sent by hand (an answer), under the row lock
    the claim takes, so it counts against the same cap; the reason ``refuse`` gives instead, if any."""
    with session_scope(engine) as session:
        row = lock(session, [address], workspace, for_update=engine.dialect.name == "postgresql")[address]
        why = refuse(usage(row, now, {}))
        if why is None:
            count_claims(row, now, 1, row.next_allowed_at)
            session.add(row)
        return why


def give_back(engine: Engine, address: str, taken_at: datetime) -> None:
    """The slot of ``take_slot`` back, when nothing went out."""
    with session_scope(engine) as session:
        release(session, address, taken_at)
