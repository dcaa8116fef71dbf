"""Operator commands that change state, through the rulebook like every other fact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from outbound.rulebook.decide import decide
from outbound.rulebook.facts import OperatorResume
from outbound.store.db import session_scope
from outbound.store.effects import change_senders


def resume_senders(engine: Engine, target: str, now: datetime) -> list[str]:
    """``outbound mailboxes resume ADDRESS|@DOMAIN``: the addresses resumed (each records ``mailbox_resumed``)."""
    effects = decide(OperatorResume(target, now))
    with session_scope(engine) as session:
        return [a for change in effects.senders for a in change_senders(session, change, now)]
