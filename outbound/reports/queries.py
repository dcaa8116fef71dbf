"""Report figures from the events: each outcome is tied to the send it answers, then grouped.

The outcome columns are the event types defined with a ``report`` label (outbound.core.events), in
definition order, with ``positive`` (replies with ``data.positive`` true) after ``replied``.

An event names its send when it can (``send_id``); one that does not (a row of ``events
add/import``, an unsubscribe link for another address's send) is tied to the latest earlier send of
its enrollment, else of its prospect. Rates count sends, each outcome once per send whatever its
path: an unsubscribe by link, by reply and from a CRM for the same send is one unsubscribe.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from outbound.core import events as ev
from outbound.reports.stats import ZTest, two_proportion_z
from outbound.store.report_rows import EventRow, SendRow, report_rows
from outbound.store.verification import SourceShare, shares_by_source

GROUPS = ("sequence", "step", "variant", "source", "domain", "mailbox", "intent")
QUALIFYING = (ev.QUALIFIED, ev.MEETING_BOOKED, ev.WON)
POSITIVE = "positive"


@dataclass(frozen=True)
class Column:
    """An outcome column: the sends ``key`` answers (JSON ``key``), as "<label> %" (JSON ``<label>_rate``)."""

    key: str
    label: str
    of_sent: bool = False  # a share of attempted sends (bounces) rather than of delivered ones

    @property
    def header(self) -> str:
        return f"{self.label} %"

    @property
    def rate_key(self) -> str:
        return f"{self.label}_rate"


def columns(report: Mapping[str, str]) -> tuple[Column, ...]:
    """The outcome columns for ``{event type: label}`` (``REPORT_COLUMNS``), in its order."""
    out: list[Column] = []
    for kind, label in report.items():
        out.append(Column(kind, label, of_sent=kind == ev.BOUNCED))
        if kind == ev.REPLIED:
            out.append(Column(POSITIVE, POSITIVE))
    return tuple(out)


COLUMNS = columns(ev.REPORT_COLUMNS)
# sent and bounced make a send attempted, whatever the columns
_TYPES = tuple(dict.fromkeys((ev.SENT, ev.BOUNCED, *ev.REPORT_COLUMNS, *QUALIFYING)))


@dataclass
class Metrics:
    sent: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # Column.key -> sends it answers

    @property
    def bounced(self) -> int:
        return self.counts[ev.BOUNCED]

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    @property
    def replied(self) -> int:
        return self.counts[ev.REPLIED]

    def rate(self, n: int, of: int) -> float | None:
        return None if of <= 0 else n / of

    def rate_of(self, c: Column) -> float | None:
        return self.rate(self.counts[c.key], self.sent if c.of_sent else self.delivered)

    def as_json(self, cols: Sequence[Column] = COLUMNS) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"sent": self.sent, "delivered": self.delivered}
        out |= {c.key: self.counts[c.key] for c in cols}
        return out | {c.rate_key: self.rate_of(c) for c in cols}


@dataclass
class SourceRow:
    source: str
    prospects: int
    contacted: int
    qualified: int
    cost_per_lead: float | None
    verified: int = 0   # prospects with a verification result, and how many of them came out invalid and risky
    invalid: int = 0
    risky: int = 0

    @property
    def invalid_share(self) -> float | None:
        return None if not self.verified else self.invalid / self.verified

    @property
    def risky_share(self) -> float | None:
        return None if not self.verified else self.risky / self.verified

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
    outcomes: set[str] = field(default_factory=set)  # the Column keys of the events that answer it
    intent: str | None = None         # the intent of its (last) reply, as classified or corrected

    @property
    def bounced(self) -> bool:
        return ev.BOUNCED in self.outcomes

    @property
    def replied(self) -> bool:
        return ev.REPLIED in self.outcomes

    @property
    def positive(self) -> bool:
        return POSITIVE in self.outcomes


@dataclass
class Facts:
    sends: dict[int, SendFacts] = field(default_factory=dict)
    qualified: set[int] = field(default_factory=set)          # prospect ids
    prospects_by_source: dict[str, int] = field(default_factory=dict)
    verified_by_source: dict[str, SourceShare] = field(default_factory=dict)

    def attempted(self) -> list[SendFacts]:
        return [s for s in self.sends.values() if s.attempted]


def load_facts(engine: Engine, since: datetime | None = None) -> Facts:
    rows = report_rows(engine, _TYPES, since)
    facts = tie(rows.events, rows.sends, rows.source_of, rows.prospects_by_source)
    facts.verified_by_source = shares_by_source(engine)
    return facts


def load_windows(engine: Engine, since: Mapping[str, datetime | None]) -> Iterator[tuple[str, Facts, int]]:
    """Per window, its facts (as ``load_facts(engine, since)`` makes them) and the prospects with a meeting
    booked in it, from one read of the rows; one window's facts at a time, so they need not fit in memory
    together."""
    starts = [s for s in since.values() if s is not None]
    rows = report_rows(engine, _TYPES, None if len(starts) < len(since) else min(starts, default=None))
    verified = shares_by_source(engine)
    for key, start in since.items():
        events = rows.events if start is None else [e for e in rows.events if e[1] >= start]
        facts = tie(events, rows.sends, rows.source_of, rows.prospects_by_source)
        facts.verified_by_source = verified
        yield key, facts, len({e[2] for e in events if e[0] == ev.MEETING_BOOKED and e[2] is not None})


def tie(events: Sequence[EventRow], sends: Iterable[SendRow], source_of: Mapping[int, str | None],
        prospects_by_source: Mapping[str, int]) -> Facts:
    """Pure: ties each event (in id order) to its send and marks the send's outcomes."""
    facts = Facts(prospects_by_source=dict(prospects_by_source))
    reported = {c.key for c in COLUMNS}
    touched = {e[2] for e in events if e[2] is not None}
    timeline: dict[tuple[str, int], list[tuple[datetime, int]]] = defaultdict(list)
    for sid, enr, pid, seq, step, variant, mailbox, sent_at, claimed_at in sends:
        if pid not in touched:
            continue
        facts.sends[sid] = SendFacts(sid, pid, seq, step, variant, mailbox, source_of.get(pid))
        for key in (("e", enr), ("p", pid)):
            timeline[key].append((sent_at or claimed_at, sid))
    for line in timeline.values():
        line.sort()
    for kind, at, prospect, enrollment, send_id, data in events:
        if kind in QUALIFYING:
            if prospect is not None:
                facts.qualified.add(prospect)
            continue
        send = facts.sends.get(send_id) if send_id is not None else _latest(timeline, enrollment, prospect, at, facts.sends)
        if send is None:
            continue
        if kind in (ev.SENT, ev.BOUNCED) and not send.attempted:
            send.attempted, send.day = True, at.date().isoformat()
        if kind in reported:
            send.outcomes.add(kind)
        if kind == ev.REPLIED and (data or {}).get("positive") is True:
            send.outcomes.add(POSITIVE)
        if kind == ev.REPLIED:
            send.intent = str((data or {}).get("intent") or "unknown")
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
    if by == "intent":
        return s.intent or "(no reply)"
    raise ValueError(f"unknown grouping {by!r}; expected one of: {', '.join(GROUPS)}")


def grouped(facts: Facts, by: str) -> dict[str, Metrics]:
    out: dict[str, Metrics] = defaultdict(Metrics)
    for s in facts.attempted():
        m = out[group_key(s, by)]
        m.sent += 1
        # a bounced send was not delivered: nothing else it may carry counts
        m.counts.update([ev.BOUNCED] if s.bounced else s.outcomes)
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
    none = SourceShare("", 0, 0, 0)
    return [SourceRow(n, facts.prospects_by_source.get(n, 0), len(contacted[n]), len(qualified[n]), costs.get(n),
                      (v := facts.verified_by_source.get(n, none)).checked, v.invalid, v.risky)
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
