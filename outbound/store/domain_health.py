"""Mailbox pauses of the daemon's domain check, as the rulebook decides them (``outbound.health.job``
runs the check and words the reason)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import DomainCheck
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply, change_senders
from outbound.store.tables import Event


def apply_domain_checks(engine: Engine, checks: Iterable[DomainCheck], now: datetime) -> tuple[list[str], list[str]]:
    """(paused, resumed) addresses, in one transaction; each change records its event."""
    paused: list[str] = []
    resumed: list[str] = []
    with session_scope(engine) as session:
        for check in checks:
            effects = decide(check)
            for change in effects.senders:
                moved = change_senders(session, change, now)
                (paused if change.action == "pause" else resumed).extend(moved)
            if effects.records:  # the check itself, with its findings
                apply(session, replace(effects, senders=()), Subject(), now)
    return paused, resumed


def latest_checks(engine: Engine, domains: Iterable[str]) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """Each domain's last recorded check: (when, its data: verdict, findings)."""
    wanted = set(domains)
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    with session_scope(engine) as session:
        rows = session.exec(select(Event.at, Event.data).where(col(Event.type) == ev.DOMAIN_CHECKED)
                            .order_by(col(Event.id).desc()).limit(max(50, 20 * len(wanted))))
        for at, data in rows:
            name = str((data or {}).get("domain"))
            if name in wanted and name not in found:
                found[name] = (at, dict(data))
    return found
