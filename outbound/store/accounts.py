"""Accounts as ``outbound accounts list/show`` sees them: a company domain's contacts and how far each got."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, distinct, func, select
from sqlmodel import col

from outbound.core import events as ev
from outbound.prospects.seniority import DEPARTMENTS, LEVELS, department, seniority
from outbound.store.db import session_scope
from outbound.store.tables import Account, Enrollment, Event, Prospect


@dataclass(frozen=True)
class AccountRow:
    domain: str
    contacts: int
    reached: int                 # contacts mailed at least once
    replied: int                 # contacts who replied
    stopped_reason: str | None


@dataclass(frozen=True)
class Contact:
    email: str
    name: str
    title: str | None
    seniority: str
    department: str
    enrollments: tuple[tuple[str, str], ...]     # (sequence, state)
    sent: int
    engaged: bool                # opened or clicked (a person, never a machine's fetch)
    replied: bool
    hot: bool


@dataclass
class AccountDetail:
    domain: str
    stopped_reason: str | None
    contacts: list[Contact] = field(default_factory=list)

    def coverage(self, by: str = "seniority") -> dict[str, dict[str, int]]:
        """Per seniority (or department): how many contacts, and how many of them were reached, engaged, replied."""
        out = {k: {"contacts": 0, "reached": 0, "engaged": 0, "replied": 0}
               for k in (LEVELS if by == "seniority" else DEPARTMENTS)}
        for c in self.contacts:
            row = out[c.seniority if by == "seniority" else c.department]
            row["contacts"] += 1
            row["reached"] += c.sent > 0
            row["engaged"] += c.engaged
            row["replied"] += c.replied
        return out


def _stopped(session: Any, domains: list[str] | None = None) -> dict[str, str | None]:
    q = select(col(Account.domain), col(Account.stopped_reason))
    if domains is not None:
        q = q.where(col(Account.domain).in_(domains))
    return {str(d): r for d, r in session.execute(q)}


def list_accounts(engine: Engine) -> list[AccountRow]:
    """Every company domain with prospects, or with an account row (a stop), by domain."""
    with session_scope(engine) as s:
        contacts = {str(d): int(n) for d, n in s.execute(select(col(Prospect.company_domain), func.count()).where(
            col(Prospect.company_domain).is_not(None)).group_by(col(Prospect.company_domain)))}

        def reached_by(kind: str) -> dict[str, int]:
            q = (select(col(Prospect.company_domain), func.count(distinct(col(Event.prospect_id))))
                 .join(Prospect, col(Prospect.id) == col(Event.prospect_id))
                 .where(col(Event.type) == kind, col(Prospect.company_domain).is_not(None))
                 .group_by(col(Prospect.company_domain)))
            return {str(d): int(n) for d, n in s.execute(q)}

        sent, replied = reached_by(ev.SENT), reached_by(ev.REPLIED)
        stopped = _stopped(s)
    domains = sorted(set(contacts) | set(stopped))
    return [AccountRow(d, int(contacts.get(d, 0)), sent.get(d, 0), replied.get(d, 0), stopped.get(d)) for d in domains]


def account_detail(engine: Engine, domain: str) -> AccountDetail | None:
    """The account's contacts (most senior first), or None when no prospect nor account has the domain."""
    domain = domain.strip().lower().lstrip("@")
    with session_scope(engine) as s:
        people = list(s.execute(select(Prospect).where(col(Prospect.company_domain) == domain)).scalars())
        stopped = _stopped(s, [domain])
        if not people and domain not in stopped:
            return None
        ids = [p.id for p in people if p.id is not None]
        enrollments: dict[int, list[tuple[str, str]]] = {}
        for pid, seq, state in s.execute(select(col(Enrollment.prospect_id), col(Enrollment.sequence_name),
                                                col(Enrollment.state)).where(col(Enrollment.prospect_id).in_(ids))
                                         .order_by(col(Enrollment.id))):
            enrollments.setdefault(int(pid), []).append((str(seq), str(state)))
        sent: dict[int, int] = {}
        engaged: set[int] = set()
        replied: set[int] = set()
        for pid, kind, data in s.execute(select(col(Event.prospect_id), col(Event.type), col(Event.data)).where(
                col(Event.prospect_id).in_(ids), col(Event.type).in_((ev.SENT, ev.OPENED, ev.CLICKED, ev.REPLIED)))):
            if kind == ev.SENT:
                sent[pid] = sent.get(pid, 0) + 1
            elif kind == ev.REPLIED:
                replied.add(pid)
            elif not (data or {}).get("machine"):
                engaged.add(pid)
        contacts = [Contact(p.email, " ".join(x for x in (p.first_name, p.last_name) if x), p.title,
                            seniority(p.title), department(p.title), tuple(enrollments.get(p.id or 0, [])), sent.get(p.id or 0, 0),
                            (p.id in engaged), (p.id in replied), p.hot) for p in people]
    contacts.sort(key=lambda c: (LEVELS.index(c.seniority), c.email))
    return AccountDetail(domain, stopped.get(domain), contacts)
