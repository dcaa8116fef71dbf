"""Operator commands that change state, through the rulebook like every other fact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from outbound.rulebook.decide import decide
from outbound.rulebook.facts import OperatorAccount, OperatorResume, OperatorSuppress
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply, change_senders

_CHUNK = 500  # values per decision: the enrollments they stop are found with one IN list


def resume_senders(engine: Engine, target: str, now: datetime) -> list[str]:
    """``outbound mailboxes resume ADDRESS|@DOMAIN``: the addresses resumed (each records ``mailbox_resumed``)."""
    effects = decide(OperatorResume(target, now))
    with session_scope(engine) as session:
        return [a for change in effects.senders for a in change_senders(session, change, now)]


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
