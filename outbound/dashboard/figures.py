"""The figures the pages show, computed off the request path and kept as a snapshot.

Reading every event of the reported types takes seconds on a database of a million events, so no
page computes figures itself: a page reads the latest snapshot (every window already grouped) and,
when it is older than ``max_age`` and new events have arrived, starts one refresh in a background
thread. Only the very first request waits for a computation. Each page says when its figures were
taken; the figures are exactly ``outbound report``'s (the same functions, over the same rows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from outbound.core import events as ev
from outbound.reports import html, queries
from outbound.reports.funnel import FunnelRow, funnel
from outbound.reports.queries import Facts, Metrics, SourceRow, VariantRow
from outbound.store.funnel_rows import lead_facts

log = logging.getLogger("outbound.dashboard")
WINDOWS: dict[str, str] = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "all": "All time"}
DEFAULT_WINDOW = "7d"
SOURCE_STAGES = (ev.QUALIFIED, ev.MEETING_BOOKED)


def window_starts(now: datetime) -> dict[str, datetime | None]:
    """Today: since midnight UTC; 7 and 30 days: since that long before now; all: everything."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": midnight, "7d": now - timedelta(days=7), "30d": now - timedelta(days=30), "all": None}


@dataclass(frozen=True)
class WindowFigures:
    """Everything the pages show for one window, grouped once."""

    total: Metrics
    meetings: int
    groups: dict[str, dict[str, Metrics]]        # by -> key -> metrics (sequence, step, variant, domain, mailbox, source)
    funnel: dict[str, dict[str, int]]            # sequence -> stage -> prospects
    daily_sends: dict[str, dict[str, int]]
    bounce_daily: dict[str, dict[str, float]]
    variants: list[VariantRow]
    sources: list[SourceRow]
    lead_funnel: list[FunnelRow]


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    seconds: float                                # how long it took to compute
    windows: dict[str, WindowFigures] = field(default_factory=dict)


def summarise(facts: Facts, meetings: int, costs: Mapping[str, float | None], leads: list[FunnelRow]) -> WindowFigures:
    """Pure: one window's figures from its facts."""
    groups = {by: queries.grouped(facts, by) for by in ("sequence", "step", "variant", "domain", "mailbox", "source")}
    return WindowFigures(html.total(groups["sequence"]), meetings, groups, html.funnel(facts),
                         html.daily_sends(facts), html.bounce_by_domain(facts), queries.variants(facts),
                         queries.sources(facts, costs), leads)


def compute(engine: Engine, now: datetime, costs: Mapping[str, float | None], stages: Sequence[str]) -> Snapshot:
    started = time.perf_counter()
    starts = window_starts(now)
    windows = {}
    for key, facts, meetings in queries.load_windows(engine, starts):
        since = starts[key]
        leads = funnel(lead_facts(engine, stages, since), "source", costs, stages) if key in ("30d", "all") else []
        windows[key] = summarise(facts, meetings, costs, leads)
    return Snapshot(now, time.perf_counter() - started, windows)


class FiguresCache:
    """The latest snapshot; a stale one is refreshed in the background, one refresh at a time.

    A refresh is due ``max_age`` seconds after the last one, or ten times as long as the last one
    took when that is longer, so a big database is not recomputed back to back while people look."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], costs: Mapping[str, float | None],
                 stages: Sequence[str] = SOURCE_STAGES, max_age: float = 60.0) -> None:
        self.engine, self.clock, self.costs, self.stages, self.max_age = engine, clock, dict(costs), tuple(stages), max_age
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = False
        self._first = threading.Event()

    def start(self) -> None:
        """Computes the first snapshot in the background (the dashboard calls it as it starts)."""
        self._start_refresh()

    def refresh_every(self) -> float:
        snap = self._snapshot
        return self.max_age if snap is None else max(self.max_age, 10 * snap.seconds)

    def get(self, wait: float = 2.0) -> Snapshot | None:
        """The latest snapshot, waiting up to ``wait`` seconds for the first one (None: still computing)."""
        snap = self._snapshot
        if snap is None:
            self._start_refresh()
            self._first.wait(wait)
            return self._snapshot
        if (self.clock() - snap.taken_at).total_seconds() >= self.refresh_every():
            self._start_refresh()
        return snap

    def invalidate(self) -> None:
        """After an action: a refresh starts now when figures are cheap (up to 2 s to compute); on a big
        database the next scheduled refresh shows it, so clicking through replies is not a recomputation each."""
        snap = self._snapshot
        if snap is None or snap.seconds <= 2.0:
            self._start_refresh()

    def _start_refresh(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, name="dashboard-figures", daemon=True).start()

    def _refresh(self) -> None:
        try:
            fresh = compute(self.engine, self.clock(), self.costs, self.stages)
            self._snapshot = fresh
            log.info("dashboard figures computed in %.2f s", fresh.seconds)
        except Exception:  # a refresh must never take the dashboard down: the old figures stay
            log.exception("dashboard figures: computing them failed; showing the previous ones")
        finally:
            self._refreshing = False
            self._first.set()
