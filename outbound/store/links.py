"""What the link server writes (``outbound.web`` calls these): unsubscribes, opens and clicks, each in one transaction, each once.

Every row has a natural unique key (the suppressed value, the event's ``dedupe_key``) and is
written with ``INSERT ... ON CONFLICT DO NOTHING``, so racing requests for the same address write
it once without errors. SQLite serialises writers with ``BEGIN IMMEDIATE`` and a busy timeout;
a transaction that still fails on a lock or a conflict is run again, a few times.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import OptOut
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply, insert_once
from outbound.store.tables import Event, Prospect, Send

_EVENTS = Event.__table__  # type: ignore[attr-defined]

log = logging.getLogger("outbound.web")
_ATTEMPTS = 4
T = TypeVar("T")


class FetchVerdict(Protocol):
    """Whether a machine (a link scanner, a mail proxy) made a request, and why we think so."""

    @property
    def machine(self) -> bool: ...

    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class Recorded:
    """The outcome of one request: whether it wrote something new, and what."""

    new: bool
    reason: str
    send: SendInfo | None = None


@dataclass(frozen=True)
class SendInfo:
    id: int
    prospect_id: int
    enrollment_id: int
    mailbox: str
    to_address: str
    sequence_name: str
    sent_at: datetime | None


def _retrying(engine: Engine, work: Callable[[Session], T]) -> T:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with session_scope(engine) as session:
                return work(session)
        except (IntegrityError, OperationalError) as exc:
            # a concurrent request inserted the same key first (or PostgreSQL gave up on a lock): run again
            if attempt == _ATTEMPTS:
                raise
            log.debug("retrying a link write after %s", type(exc.orig).__name__)
    raise AssertionError("unreachable")


def _send_info(session: Session, send_id: int | str) -> SendInfo | None:
    if isinstance(send_id, str):
        if not send_id.isdigit():
            return None
        send_id = int(send_id)
    send = session.get(Send, send_id)
    if send is None or send.id is None:
        return None
    return SendInfo(send.id, send.prospect_id, send.enrollment_id, send.mailbox, send.to_address,
                    send.sequence_name, send.sent_at)


def find_send(engine: Engine, send_id: int | str) -> SendInfo | None:
    with session_scope(engine) as session:
        return _send_info(session, send_id)


def _event(session: Session, values: dict[str, object]) -> bool:
    return insert_once(session, _EVENTS, values, "dedupe_key")


def record_unsubscribe(engine: Engine, send_id: int | str, address: str, now: datetime, *, via: str) -> Recorded:
    """Suppresses ``address`` everywhere and stops every live enrollment of its prospect, once, as the
    rulebook decides for an opt-out by link. A repeated request writes nothing new."""
    email = address.strip().lower()

    def work(session: Session) -> Recorded:
        send = _send_info(session, send_id)
        if send is not None and send.to_address.strip().lower() != email:
            send = None  # the token names the address; a send to someone else is not evidence
        prospect_id = send.prospect_id if send else session.scalar(
            select(col(Prospect.id)).where(col(Prospect.email) == email))
        effects = decide(OptOut(email, "link", now, prospect_id, mailbox=send.mailbox if send else None))
        subject = Subject(prospect_id=prospect_id, enrollment_id=send.enrollment_id if send else None,
                          send_id=send.id if send else None, mailbox=send.mailbox if send else None)
        applied = apply(session, effects, subject, now, key=f"unsubscribe-link:{email}",
                        extra={"via": via, "sequence": send.sequence_name if send else None})
        stopped = applied.moved
        if not (applied.recorded or stopped or applied.suppressed):
            return Recorded(False, "already unsubscribed", send)
        return Recorded(True, f"unsubscribed; {stopped} enrollment(s) stopped", send)

    return _retrying(engine, work)


def _about(send: SendInfo, kind: str, now: datetime, key: str) -> dict[str, object]:
    return {"type": kind, "at": now, "prospect_id": send.prospect_id, "enrollment_id": send.enrollment_id,
            "send_id": send.id, "mailbox": send.mailbox, "dedupe_key": key}


def _fetch_data(verdict: FetchVerdict, user_agent: str | None) -> dict[str, object]:
    return {"machine": verdict.machine, "why": verdict.reason, "user_agent": (user_agent or "")[:300]}


def record_open(engine: Engine, send: SendInfo, verdict: FetchVerdict, now: datetime,
                user_agent: str | None) -> Recorded:
    """One ``opened`` event per send for people and one for machines (the first of each)."""
    key = f"open:{send.id}:{'machine' if verdict.machine else 'person'}"

    def work(session: Session) -> Recorded:
        if not _event(session, {**_about(send, ev.OPENED, now, key),
                                "data": {**_fetch_data(verdict, user_agent), "sequence": send.sequence_name}}):
            return Recorded(False, "open already recorded", send)
        return Recorded(True, "open recorded", send)

    return _retrying(engine, work)


def record_click(engine: Engine, send: SendInfo, url: str, verdict: FetchVerdict, now: datetime,
                 user_agent: str | None) -> Recorded:
    """One ``clicked`` event per send, link and kind of clicker (person or machine)."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    key = f"click:{send.id}:{digest}:{'machine' if verdict.machine else 'person'}"

    def work(session: Session) -> Recorded:
        if not _event(session, {**_about(send, ev.CLICKED, now, key),
                                "data": {**_fetch_data(verdict, user_agent), "url": url[:2000],
                                         "sequence": send.sequence_name}}):
            return Recorded(False, "click already recorded", send)
        return Recorded(True, "click recorded", send)

    return _retrying(engine, work)
