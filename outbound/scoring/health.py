"""Mailbox and domain health from the events: bounce rate, complaints, repeated auth failures.

Called before the send tick claims, so a mailbox that crossed a threshold sends nothing more.
A resume (``outbound mailboxes resume`` or ``resume_after``) forgives the evidence seen so far.
The engine pauses a mailbox on its first SMTP auth failure itself; auth failures on several
mailboxes of one domain within the window pause the whole domain (its server or credentials).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, case, distinct, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from outbound.config import HealthSettings
from outbound.core import events as ev
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.scoring_tables import MailboxHealth
from outbound.store.tables import Event, MailboxState, Send

_TYPES = (ev.SENT, ev.BOUNCED, ev.COMPLAINED, ev.MAILBOX_PAUSED, ev.SEND_FAILED)
_AUTH = "auth failure"  # how the engine's own pause reason for an SMTP auth failure begins


@dataclass(frozen=True)
class HealthDecision:
    address: str
    action: str          # pause | resume
    kind: str            # bounce_rate | complaint | auth | domain_auth | timer
    reason: str


@dataclass(frozen=True)
class _Evidence:
    attempts: int                # distinct sends sent or bounced (a bounce at RCPT has no sent event)
    bounced: int                 # distinct sends bounced (two DSNs for one send count once)
    complaints: int
    last_complaint: int | None   # the newest complaint's event id
    auth_failures: int


def mailbox_health_pass(engine: Engine, now: datetime, settings: HealthSettings) -> list[HealthDecision]:
    with session_scope(engine) as session:
        _create_missing(session)
        boxes = {m.address: m for m in session.scalars(select(MailboxState).order_by(col(MailboxState.address)))}
        health = {h.address: h for h in session.scalars(select(MailboxHealth))}
        if not boxes.keys() <= health.keys():  # a mailbox another daemon synced since the INSERT above
            _create_missing(session)
            health = {h.address: h for h in session.scalars(select(MailboxHealth))}
        out = _resumes(session, boxes, health, now)
        evidence = _evidence(session, now, settings)
        for address, reason, kind in _verdicts(boxes, evidence, settings):
            if mailbox_store.pause(session, address, reason, now):
                h = health[address]
                h.paused_by_health, h.pause_kind, h.paused_at = True, kind, now
                h.resume_at = now + settings.resume_after if settings.resume_after else None
                session.add(Event(type=ev.MAILBOX_PAUSED, at=now, mailbox=address, data={"reason": reason, "by": "health"}))
                out.append(HealthDecision(address, "pause", kind, reason))
        for address, h in health.items():
            box = boxes.get(address)
            h.seen_paused = box is not None and box.state == "paused"
        return out


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


def _resumes(session: Session, boxes: dict[str, MailboxState], health: dict[str, MailboxHealth],
             now: datetime) -> list[HealthDecision]:
    out: list[HealthDecision] = []
    for address, box in boxes.items():
        h = health[address]
        timed = box.state == "paused" and h.paused_by_health and h.resume_at is not None and h.resume_at <= now
        if timed:
            reason = f"resumed automatically after the health pause ({box.pause_reason})"
            box.state, box.pause_reason, box.paused_at = "active", None, None
            session.add(Event(type=ev.MAILBOX_RESUMED, at=now, mailbox=address, data={"reason": reason, "by": "health"}))
            out.append(HealthDecision(address, "resume", "timer", reason))
        if box.state == "active" and (h.seen_paused or timed):
            h.ignore_before = now  # whoever resumed it fixed the cause (credentials, list quality)
            h.paused_by_health, h.pause_kind, h.resume_at = False, None, None
    return out


def _evidence(session: Session, now: datetime, settings: HealthSettings) -> dict[str, _Evidence]:
    """Per-mailbox counts of the window, in one GROUP BY (nothing per event comes back to Python).

    An event without a mailbox is tied to one through its send; evidence up to a mailbox's
    ``ignore_before`` is forgiven. A send counts once however many sent or bounced events it has
    (a bounce we cannot tie to a send still counts once, keyed by its own event id).
    """
    session.flush()  # the join below must see the ignore_before that _resumes just set
    kind, data, at = col(Event.type), col(Event.data), col(Event.at)
    own = func.nullif(col(Event.mailbox), "")
    mailbox = func.coalesce(own, col(Send.mailbox))
    key = func.coalesce(col(Event.send_id), -col(Event.id))
    auth = or_(and_(kind == ev.SEND_FAILED, data["outcome"].as_string() == "auth_failure"),
               and_(kind == ev.MAILBOX_PAUSED, func.substr(data["reason"].as_string(), 1, len(_AUTH)) == _AUTH))
    ignore_before = col(MailboxHealth.ignore_before)
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
        .where(kind.in_(_TYPES), at > now - settings.bounce_window, at <= now,
               or_(ignore_before.is_(None), at > ignore_before))
        .group_by(mailbox))
    return {str(address): _Evidence(int(attempts), int(bounced), int(complaints),
                                    None if last is None else int(last), int(auth_failures))
            for address, attempts, bounced, complaints, last, auth_failures in session.execute(query)
            if address}


def _verdicts(boxes: dict[str, MailboxState], evidence: dict[str, _Evidence],
              s: HealthSettings) -> list[tuple[str, str, str]]:
    """(address, reason, kind) for every active mailbox that must be paused."""
    out: dict[str, tuple[str, str]] = {}
    window = f"{s.bounce_window.total_seconds() / 86400:g}d"
    failing_by_domain: dict[str, list[str]] = defaultdict(list)
    for address, e in sorted(evidence.items()):
        if e.auth_failures:
            domain = boxes[address].domain if address in boxes else address.rsplit("@", 1)[-1]
            failing_by_domain[domain].append(address)
        if address not in boxes or boxes[address].state != "active":
            continue
        if s.pause_on_complaint and e.complaints:
            out[address] = (f"spam complaint received (event {e.last_complaint}; {e.complaints} in the last {window})",
                            "complaint")
        elif e.attempts >= s.min_sends and e.bounced / e.attempts > s.max_bounce_rate:
            out[address] = (f"bounce rate {e.bounced / e.attempts:.1%} ({e.bounced} of {e.attempts} sends in the "
                            f"last {window}) is above {s.max_bounce_rate:.1%}", "bounce_rate")
        elif e.auth_failures >= s.auth_failures:
            out[address] = (f"SMTP authentication failed {e.auth_failures} times in the last {window}", "auth")
    for domain, failing in failing_by_domain.items():
        if len(failing) < s.auth_failure_mailboxes:
            continue
        reason = (f"SMTP authentication failed on {len(failing)} mailboxes of {domain} in the last {window} "
                  f"({', '.join(failing)}): every mailbox of the domain is paused")
        for address, box in boxes.items():
            if box.domain == domain and box.state == "active" and address not in out:
                out[address] = (reason, "domain_auth")
    return [(a, r, k) for a, (r, k) in sorted(out.items())]
