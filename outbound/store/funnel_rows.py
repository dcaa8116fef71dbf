"""What the funnel report reads of each lead: its source and vendor, and how far it got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import col

from outbound.core import events as ev
from outbound.store.db import session_scope
from outbound.store.report_rows import replies_data
from outbound.store.tables import Event, Prospect


@dataclass(frozen=True)
class LeadFacts:
    prospect_id: int
    source: str | None
    vendor: str | None
    reached: frozenset[str]      # "contacted", "replied", "positive" and each stage event recorded
    account: str | None = None   # the company domain
    first: Mapping[str, datetime] = field(default_factory=dict)   # when each step was first reached


def lead_facts(engine: Engine, stages: Sequence[str], since: datetime | None = None) -> list[LeadFacts]:
    """Every prospect (a lead, whether mailed or not) with the funnel steps it reached (events since ``since``)."""
    with session_scope(engine) as s:
        people = [(int(i), src, ven, dom) for i, src, ven, dom in s.execute(
            select(col(Prospect.id), col(Prospect.source), col(Prospect.vendor), col(Prospect.company_domain)))]
        q = select(col(Event.prospect_id), col(Event.type), replies_data(), col(Event.at)).where(
            col(Event.prospect_id).is_not(None), col(Event.type).in_((ev.SENT, ev.REPLIED, *stages)))
        if since is not None:
            q = q.where(col(Event.at) >= since)
        first: dict[int, dict[str, datetime]] = {}
        for pid, kind, data, at in s.execute(q):
            steps = first.setdefault(int(pid), {})
            names = ["contacted"] if kind == ev.SENT else []
            if kind == ev.REPLIED:
                names += ["replied", *(["positive"] if (data or {}).get("positive") is True else [])]
            if kind in stages:
                names.append(kind)
            for name in names:
                if name not in steps or at < steps[name]:
                    steps[name] = at
    return [LeadFacts(pid, src, ven, frozenset(first.get(pid, {})), dom, first.get(pid, {}))
            for pid, src, ven, dom in people]
