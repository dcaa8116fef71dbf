"""One person at a glance (`outbound prospects show`) and the people list (`outbound prospects list`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.tables import Account, Enrollment, Event, Prospect, Score, Send


@dataclass(frozen=True)
class EnrollmentView:
    id: int
    sequence: str
    state: str
    reason: str | None
    next_step: int
    next_due_at: datetime | None
    mailbox: str | None
    last_sent_at: datetime | None


@dataclass(frozen=True)
class TimelineItem:
    id: int
    at: datetime
    type: str
    sequence: str | None
    mailbox: str | None
    subject: str | None          # sends: the subject sent; replies: theirs
    data: dict[str, Any]


@dataclass(frozen=True)
class Person:
    prospect: Prospect
    account: Account | None
    enrollments: list[EnrollmentView]
    timeline: list[TimelineItem]
    score: float | None
    scored_at: datetime | None


@dataclass(frozen=True)
class PersonRow:
    email: str
    name: str
    company: str | None
    source: str | None
    hot: bool
    score: float | None
    enrollments: list[tuple[str, str]]  # (sequence, state)


def _enrollment(e: Enrollment) -> EnrollmentView:
    assert e.id is not None
    return EnrollmentView(e.id, e.sequence_name, e.state, e.reason, e.next_step, e.next_due_at, e.mailbox,
                          e.last_sent_at)


def _score(session: Session, prospect_id: int) -> Score | None:
    return session.exec(select(Score).where(col(Score.subject_kind) == "prospect",
                                            col(Score.subject) == str(prospect_id))).first()


def person(engine: Engine, email: str) -> Person | None:
    with session_scope(engine) as session:
        p = session.exec(select(Prospect).where(col(Prospect.email) == email.strip().lower())).first()
        if p is None or p.id is None:
            return None
        account = (session.exec(select(Account).where(col(Account.domain) == p.company_domain)).first()
                   if p.company_domain else None)
        enrollments = [_enrollment(e) for e in session.exec(
            select(Enrollment).where(col(Enrollment.prospect_id) == p.id).order_by(col(Enrollment.id)))]
        subjects = {s.id: (s.subject, s.sequence_name) for s in session.exec(
            select(Send).where(col(Send.prospect_id) == p.id))}
        sequences = {e.id: e.sequence for e in enrollments}
        timeline = []
        for e in session.exec(select(Event).where(col(Event.prospect_id) == p.id).order_by(col(Event.at), col(Event.id))):
            assert e.id is not None
            data = dict(e.data or {})
            sent = subjects.get(e.send_id) if e.send_id is not None else None
            subject = data.get("subject") if e.type != ev.SENT else None
            sequence = data.get("sequence") or (sent[1] if sent else None) or sequences.get(e.enrollment_id or 0)
            timeline.append(TimelineItem(e.id, e.at, e.type, sequence, e.mailbox,
                                         (sent[0] if sent and e.type == ev.SENT else subject), data))
        score = _score(session, p.id)
        session.expunge(p)
        if account is not None:
            session.expunge(account)
        return Person(p, account, enrollments, timeline, score.score if score else None,
                      score.updated_at if score else None)


def people(engine: Engine, *, sequence: str | None = None, state: str | None = None, hot: bool = False,
           limit: int | None = None, search: str | None = None, account: str | None = None) -> list[PersonRow]:
    """Prospects (with an enrollment in ``sequence`` / in ``state`` when given; whose address, name or
    company contains ``search``; of the company domain ``account``), by address."""
    with session_scope(engine) as session:
        query = select(Prospect).order_by(col(Prospect.email))
        if search and search.strip():
            term = search.strip().lower()
            query = query.where(or_(*(func.lower(c).contains(term, autoescape=True) for c in (
                col(Prospect.email), col(Prospect.first_name), col(Prospect.last_name), col(Prospect.company)))))
        if account:
            query = query.where(col(Prospect.company_domain) == account.strip().lower())
        if sequence is not None or state is not None:
            sub = select(Enrollment.prospect_id)
            if sequence is not None:
                sub = sub.where(col(Enrollment.sequence_name) == sequence)
            if state is not None:
                sub = sub.where(col(Enrollment.state) == state)
            query = query.where(col(Prospect.id).in_(sub))
        if hot:
            query = query.where(col(Prospect.hot).is_(True))
        if limit is not None:
            query = query.limit(limit)
        rows = list(session.exec(query))
        ids = [p.id for p in rows if p.id is not None]
        enrolled: dict[int, list[tuple[str, str]]] = defaultdict(list)
        scores: dict[str, float] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for pid, seq, st in session.exec(select(Enrollment.prospect_id, Enrollment.sequence_name, Enrollment.state)
                                             .where(col(Enrollment.prospect_id).in_(chunk))
                                             .order_by(col(Enrollment.id))):
                enrolled[pid].append((seq, st))
            for subject, value in session.exec(select(Score.subject, Score.score).where(
                    col(Score.subject_kind) == "prospect", col(Score.subject).in_([str(i) for i in chunk]))):
                scores[subject] = value
        return [PersonRow(p.email, " ".join(x for x in (p.first_name, p.last_name) if x),
                          p.company or p.company_domain, p.source, p.hot, scores.get(str(p.id)),
                          enrolled.get(p.id or 0, [])) for p in rows]
