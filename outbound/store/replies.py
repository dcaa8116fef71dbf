"""Replies as a team works them: every ``replied`` event across mailboxes, its thread, and whether
it was handled (answered or marked done).

"Handled" is an event (``reply_handled``, keyed ``handled:{reply id}``): marking a reply twice, or
from two terminals at once, records one row (a conditional insert), and no schema change is needed.
An answer and a forward are events too (``reply_answered``, ``reply_forwarded``), so the thread and a
prospect's timeline read them as they read everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, String, cast, exists, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.effects import insert_once
from outbound.store.tables import Enrollment, Event, Prospect, Send

_EV = Event.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Reply:
    id: int
    at: datetime
    email: str
    name: str
    company: str | None
    mailbox: str | None
    sequence: str | None
    step: str | None
    step_index: int | None
    intent: str | None
    subject: str
    text: str
    message_id: str | None
    handled: str | None          # how it was handled (answered, done), None while open
    prospect_id: int | None
    enrollment_id: int | None
    data: dict[str, Any]


@dataclass(frozen=True)
class ThreadItem:
    at: datetime
    direction: str               # out (our step or answer) | in (their reply)
    mailbox: str | None
    subject: str
    text: str | None             # None for our steps: their bodies are not stored
    message_id: str | None
    what: str                    # "step <id>", "reply", "answer"


@dataclass(frozen=True)
class AnswerTarget:
    """What answering a reply in its thread needs."""

    reply: Reply
    to: str
    references: tuple[str, ...]  # the thread's Message-IDs, oldest first, ending with the reply's


def handled_key(reply_id: int) -> str:
    return f"handled:{reply_id}"


def _handled(session: Session, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    keys = [handled_key(i) for i in ids]
    for start in range(0, len(keys), 500):
        rows = session.exec(select(Event.dedupe_key, Event.data).where(
            col(Event.type) == ev.REPLY_HANDLED, col(Event.dedupe_key).in_(keys[start:start + 500])))
        for key, data in rows:
            out[int(str(key).split(":", 1)[1])] = str((data or {}).get("how") or "done")
    return out


def _name(p: Prospect) -> str:
    return " ".join(x for x in (p.first_name, p.last_name) if x)


def _reply(event: Event, prospect: Prospect | None, sequence: str | None, handled: str | None) -> Reply:
    assert event.id is not None
    data = dict(event.data or {})
    step_index = data.get("step_index")
    return Reply(event.id, event.at, prospect.email if prospect else str(data.get("from") or ""),
                 _name(prospect) if prospect else "", (prospect.company or prospect.company_domain) if prospect else None,
                 event.mailbox, sequence or data.get("sequence"), data.get("step"),
                 step_index if isinstance(step_index, int) else None, data.get("intent"),
                 str(data.get("subject") or ""), str(data.get("text") or ""), data.get("message_id"), handled,
                 event.prospect_id, event.enrollment_id, data)


def _query(session: Session, where: list[Any], limit: int | None = None) -> list[Reply]:
    query = (select(Event, Prospect, Enrollment.sequence_name)
             .join(Prospect, col(Prospect.id) == col(Event.prospect_id), isouter=True)
             .join(Enrollment, col(Enrollment.id) == col(Event.enrollment_id), isouter=True)
             .where(col(Event.type) == ev.REPLIED, *where).order_by(col(Event.at).desc(), col(Event.id).desc()))
    rows = list(session.exec(query if limit is None else query.limit(limit)))
    handled = _handled(session, [e.id for e, _, _ in rows if e.id is not None])
    return [_reply(e, p, s, handled.get(e.id or 0)) for e, p, s in rows]


def list_replies(engine: Engine, *, mailbox: str | None = None, since: datetime | None = None,
                 prospect_id: int | None = None, intent: str | None = None, open_only: bool = False,
                 limit: int | None = None) -> list[Reply]:
    """Replies, newest first: all of them, or the first ``limit`` of those with ``intent`` ("" picks those
    without one) that are still open when ``open_only``, filtered in SQL so a page of them stays cheap."""
    where: list[Any] = []
    if intent is not None:
        said = Event.data["intent"].as_string()
        where.append(or_(said.is_(None), said == "") if intent == "" else said == intent)
    if open_only:
        handled = aliased(Event)
        # handled_key(id), spelt in SQL
        where.append(~exists().where(col(handled.dedupe_key) == literal("handled:") + cast(col(Event.id), String)))
    if mailbox is not None:
        where.append(col(Event.mailbox) == mailbox.lower())
    if since is not None:
        where.append(col(Event.at) >= since)
    if prospect_id is not None:
        where.append(col(Event.prospect_id) == prospect_id)
    with session_scope(engine) as session:
        return _query(session, where, limit)


def get_reply(engine: Engine, reply_id: int) -> Reply | None:
    with session_scope(engine) as session:
        found = _query(session, [col(Event.id) == reply_id])
        return found[0] if found else None


def thread(engine: Engine, reply: Reply) -> list[ThreadItem]:
    """Our sends to the prospect in the reply's enrollment, their replies and our answers, in order."""
    items: list[ThreadItem] = []
    with session_scope(engine) as session:
        if reply.enrollment_id is not None:
            sends = session.exec(select(Send).where(col(Send.enrollment_id) == reply.enrollment_id,
                                                    col(Send.sent_at).is_not(None)))
            items += [ThreadItem(s.sent_at, "out", s.mailbox, s.subject or "", None, s.message_id,  # type: ignore[arg-type]
                                 f"step {s.step_id}") for s in sends]
            scope = col(Event.enrollment_id) == reply.enrollment_id
        else:
            scope = col(Event.id) == reply.id
        for e in session.exec(select(Event).where(col(Event.type) == ev.REPLIED, scope)):
            d = e.data or {}
            items.append(ThreadItem(e.at, "in", e.mailbox, str(d.get("subject") or ""), str(d.get("text") or ""),
                                    d.get("message_id"), "reply"))
        for e in session.exec(select(Event).where(col(Event.type) == ev.REPLY_ANSWERED, scope if reply.enrollment_id
                                                  is not None else col(Event.prospect_id) == reply.prospect_id)):
            d = e.data or {}
            items.append(ThreadItem(e.at, "out", e.mailbox, str(d.get("subject") or ""), str(d.get("text") or ""),
                                    d.get("message_id"), "answer"))
    return sorted(items, key=lambda i: i.at)


def answer_target(engine: Engine, reply: Reply) -> AnswerTarget:
    """Whom the answer goes to and the References it carries (the enrollment's thread so far)."""
    with session_scope(engine) as session:
        refs: list[str] = []
        if reply.enrollment_id is not None:
            enr = session.get(Enrollment, reply.enrollment_id)
            if enr is not None and enr.thread_references:
                refs = enr.thread_references.split()
        if reply.enrollment_id is not None:
            answered = session.exec(select(Event.data).where(col(Event.type) == ev.REPLY_ANSWERED,
                                                             col(Event.enrollment_id) == reply.enrollment_id)
                                    .order_by(col(Event.id)))
            refs += [str(d["message_id"]) for d in answered if d and d.get("message_id")]
    if reply.message_id:
        refs.append(reply.message_id)
    seen: set[str] = set()
    unique = [r for r in refs if not (r in seen or seen.add(r))]  # type: ignore[func-returns-value]
    return AnswerTarget(reply, reply.email, tuple(unique[-20:]))


def mark_handled(engine: Engine, reply: Reply, how: str, now: datetime, by: str = "cli") -> bool:
    """Records that the reply was handled; False when it was already."""
    with session_scope(engine) as session:
        return mark_handled_in(session, reply, how, now, by)


def mark_handled_in(session: Session, reply: Reply, how: str, now: datetime, by: str = "cli") -> bool:
    return insert_once(session, _EV, {"type": ev.REPLY_HANDLED, "at": now, "prospect_id": reply.prospect_id,
                                      "enrollment_id": reply.enrollment_id, "mailbox": reply.mailbox,
                                      "dedupe_key": handled_key(reply.id),
                                      "data": {"reply": reply.id, "how": how, "by": by}}, "dedupe_key")


def record_answer(engine: Engine, reply: Reply, message_id: str, subject: str, text: str, now: datetime,
                  by: str = "cli") -> None:
    """Our answer, sent: recorded in the thread, and the reply marked handled, in one transaction."""
    with session_scope(engine) as session:
        insert_once(session, _EV, {"type": ev.REPLY_ANSWERED, "at": now, "prospect_id": reply.prospect_id,
                                   "enrollment_id": reply.enrollment_id, "mailbox": reply.mailbox,
                                   "dedupe_key": f"answer:{message_id}",
                                   "data": {"reply": reply.id, "subject": subject, "message_id": message_id,
                                            "text": text[:4000], "in_reply_to": reply.message_id, "by": by}},
                    "dedupe_key")
        mark_handled_in(session, reply, "answered", now, by)


def reply_by_key(engine: Engine, dedupe_key: str) -> Reply | None:
    """The reply recorded under an inbound message's key (the poller's), if that message was a reply."""
    with session_scope(engine) as session:
        found = _query(session, [col(Event.dedupe_key) == dedupe_key])
        return found[0] if found else None
