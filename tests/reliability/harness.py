"""The in-process engine in simulated time against a :class:`FaultySmtp`, and the invariant check.

``Simulation.tick()`` is one ``run_tick`` at the simulated clock; ``settle()`` stands in for the
IMAP Sent folder: an ``unknown`` send whose Message-ID the server kept counts as sent, any other
goes again (as ``outbound reconcile`` decides from a real Sent folder).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import TickReport, run_tick
from outbound.store import outcomes
from outbound.store.db import session_scope
from outbound.store.effects import suppress_values
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState, Suppression
from tests.integration.engine.workspace import BuiltWorkspace, build
from tests.reliability.faults import FaultySmtp, Received

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59",
               "timezone": "UTC"}
STEPS = ("intro", "bump", "last")
_MARK = re.compile(rb"\[step:(\w+)\]")


def marked_sequence(name: str = "seq", domains: list[str] | None = None, waits: tuple[str, str] = ("1d", "1d"),
                    **over: Any) -> dict[str, Any]:
    """Three steps, each body carrying ``[step:ID]`` so what arrives can be told apart without the database."""
    seq: dict[str, Any] = {
        "name": name, "senders": {"domains": domains or ["d0.test"]}, "required_fields": ["first_name"],
        "window": ALWAYS_OPEN,
        "steps": [
            {"id": "intro", "subject": "Hello {{ first_name }}", "body": "Hi {{ first_name }}. [step:intro]"},
            {"id": "bump", "wait": waits[0], "thread": True, "body": "Bumping this. [step:bump]"},
            {"id": "last", "wait": waits[1], "thread": True, "body": "Last note. [step:last]"},
        ],
    }
    seq.update(over)
    return seq


def fault_domain(name: str, port: int, mailboxes: int, *, cap: int, timeout: float = 1.0,
                 gap: tuple[str | int, str | int] = (0, 0), **extra: Any) -> dict[str, Any]:
    boxes = [{"address": f"m{i}@{name}", "display_name": f"Sender {i}", "daily_cap": cap,
              "gap": {"min": gap[0], "max": gap[1]}} for i in range(mailboxes)]
    return {"domain": name, "tracking_host": f"t.{name}",
            "smtp": {"host": "127.0.0.1", "port": port, "tls": "none", "timeout": timeout, **extra},
            "mailboxes": boxes}


def step_of(r: Received) -> str:
    m = _MARK.search(r.data)
    return m.group(1).decode() if m else "?"


def date_of(r: Received) -> datetime:
    head = r.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"(?im)^date:\s*(.+)$", head)
    assert m, "a message without a Date header"
    return parsedate_to_datetime(m.group(1).strip()).astimezone(UTC)


def from_of(r: Received) -> str:
    return r.mail_from.lower()


@dataclass
class Simulation:
    tw: BuiltWorkspace
    server: FaultySmtp
    now: datetime = START
    pool: SmtpPool = field(default_factory=SmtpPool)
    suppressed_at: dict[str, datetime] = field(default_factory=dict)  # value -> when it was added
    reports: list[TickReport] = field(default_factory=list)
    reconciled: Counter[str] = field(default_factory=Counter)  # found | resent

    @classmethod
    def create(cls, root: Path, url: str, server: FaultySmtp, *, domains: int = 1, mailboxes: int = 2, cap: int = 50,
               timeout: float = 1.0, settings: str = "", waits: tuple[str, str] = ("1d", "1d"),
               gap: tuple[str | int, str | int] = (0, 0)) -> Simulation:
        names = [f"d{i}.test" for i in range(domains)]
        tw = build(root, url, [marked_sequence(domains=names, waits=waits)],
                   [fault_domain(n, server.port, mailboxes, cap=cap, timeout=timeout, gap=gap) for n in names],
                   settings=settings)
        return cls(tw, server)

    async def tick(self) -> TickReport:
        report = await run_tick(self.tw.ctx, self.pool, self.now)
        self.reports.append(report)
        return report

    async def run(self, duration: timedelta, step: timedelta) -> None:
        end = self.now + duration
        while self.now < end:
            await self.tick()
            self.now += step

    def settle(self) -> int:
        """Reconciles every ``unknown`` send against what the server kept; returns how many."""
        kept = set(self.server.message_ids())
        unknown = outcomes.unknown_sends(self.tw.engine)
        for send in unknown:
            assert send.id is not None
            found = send.message_id in kept
            outcomes.reconcile(self.tw.engine, send.id, found, self.now)
            self.reconciled["found" if found else "resent"] += 1
        return len(unknown)

    def suppress(self, values: list[str], reason: str = "added mid-run", at: datetime | None = None) -> None:
        """Suppresses ``values`` as of ``at`` (default: a second before the next tick)."""
        at = at or self.now - timedelta(seconds=1)
        with session_scope(self.tw.engine) as s:
            suppress_values(s, values, reason, at)
        for v in values:
            self.suppressed_at.setdefault(v.lower(), at)

    async def close(self) -> None:
        await self.pool.close_all()


def send_states(sim: Simulation) -> Counter[str]:
    with session_scope(sim.tw.engine) as s:
        return Counter(str(x) for x in s.exec(select(Send.state)))


def enrollment_states(sim: Simulation) -> Counter[str]:
    with session_scope(sim.tw.engine) as s:
        return Counter(str(x) for x in s.exec(select(Enrollment.state)))


def check_invariants(sim: Simulation, *, cap: int, settled: bool = True) -> list[str]:
    """Every violation of the engine's promises, as readable lines (empty when all hold).

    * each message the server kept arrived once: one Message-ID, one (recipient, step);
    * each kept message is one send in the database, ``sent`` (or ``unknown`` before settling),
      with exactly one ``sent`` event, and each ``sent`` send was really kept by the server;
    * no mailbox sent more than ``cap`` in one (simulated) UTC day;
    * no address or domain was mailed after its suppression was added;
    * every enrollment is in a valid state: a reason when blocked, stopped or paused; a completed
      one sent its last step; with ``settled``, nothing is left claimed or sending.
    """
    bad: list[str] = []
    with sim.server.lock:
        kept = list(sim.server.delivered)
    ids = Counter(r.message_id for r in kept)
    bad += [f"Message-ID {m} arrived {n} times" for m, n in ids.items() if n > 1]
    pairs = Counter((r.rcpt.lower(), step_of(r)) for r in kept)
    bad += [f"{rcpt} got step {step} {n} times" for (rcpt, step), n in pairs.items() if n > 1]
    per_day: Counter[tuple[str, str]] = Counter()
    for r in kept:
        per_day[(from_of(r), date_of(r).date().isoformat())] += 1
    bad += [f"{mb} sent {n} on {day} (cap {cap})" for (mb, day), n in per_day.items() if n > cap]
    with session_scope(sim.tw.engine) as s:
        sends = {x.message_id: x for x in s.exec(select(Send))}
        sent_events = Counter(e.send_id for e in s.exec(select(Event).where(col(Event.type) == "sent")))
        enrollments = list(s.exec(select(Enrollment)))
        suppressions = {x.value: x.created_at for x in s.exec(select(Suppression))}
    ok_states = {SendState.sent} if settled else {SendState.sent, SendState.unknown}
    for mid in ids:
        send = sends.get(mid)
        if send is None:
            bad.append(f"the server kept {mid}, which the database does not know")
        elif send.state not in ok_states:
            bad.append(f"the server kept {mid} but its send is {send.state}")
    for send in sends.values():
        if send.state == SendState.sent:
            mid = send.message_id or ""
            if mid not in ids:
                bad.append(f"send {send.id} is recorded sent but the server never kept {mid}")
            if sent_events[send.id] != 1:
                bad.append(f"send {send.id} has {sent_events[send.id]} 'sent' events")
        if settled and send.state in (SendState.claimed, SendState.sending):
            bad.append(f"send {send.id} left {send.state} after the run settled")
    # suppressions added by the test mid-run, and those the engine added itself (hard bounces)
    since_by_value = dict(suppressions)
    for value, at in sim.suppressed_at.items():
        since_by_value[value] = min(at, since_by_value.get(value, at))
    for r in kept:
        at = date_of(r)
        for value in (r.rcpt.lower(), "@" + r.rcpt.lower().rsplit("@", 1)[-1]):
            since = since_by_value.get(value)
            if since is not None and at > since:
                bad.append(f"{r.rcpt} mailed at {at:%Y-%m-%d %H:%M} after its suppression ({value}) at {since:%Y-%m-%d %H:%M}")
    last = len(STEPS)
    for e in enrollments:
        if e.state not in set(EnrollmentState):
            bad.append(f"enrollment {e.id} in unknown state {e.state!r}")
        if e.state in (EnrollmentState.blocked, EnrollmentState.stopped, EnrollmentState.paused) and not e.reason:
            bad.append(f"enrollment {e.id} is {e.state} without a reason")
        if e.state == EnrollmentState.completed and e.next_step != last:
            bad.append(f"enrollment {e.id} completed at step {e.next_step}")
        if not 0 <= e.next_step <= last:
            bad.append(f"enrollment {e.id} at step {e.next_step}")
    return bad


def delivered_by_step(sim: Simulation) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    with sim.server.lock:
        for r in sim.server.delivered:
            counts[step_of(r)] += 1
    return dict(counts)
