"""The rows and counts of the mailbox health pass (``outbound.scoring.health`` decides, this reads and writes).

Every function takes the pass's session: one pass is one transaction. Evidence is counted in one
GROUP BY; nothing per event comes back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, case, distinct, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from outbound.core import events as ev
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import MailboxHealthVerdict
from outbound.store.effects import change_senders
from outbound.store.scoring_tables import MailboxHealth
from outbound.store.tables import Event, MailboxState, Send

_TYPES = (ev.SENT, ev.BOUNCED, ev.COMPLAINED, ev.MAILBOX_PAUSED, ev.SEND_FAILED)
AUTH_PAUSE = "auth failure"  # how the engine's own pause reason for an SMTP auth failure begins


@dataclass(frozen=True)
class Evidence:
    attempts: int                # distinct sends sent or bounced (a bounce at RCPT has no sent event)
    bounced: int                 # distinct sends bounced (two DSNs for one send count once)
    complaints: int
    last_complaint: int | None   # the newest complaint's event id
    auth_failures: int


def health_rows(session: Session) -> tuple[dict[str, MailboxState], dict[str, MailboxHealth]]:
    """Every mailbox row (by address) and its health row, created first where missing."""
    _create_missing(session)
    boxes = {m.address: m for m in session.scalars(select(MailboxState).order_by(col(MailboxState.address)))}
    health = {h.address: h for h in session.scalars(select(MailboxHealth))}
    if not boxes.keys() <= health.keys():  # a mailbox another daemon synced since the INSERT above
        _create_missing(session)
        health = {h.address: h for h in session.scalars(select(MailboxHealth))}
    return boxes, health


def _create_missing(session: Session) -> None:
    """Inserts the missing mailbox_health rows in one INSERT ... SELECT ... ON CONFLICT DO NOTHING.

    Two first passes at once both go through: a row the other daemon inserted first makes ours
    wait for its commit and then do nothing. It runs before the pass reads anything, so what the
    pass then reads (mailboxes and health rows alike) already includes a racer's committed pass.
    """
    table = MailboxHealth.__table__  # type: ignore[attr-defined]
    have = select(col(MailboxHealth.address))
    missing = (select(col(MailboxState.address), false(), false())
               .where(col(MailboxState.address).not_in(have))
               .order_by(col(MailboxState.address)))  # racers meet their rows in one order
    names = ["address", "seen_paused", "paused_by_health"]
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sqlite_insert(table).from_select(names, missing).on_conflict_do_nothing(index_elements=["address"]))
    else:
        session.execute(pg_insert(table).from_select(names, missing).on_conflict_do_nothing(index_elements=["address"]))


def _verdict(session: Session, address: str, action: Literal["pause", "resume"], reason: str, now: datetime) -> bool:
    """Applies the rulebook's decision on one mailbox; True when it moved. The pass's loaded row is
    expired, so what it reads next (``remember_states``) is the row as written."""
    moved = [a for change in decide(MailboxHealthVerdict(address, action, reason, now)).senders
             for a in change_senders(session, change, now)]
    box = session.get(MailboxState, address)
    if box is not None:
        session.expire(box, ["state", "pause_reason", "paused_at"])
    return bool(moved)


def resume_by_timer(session: Session, box: MailboxState, reason: str, now: datetime) -> None:
    _verdict(session, box.address, "resume", reason, now)


def forgive(health: MailboxHealth, now: datetime) -> None:
    """Whoever resumed the mailbox fixed the cause (credentials, list quality): older evidence is not counted."""
    health.ignore_before = now
    health.paused_by_health, health.pause_kind, health.resume_at = False, None, None


def pause_for_health(session: Session, health: MailboxHealth, reason: str, kind: str, now: datetime,
                     resume_at: datetime | None) -> bool:
    """Pauses the mailbox for this reason (False if it was paused already) and records the pause."""
    if not _verdict(session, health.address, "pause", reason, now):
        return False
    health.paused_by_health, health.pause_kind, health.paused_at, health.resume_at = True, kind, now, resume_at
    return True


def remember_states(boxes: dict[str, MailboxState], health: dict[str, MailboxHealth]) -> None:
    """What the next pass compares against: paused now, so active then means someone resumed it."""
    for address, h in health.items():
        box = boxes.get(address)
        h.seen_paused = box is not None and box.state == "paused"


def evidence(session: Session, now: datetime, window: timedelta) -> dict[str, Evidence]:
    """Per-mailbox counts of the window, in one GROUP BY.

    An event without a mailbox is tied to one through its send. Forgiven, because whoever resumed
    the mailbox fixed the cause: evidence up to a mailbox's ``ignore_before``; every event recorded
    before its latest ``mailbox_resumed``; and, for a mailbox that is active now, every event up to
    its latest ``mailbox_paused`` (it was resumed since, by whatever path, recorded or not). Events
    are compared by id, so what came before a resume is forgiven whatever the clocks of the daemons
    and commands said. A send counts once however many sent or bounced events it has (a bounce we
    cannot tie to a send still counts once, keyed by its own event id).
    """
    session.flush()  # the join below must see the ignore_before set in this pass
    kind, data, at = col(Event.type), col(Event.data), col(Event.at)
    own = func.nullif(col(Event.mailbox), "")
    mailbox = func.coalesce(own, col(Send.mailbox))
    key = func.coalesce(col(Event.send_id), -col(Event.id))
    auth = or_(and_(kind == ev.SEND_FAILED, data["outcome"].as_string() == "auth_failure"),
               and_(kind == ev.MAILBOX_PAUSED, func.substr(data["reason"].as_string(), 1, len(AUTH_PAUSE)) == AUTH_PAUSE))
    ignore_before = col(MailboxHealth.ignore_before)
    # the latest pause and resume of each mailbox: few rows, read through ix_events_type
    marks = (select(col(Event.mailbox).label("mailbox"),
                    func.max(case((kind == ev.MAILBOX_PAUSED, col(Event.id)), else_=0)).label("paused"),
                    func.max(case((kind == ev.MAILBOX_RESUMED, col(Event.id)), else_=0)).label("resumed"))
             .where(kind.in_((ev.MAILBOX_PAUSED, ev.MAILBOX_RESUMED))).group_by(col(Event.mailbox)).subquery())
    active = col(MailboxState.state) == "active"
    forgiven_to = case((and_(active, marks.c.paused > marks.c.resumed), marks.c.paused), else_=marks.c.resumed)
    query = (
        select(mailbox,
               func.count(distinct(case((kind.in_((ev.SENT, ev.BOUNCED)), key)))),
               func.count(distinct(case((kind == ev.BOUNCED, key)))),
               func.count(case((kind == ev.COMPLAINED, 1))),
               func.max(case((kind == ev.COMPLAINED, col(Event.id)))),
               func.count(case((auth, 1))))
        .select_from(Event)
        .outerjoin(Send, and_(own.is_(None), col(Send.id) == col(Event.send_id)))
        .outerjoin(MailboxHealth, col(MailboxHealth.address) == mailbox)
        .outerjoin(marks, marks.c.mailbox == mailbox)
        .outerjoin(MailboxState, col(MailboxState.address) == mailbox)
        .where(kind.in_(_TYPES), at > now - window, at <= now,
               or_(ignore_before.is_(None), at > ignore_before),
               or_(marks.c.mailbox.is_(None), col(Event.id) > forgiven_to))
        .group_by(mailbox))
    return {str(address): Evidence(int(attempts), int(bounced), int(complaints),
                                   None if last is None else int(last), int(auth_failures))
            for address, attempts, bounced, complaints, last, auth_failures in session.execute(query)
            if address}
