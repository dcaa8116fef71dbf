"""What the inbox needs of the store: candidate sends for a message, the prospect, one transaction.

One message is one transaction: the event (keyed by the message's ``dedupe_key``, the Message-ID or
the bytes' hash) is recorded in it, so a message seen again (a UIDVALIDITY rescan, the same mail in
INBOX and Junk, two mailboxes on one thread) records nothing twice and changes nothing twice. What a
message does is the rulebook's decision (``outbound.inbox.handling`` asks it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from outbound.core.sends import Found, Lookup, SendRef
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Event, Prospect, Send

# ---------------------------------------------------------------- lookups

def _ref(send: Send) -> SendRef:
    assert send.id is not None
    return SendRef(send.id, send.enrollment_id, send.prospect_id, send.mailbox, send.to_address, send.message_id,
                   send.sequence_name, send.step_id, send.step_index, send.sent_at)


def find_candidates(session: Session, lookup: Lookup, per_address: int = 20) -> Found:
    by_id: dict[str, SendRef] = {}
    if lookup.message_ids:
        for send in session.exec(select(Send).where(col(Send.message_id).in_(list(lookup.message_ids)))):
            by_id[send.message_id or ""] = _ref(send)
    by_recipient: dict[str, list[SendRef]] = defaultdict(list)
    for address in lookup.recipients[:20]:
        rows = session.exec(select(Send).where(col(Send.to_address) == address, col(Send.message_id).is_not(None))
                            .order_by(col(Send.id).desc()).limit(per_address))
        by_recipient[address] = [_ref(s) for s in rows]
    by_sender: list[SendRef] = []
    if lookup.sender:
        rows = session.exec(select(Send).join(Enrollment, col(Enrollment.id) == col(Send.enrollment_id))
                            .join(Prospect, col(Prospect.id) == col(Send.prospect_id))
                            .where(col(Prospect.email) == lookup.sender, col(Send.message_id).is_not(None),
                                   col(Enrollment.state).in_([EnrollmentState.active, EnrollmentState.paused]))
                            .order_by(col(Send.id).desc()).limit(per_address))
        by_sender = [_ref(s) for s in rows]
    return Found(by_id, dict(by_recipient), tuple(by_sender))


# ---------------------------------------------------------------- the transaction

T = TypeVar("T")


def once(engine: Engine, key: str, work: Callable[[Session], T]) -> T | None:
    """Runs ``work`` in one transaction; None when another worker recorded ``key`` meanwhile.

    Any other conflict propagates, so the poller keeps its watermark and the message comes round again.
    """
    try:
        with session_scope(engine) as session:
            return work(session)
    except IntegrityError:
        with session_scope(engine) as session:
            if seen(session, key) is None:
                raise
        return None


def seen(session: Session, key: str) -> tuple[str, int | None] | None:
    """The type and send of the event already recorded under ``key``, if any."""
    row = session.exec(select(Event.type, Event.send_id).where(col(Event.dedupe_key) == key)).first()
    return None if row is None else (row[0], row[1])


def prospect_of(session: Session, prospect_id: int) -> tuple[str, str | None] | None:
    """The prospect's address and company domain."""
    p = session.get(Prospect, prospect_id)
    return None if p is None else (p.email, p.company_domain)
