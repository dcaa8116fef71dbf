"""``outbound demo``: the shipped workspace against a built-in SMTP sink, in simulated time.

Nothing leaves the machine: every mailbox's SMTP server is replaced by an aiosmtpd sink on
loopback, the database is a temporary SQLite file, and the clock runs ``days`` ahead in steps.
"""

from __future__ import annotations

import random
import secrets
import socket
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from outbound.app.context import build_context
from outbound.engine.smtp import SmtpPool
from outbound.engine.status import EngineStatus, engine_status
from outbound.engine.tick import run_tick
from outbound.prospects.values import ProspectData
from outbound.spec.domain import SmtpServer
from outbound.spec.workspace import Workspace
from outbound.store.db import open_store
from outbound.store.enrollments import enroll
from outbound.store.prospects import prospect_ids, upsert_prospects

FIRST = ["Ada", "Grace", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Frances", "Dennis", "Radia", "Guido", "Hedy",
         "Alan", "Katherine", "Edsger", "Anita", "Donald", "Shafi", "Niklaus", "Sophie"]
COMPANIES = ["Northwind", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Analytics", "Wayne Data", "Pied Piper",
             "Vandelay", "Soylent Cloud", "Tyrell Systems", "Acme Robotics", "Cyberdyne", "Massive Dynamic"]
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
         "Europe/Madrid", "Asia/Singapore", "Australia/Sydney", None]


@dataclass(frozen=True)
class SentMail:
    at: datetime
    mailbox: str
    to: str
    subject: str


@dataclass
class DemoResult:
    start: datetime
    end: datetime
    sent: list[SentMail] = field(default_factory=list)
    status: EngineStatus | None = None
    prospects: int = 0
    zones: dict[str, str | None] = field(default_factory=dict)

    def per_mailbox_day(self) -> Counter[tuple[str, str]]:
        return Counter((m.mailbox, m.at.date().isoformat()) for m in self.sent)


class _Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 OK: queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_workspace(ws: Workspace, port: int) -> Workspace:
    """The same workspace, every mailbox sending to the sink (no TLS, no password)."""
    sink = SmtpServer(host="127.0.0.1", port=port, tls="none")
    domains = {name: d.model_copy(update={"smtp": sink, "mailboxes": [m.model_copy(update={"smtp": sink})
                                                                      for m in d.mailboxes]})
               for name, d in ws.domains.items()}
    return Workspace(config=ws.config, sequences=ws.sequences, domains=domains, domain_paths=ws.domain_paths)


def demo_prospects(count: int, rng: random.Random) -> list[ProspectData]:
    people = []
    for i in range(count):
        company = rng.choice(COMPANIES)
        slug = company.lower().replace(" ", "")
        first = FIRST[i % len(FIRST)]
        people.append(ProspectData(
            email=f"{first.lower()}.{i}@{slug}.example", first_name=first, last_name="Demo",
            company=None if i % 23 == 7 else company, company_domain=f"{slug}.example",
            title=rng.choice(["CEO", "Founder", "Head of Growth", None]), timezone=ZONES[i % len(ZONES)],
            source=rng.choice(["conference", "linkedin", "webinar"])))
    return people


async def run_demo(ws: Workspace, *, days: int = 10, prospects: int = 80, step: timedelta = timedelta(minutes=10),
                   start: datetime | None = None, progress: Callable[[float], None] | None = None,
                   folder: Path | None = None) -> DemoResult:
    from aiosmtpd.controller import Controller

    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    tmp = tempfile.TemporaryDirectory(prefix="outbound-demo-")
    try:
        db = (folder or Path(tmp.name)) / "demo.db"
        engine = open_store(f"sqlite:///{db}")
        workspace = demo_workspace(ws, port)
        # the demo's links point at nothing, so a throwaway key signs them
        ctx = build_context(workspace, engine, secret=secrets.token_bytes(32), rng=random.Random(42))
        now = start or _next_monday(datetime.now(UTC))
        people = demo_prospects(prospects, random.Random(42))
        upsert_prospects(engine, people)
        names = sorted(workspace.sequences)
        for i, name in enumerate(names):
            chosen = [p.email for j, p in enumerate(people) if j % len(names) == i]
            enroll(engine, workspace.sequences[name].sequence, prospect_ids(engine, emails=chosen), now=now)
        result = DemoResult(start=now, end=now + timedelta(days=days), prospects=len(people),
                            zones={p.email: p.timezone for p in people})
        pool = SmtpPool()
        total = (result.end - now) / step
        done = 0
        try:
            while now < result.end:
                await run_tick(ctx, pool, now)
                now += step
                done += 1
                if progress is not None:
                    progress(done / total)
        finally:
            await pool.close_all()
        result.status = engine_status(engine, workspace, now)
        engine.dispose()
    finally:
        controller.stop()
        tmp.cleanup()
    for raw in sink.messages:
        msg = message_from_bytes(raw, policy=policy.default)
        result.sent.append(SentMail(msg["Date"].datetime.astimezone(UTC), msg["From"].addresses[0].addr_spec,
                                    msg["To"].addresses[0].addr_spec, str(msg["Subject"])))
    result.sent.sort(key=lambda m: m.at)
    return result


def _next_monday(now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(7 - day.weekday()) % 7 or 7)
