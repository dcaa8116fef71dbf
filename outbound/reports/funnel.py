"""The funnel by lead source or vendor: contacted -> replied -> positive -> each stage (mql, sql, ...),
the conversion between steps with its Wilson 95 % interval, and the cost per step. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any, Protocol

from outbound.reports.stats import wilson

FIRST_STEPS = ("contacted", "replied", "positive")


class Lead(Protocol):
    @property
    def source(self) -> str | None: ...
    @property
    def vendor(self) -> str | None: ...
    @property
    def reached(self) -> frozenset[str]: ...
    @property
    def account(self) -> str | None: ...
    @property
    def first(self) -> Mapping[str, datetime]: ...


@dataclass(frozen=True)
class Step:
    name: str
    count: int                       # leads that reached it
    converted: int                   # of the previous step's leads, those that reached this one
    of: int                          # the previous step's leads (all leads for "contacted")
    cost: float | None               # the group's spend per lead reaching it
    median_days: float | None = None  # from the first send to reaching it, over the leads that did

    @property
    def rate(self) -> float | None:
        return self.converted / self.of if self.of else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.converted, self.of)

    def as_json(self) -> dict[str, Any]:
        ci = self.interval
        return {"step": self.name, "count": self.count, "converted": self.converted, "of": self.of,
                "rate": self.rate, "ci_low": None if ci is None else ci[0], "ci_high": None if ci is None else ci[1],
                "cost": self.cost, "median_days": self.median_days}


@dataclass
class FunnelRow:
    group: str
    leads: int
    cost_per_lead: float | None
    steps: list[Step] = field(default_factory=list)

    def cost_of(self, step: str) -> float | None:
        return next((s.cost for s in self.steps if s.name == step), None)

    def as_json(self) -> dict[str, Any]:
        return {"group": self.group, "leads": self.leads, "cost_per_lead": self.cost_per_lead,
                "spend": None if self.cost_per_lead is None else self.cost_per_lead * self.leads,
                "steps": [s.as_json() for s in self.steps]}


def funnel(leads: Iterable[Lead], by: str, costs: Mapping[str, float | None], stages: Sequence[str]) -> list[FunnelRow]:
    """One row per source (or vendor, or account), ranked by the cost per SQL (the last stage when ``sql``
    is not one), cheapest first, unknown costs last."""
    names = (*FIRST_STEPS, *stages)
    groups: dict[str, list[Lead]] = defaultdict(list)
    for lead in leads:
        groups[{"vendor": lead.vendor, "account": lead.account}.get(by, lead.source) or "(none)"].append(lead)
    rows: list[FunnelRow] = []
    for group, mine in groups.items():
        cpl = costs.get(group)
        spend = None if cpl is None else cpl * len(mine)
        row = FunnelRow(group, len(mine), cpl)
        previous: list[Lead] = mine
        for name in names:
            now = [lead for lead in mine if name in lead.reached]
            row.steps.append(Step(name, len(now), sum(1 for lead in previous if name in lead.reached), len(previous),
                                  None if spend is None or not now else spend / len(now), _median_days(now, name)))
            previous = now
        rows.append(row)
    last = "sql" if "sql" in names else names[-1]
    return sorted(rows, key=lambda r: (r.cost_of(last) is None, r.cost_of(last) or 0.0, r.group))


def _median_days(leads: list[Lead], step: str) -> float | None:
    if step == "contacted":
        return None
    days = [(lead.first[step] - lead.first["contacted"]).total_seconds() / 86400 for lead in leads
            if step in lead.first and "contacted" in lead.first]
    return median(days) if days else None
