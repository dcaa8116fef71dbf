"""Once-per-period jobs shared by several daemons: whoever moves the gate's ``last_run`` runs the job."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from outbound.store.db import session_scope
from outbound.store.tables import Gate


def pass_gate(engine: Engine, name: str, now: datetime, every: timedelta) -> bool:
    """True for exactly one caller per period, across processes (an atomic conditional UPDATE)."""
    with session_scope(engine) as session:
        result = session.execute(update(Gate).where(col(Gate.name) == name, col(Gate.last_run) <= now - every)
                                 .values(last_run=now))
        if getattr(result, "rowcount", 0):
            return True
        if session.get(Gate, name) is not None:
            return False
    try:  # first run ever: the row does not exist yet; the unique key lets only one insert win
        with session_scope(engine) as session:
            session.add(Gate(name=name, last_run=now))
        return True
    except IntegrityError:
        return False
