"""Report figures from the events: each outcome is tied to the send it answers, then grouped.

An event names its send when it can (``send_id``); a reply or unsubscribe that does not is tied to
the latest earlier send of its enrollment (or prospect). Rates count sends, each outcome once per send.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlmodel import col

from outbound.core import events as ev
from outbound.reports.stats import ZTest, two_proportion_z
from outbound.store.db import session_scope
from outbound.store.tables import Event, Prospect, Send

GROUPS = ("sequence", "step", "variant", "source", "domain", "mailbox")
QUALIFYING = (ev.QUALIFIED, ev.MEETING_BOOKED, ev.WON)
_TYPES = (ev.SENT, ev.BOUNCED, ev.REPLIED, ev.UNSUBSCRIBED, *QUALIFYING)


@dataclass
class Metrics:
    sent: int = 0
    bounced: int = 0
    replied: int = 0
    positive: int = 0
    unsubscribed: int = 0

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    def rate(self, n: int, of: int) -> float | None:
        return None if of <= 0 else n / of

    def as_json(self) -> dict[str, float | int | None]:
        return {"sent": self.sent, "delivered": self.delivered, "bounced": self.bounced, "replied": self.replied,
                "positive": self.positive, "unsubscribed": self.unsubscribed,
                "bounce_rate": self.rate(self.bounced, self.sent), "reply_rate": self.rate(self.replied, self.delivered),
                "positive_rate": self.rate(self.positive, self.delivered),
                "unsubscribe_rate": self.rate(self.unsubscribed, self.delivered)}


@dataclass
class SourceRow:
    source: str
    prospects: int
    contacted: int
    qualified: int
    cost_per_lead: float | None

    @property
    def qualified_share(self) -> float | None:
        return None if not self.prospects else self.qualified / self.prospects

    @property
    def cost_per_qualified(self) -> float | None:
        if self.cost_per_lead is None or not self.qualified:
            return None
        return self.cost_per_lead * self.prospects / self.qualified


@dataclass
class VariantRow:
    step: str            # sequence/step
    variant: str
    baseline: str
    metrics: Metrics
    test: ZTest | None


@dataclass
class SendFacts:
    send_id: int
    prospect_id: int
    sequence: str
    step: str
    variant: str | None
    mailbox: str
    source: str | None
    day: str | None = None            # UTC day of the attempt
    attempted: bool = False
    bounced: bool = False
    replied: bool = False
    positive: bool = False
    unsubscribed: bool = False


@dataclass
class Facts:
    sends: dict[int, SendFacts] = field(default_factory=dict)
    qualified: set[int] = field(default_factory=set)          # prospect ids
    prospects_by_source: dict[str, int] = field(default_factory=dict)

    def attempted(self) -> list[SendFacts]:
        return [s for s in self.sends.values() if s.attempted]


def load_facts(engine: Engine, since: datetime | None = None) -> Facts:
    facts = Facts()
    with session_scope(engine) as session:
        query = select(col(Event.type), col(Event.at), col(Event.prospect_id), col(Event.enrollment_id), col(Event.send_id), col(Event.data)).where(
            col(Event.type).in_(_TYPES))
        if since is not None:
            query = query.where(col(Event.at) >= since)
        events = list(session.execute(query.order_by(col(Event.id))))
        sources = {int(i): s for i, s in session.execute(select(col(Prospect.id), col(Prospect.source)))}
        facts.prospects_by_source = {s or "(none)": int(n) for s, n in session.execute(
            select(col(Prospect.source), func.count()).group_by(col(Prospect.source)))}
        touched = {p for _, _, p, _, _, _ in events if p is not None}
        rows = list(session.execute(select(col(Send.id), col(Send.enrollment_id), col(Send.prospect_id), col(Send.sequence_name), col(Send.step_id),
                                           col(Send.variant_id), col(Send.mailbox), col(Send.sent_at), col(Send.claimed_at))))
    timeline: dict[tuple[str, int], list[tuple[datetime, int]]] = defaultdict(list)
    for sid, enr, pid, seq, step, variant, mailbox, sent_at, claimed_at in rows:
        if pid not in touched:
            continue
        facts.sends[sid] = SendFacts(sid, pid, seq, step, variant, mailbox, sources.get(pid))
        for key in (("e", enr), ("p", pid)):
            timeline[key].append((sent_at or claimed_at, sid))
    for line in timeline.values():
        line.sort()
    for kind, at, pid, enr, sid, data in events:
        if kind in QUALIFYING:
            if pid is not None:
                facts.qualified.add(pid)
            continue
        send = facts.sends.get(sid) if sid is not None else _latest(timeline, enr, pid, at, facts.sends)
        if send is None:
            continue
        if kind in (ev.SENT, ev.BOUNCED) and not send.attempted:
            send.attempted, send.day = True, at.date().isoformat()
        if kind == ev.BOUNCED:
            send.bounced = True
        elif kind == ev.REPLIED:
            send.replied = True
            send.positive = send.positive or (data or {}).get("positive") is True
        elif kind == ev.UNSUBSCRIBED:
            send.unsubscribed = True
    return facts


def _latest(timeline: Mapping[tuple[str, int], list[tuple[datetime, int]]], enr: int | None, pid: int | None,
            at: datetime, sends: dict[int, SendFacts]) -> SendFacts | None:
    line = timeline.get(("e", enr)) if enr is not None else timeline.get(("p", pid)) if pid is not None else None
    if not line:
        return None
    i = bisect.bisect_right(line, (at, 1 << 62))
    return sends.get(line[i - 1][1]) if i else None


def group_key(s: SendFacts, by: str) -> str:
    if by == "sequence":
        return s.sequence
    if by == "step":
        return f"{s.sequence}/{s.step}"
    if by == "variant":
        return f"{s.sequence}/{s.step}/{s.variant or '-'}"
    if by == "source":
        return s.source or "(none)"
    if by == "domain":
        return s.mailbox.rsplit("@", 1)[-1]
    if by == "mailbox":
        return s.mailbox
    raise ValueError(f"unknown grouping {by!r}; expected one of: {', '.join(GROUPS)}")


def grouped(facts: Facts, by: str) -> dict[str, Metrics]:
    out: dict[str, Metrics] = defaultdict(Metrics)
    for s in facts.attempted():
        m = out[group_key(s, by)]
        m.sent += 1
        m.bounced += s.bounced
        if not s.bounced:
            m.replied += s.replied
            m.positive += s.positive
            m.unsubscribed += s.unsubscribed
    return dict(sorted(out.items()))


def sources(facts: Facts, costs: Mapping[str, float | None]) -> list[SourceRow]:
    contacted: dict[str, set[int]] = defaultdict(set)
    qualified: dict[str, set[int]] = defaultdict(set)
    source_of = {s.prospect_id: s.source or "(none)" for s in facts.sends.values()}
    for s in facts.attempted():
        contacted[s.source or "(none)"].add(s.prospect_id)
    for pid in facts.qualified:
        if pid in source_of:
            qualified[source_of[pid]].add(pid)
    names = sorted(set(facts.prospects_by_source) | set(contacted))
    return [SourceRow(n, facts.prospects_by_source.get(n, 0), len(contacted[n]), len(qualified[n]), costs.get(n))
            for n in names]


def variants(facts: Facts) -> list[VariantRow]:
    """Each variant of a step against the step's first variant (by id), on reply rate over delivered sends."""
    by_step: dict[str, dict[str, Metrics]] = defaultdict(dict)
    for key, m in grouped(facts, "variant").items():
        seq, step, variant = key.rsplit("/", 2)
        if variant != "-":
            by_step[f"{seq}/{step}"][variant] = m
    out: list[VariantRow] = []
    for step, found in sorted(by_step.items()):
        if len(found) < 2:
            continue
        base_name = sorted(found)[0]
        base = found[base_name]
        for name, m in sorted(found.items()):
            test = None if name == base_name else two_proportion_z(base.replied, base.delivered, m.replied, m.delivered)
            out.append(VariantRow(step, name, base_name, m, test))
    return out
