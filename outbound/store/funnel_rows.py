"""What the funnel report reads of each lead: its source and vendor, and how far it got."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import col

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.tables import Event, Prospect


@dataclass(frozen=True)
class LeadFacts:
    prospect_id: int
    source: str | None
    vendor: str | None
    reached: frozenset[str]      # "contacted", "replied", "positive" and each stage event recorded


def lead_facts(engine: Engine, stages: Sequence[str], since: datetime | None = None) -> list[LeadFacts]:
    """Every prospect (a lead, whether mailed or not) with the funnel steps it reached (events since ``since``)."""
    with session_scope(engine) as s:
        people = [(int(i), src, ven) for i, src, ven in s.execute(
            select(col(Prospect.id), col(Prospect.source), col(Prospect.vendor)))]
        q = select(col(Event.prospect_id), col(Event.type), col(Event.data)).where(
            col(Event.prospect_id).is_not(None), col(Event.type).in_((ev.SENT, ev.REPLIED, *stages)))
        if since is not None:
            q = q.where(col(Event.at) >= since)
        reached: dict[int, set[str]] = {}
        for pid, kind, data in s.execute(q):
            steps = reached.setdefault(int(pid), set())
            if kind == ev.SENT:
                steps.add("contacted")
            elif kind == ev.REPLIED:
                steps.add("replied")
                if (data or {}).get("positive") is True:
                    steps.add("positive")
            if kind in stages:
                steps.add(kind)
    return [LeadFacts(pid, src, ven, frozenset(reached.get(pid, ()))) for pid, src, ven in people]
