"""Operator commands that change state, through the rulebook like every other fact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from outbound.rulebook.decide import decide
from outbound.rulebook.facts import (
    OperatorAccount,
    OperatorPause,
    OperatorProspect,
    OperatorResume,
    OperatorSuppress,
    OptOut,
)
from outbound.store.db import session_scope
from outbound.store.effects import Applied, Subject, apply, change_senders
from outbound.store.tables import Enrollment, Prospect

_CHUNK = 500  # values per decision: the enrollments they stop are found with one IN list


def resume_senders(engine: Engine, target: str, now: datetime, by: str | None = None) -> list[str]:
    """``outbound mailboxes resume ADDRESS|@DOMAIN``: the addresses resumed (each records ``mailbox_resumed``)."""
    effects = decide(OperatorResume(target, now, by))
    with session_scope(engine) as session:
        return [a for change in effects.senders for a in change_senders(session, change, now)]


def pause_senders(engine: Engine, target: str, reason: str, now: datetime, by: str | None = None) -> list[str]:
    """``outbound mailboxes pause ADDRESS|@DOMAIN``: the addresses paused (each records ``mailbox_paused``).
    A domain reaches the mailboxes the daemon has synced; a mailbox is paused even before its first sync."""
    effects = decide(OperatorPause(target, reason, now, by))
    with session_scope(engine) as session:
        return [a for change in effects.senders for a in change_senders(session, change, now)]


@dataclass(frozen=True)
class PersonChanged:
    email: str
    outcome: str
    moved: int        # enrollments that changed state
    actions: list[str]


class UnknownProspect(LookupError):
    """No prospect has that address."""


def _prospect_id(session: Session, email: str) -> tuple[int, str, str | None]:
    row = session.exec(select(Prospect).where(col(Prospect.email) == email.strip().lower())).first()
    if row is None or row.id is None:
        raise UnknownProspect(f"no prospect {email.strip()!r}")
    return row.id, row.email, row.company_domain


def change_prospect(engine: Engine, email: str, action: Literal["stop", "pause", "resume"], reason: str,
                    now: datetime, by: str | None = None) -> PersonChanged:
    """``outbound prospects stop|pause|resume EMAIL``: every live enrollment of the person; records ``operator_action``."""
    with session_scope(engine) as session:
        pid, address, domain = _prospect_id(session, email)
        done = apply(session, decide(OperatorProspect(pid, action, reason, now, by)),
                     Subject(prospect_id=pid, company_domain=domain), now)
    return _changed(address, done)


def unsubscribe_by_hand(engine: Engine, email: str, now: datetime, by: str | None = None) -> PersonChanged:
    """The person asked (by phone, in a meeting, in the dashboard): the opt-out any path records, by hand."""
    with session_scope(engine) as session:
        pid, address, domain = _prospect_id(session, email)
        mailbox = session.exec(select(Enrollment.mailbox).where(col(Enrollment.prospect_id) == pid,
                                                                col(Enrollment.mailbox).is_not(None))
                               .order_by(col(Enrollment.last_sent_at).desc().nulls_last())).first()
        done = apply(session, decide(OptOut(address, "hand", now, pid, mailbox=mailbox, by=by)),
                     Subject(prospect_id=pid, company_domain=domain, mailbox=mailbox), now, key=f"hand:{address}:unsubscribed")
    return _changed(address, done)


def _changed(address: str, done: Applied) -> PersonChanged:
    return PersonChanged(address, done.outcome, done.moved, done.actions)


@dataclass(frozen=True)
class SuppressedByHand:
    added: int       # new suppression entries
    stopped: int     # live enrollments stopped


def suppress_by_hand(engine: Engine, values: Iterable[str], reason: str, now: datetime) -> SuppressedByHand:
    """``outbound suppress`` and ``suppress import``: the entries, and every live enrollment they reach
    stopped at once, in one transaction."""
    wanted = sorted({v.strip().lower() for v in values if v and v.strip()})
    added = stopped = 0
    with session_scope(engine) as session:
        for start in range(0, len(wanted), _CHUNK):
            done = apply(session, decide(OperatorSuppress(tuple(wanted[start:start + _CHUNK]), reason, now)),
                         Subject(), now)
            added, stopped = added + done.suppressed, stopped + done.moved
    return SuppressedByHand(added, stopped)


def change_account(engine: Engine, domain: str, action: str, reason: str, now: datetime) -> int:
    """``outbound accounts stop|resume DOMAIN``: the live enrollments stopped (none for a resume)."""
    fact = OperatorAccount(domain, "stop" if action == "stop" else "resume", reason, now)
    with session_scope(engine) as session:
        return apply(session, decide(fact), Subject(company_domain=fact.domain.strip().lower()), now).moved
