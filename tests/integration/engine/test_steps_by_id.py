"""Editing a live sequence: enrollments follow steps by id (the real engine, SQLite, SMTP sink, simulated time).

Two groups stand at different points when the file changes: ``early`` has had the intro and waits
for 'bump', ``late`` has had intro and bump and waits for 'last'.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from outbound.engine.context import EngineContext
from outbound.engine.smtp import SmtpPool
from outbound.engine.status import engine_status
from outbound.engine.tick import run_tick
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Prospect
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine import workspace as helper
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

T0 = datetime(2026, 11, 23, tzinfo=UTC)
EDITED = T0 + timedelta(days=2, hours=1)  # both groups have been planned for their next step by then


@dataclass
class TwoGroups:
    tw: BuiltWorkspace
    early: list[str]   # intro sent at T0+2d; waiting for 'bump' (2d)
    late: list[str]    # intro at T0, bump at T0+2d; waiting for 'last' (3d)


async def simulate(ctx: EngineContext, start: datetime, end: datetime, step: timedelta = timedelta(minutes=15)) -> None:
    pool = SmtpPool()
    try:
        now = start
        while now < end:
            await run_tick(ctx, pool, now)
            now += step
    finally:
        await pool.close_all()


async def two_groups(root: Path, sink: SmtpSink) -> TwoGroups:
    """A workspace (SQLite inside it, as ``outbound init`` makes) whose enrollments stand at two points."""
    seq = three_step_sequence(window=ALWAYS_OPEN)
    tw = build(root, f"sqlite:///{root / 'outbound.db'}", [seq],
               [domain("d0.test", sink.port, 2, daily_cap=100, gap={"min": 0, "max": 0})],
               settings="[daemon]\nhealth_checks = false\n")
    late = [p.email for p in add_prospects(tw, 3, "seq", seed=1, source="late", at=T0)]
    early = [p.email for p in add_prospects(tw, 2, "seq", seed=2, source="early", at=T0 + timedelta(days=2))]
    await simulate(tw.ctx, T0, EDITED)
    got = received(sink)
    assert all(got[e] == ["intro", "bump"] for e in late) and all(got[e] == ["intro"] for e in early), got
    return TwoGroups(tw, early, late)


def edit(tw: BuiltWorkspace, change: Any) -> EngineContext:
    """Rewrites the sequence file with ``change(steps)`` and loads the workspace again, as a restart does."""
    path = tw.root / "sequences" / "seq.yaml"
    seq = json.loads(path.read_text())
    seq["steps"] = change(seq["steps"])
    path.write_text(json.dumps(seq, indent=1))
    return EngineContext(helper.load_workspace(tw.root / "config.toml"), tw.engine, helper.SECRET, rng=random.Random(3))


def received(sink: SmtpSink) -> dict[str, list[str]]:
    """Recipient -> the step of each message it got, in order (from the body's first words)."""
    bodies = {"Hi": "intro", "Bumping": "bump", "Last": "last", "A": "case"}
    out: dict[str, list[str]] = defaultdict(list)
    for m in sorted(sink.messages, key=lambda m: m.message["Date"].datetime):
        out[m.rcpt_tos[0]].append(bodies[m.message.get_content().split()[0]])
    return out


def enrollments(tw: BuiltWorkspace) -> dict[str, tuple[str, str | None]]:
    with session_scope(tw.engine) as s:
        rows = s.exec(select(Prospect.email, Enrollment.state, Enrollment.done_steps)
                      .join(Enrollment, col(Enrollment.prospect_id) == col(Prospect.id)))
        return {email: (state, done) for email, state, done in rows}


CASE = {"id": "case", "wait": "1d", "thread": True, "body": "A case study for you, {{ first_name }}."}


async def test_a_removed_step_is_passed_over_and_later_steps_still_go(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    g = await two_groups(tmp_path / "ws", smtp_sink)
    ctx = edit(g.tw, lambda steps: [s for s in steps if s["id"] != "bump"])
    await simulate(ctx, EDITED, T0 + timedelta(days=8))

    got = received(smtp_sink)
    for email in g.late:  # waiting for 'last' when 'bump' went: they still get it
        assert got[email] == ["intro", "bump", "last"], email
    for email in g.early:  # waiting for 'bump': they move on to 'last', its wait counted from the intro
        assert got[email] == ["intro", "last"], email
    last_sent = {m.rcpt_tos[0]: m.message["Date"].datetime for m in smtp_sink.messages
                 if m.message.get_content().startswith("Last")}
    assert all(last_sent[e] == T0 + timedelta(days=5) for e in g.early + g.late), last_sent
    state = enrollments(g.tw)
    assert {state[e] for e in g.late} == {(EnrollmentState.completed, "intro bump last")}
    assert {state[e] for e in g.early} == {(EnrollmentState.completed, "intro last")}


async def test_a_new_step_is_due_only_where_it_lies_ahead(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    g = await two_groups(tmp_path / "ws", smtp_sink)
    ctx = edit(g.tw, lambda steps: [steps[0], CASE, *steps[1:]])
    await simulate(ctx, EDITED, EDITED + timedelta(minutes=15))  # one tick with the new file, nothing due

    queue = {(q.step, q.due_now + q.scheduled) for q in engine_status(g.tw.engine, ctx.workspace, EDITED).queue}
    assert queue == {("case", len(g.early)), ("last", len(g.late))}, "nobody is queued for a step already passed"

    await simulate(ctx, EDITED + timedelta(minutes=15), T0 + timedelta(days=12))
    got = received(smtp_sink)
    for email in g.early:  # had not reached the new step's position
        assert got[email] == ["intro", "case", "bump", "last"], email
    for email in g.late:  # had passed it: it is skipped, the rest goes on as planned
        assert got[email] == ["intro", "bump", "last"], email
    state = enrollments(g.tw)
    assert {state[e] for e in g.early} == {(EnrollmentState.completed, "intro case bump last")}
    assert {state[e] for e in g.late} == {(EnrollmentState.completed, "intro bump last")}


def test_the_migration_backfills_done_steps_from_sends_and_skips(database_url: str) -> None:
    """0004 on a database made by 0003: the steps each enrollment is done with come from its sends
    (sent, or bounced and moved on) and its step_skipped events; live ones are left to be brought
    onto their sequence by the engine (sequence_version 0)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from outbound.store.db import MIGRATIONS, make_engine, upgrade

    engine = make_engine(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    at = {"at": T0}
    with engine.begin() as conn:
        for i in (1, 2, 3):
            conn.execute(text("INSERT INTO prospects (id, email, fields, hot, created_at, updated_at) "
                              "VALUES (:i, :email, '{}', false, :at, :at)"), {"i": i, "email": f"p{i}@x.test", **at})
        for i, state, index in ((1, "active", 2), (2, "active", 2), (3, "completed", 3)):
            conn.execute(text("INSERT INTO enrollments (id, prospect_id, sequence_name, sequence_version, state, "
                              "next_step, created_at, updated_at) VALUES (:i, :i, 'seq', 1, :state, :index, :at, :at)"),
                         {"i": i, "state": state, "index": index, **at})
        for n, (enrollment, step, index, state) in enumerate(
                [(1, "intro", 0, "sent"), (1, "bump", 1, "bounced"), (2, "intro", 0, "sent"), (2, "last", 2, "retry"),
                 (3, "intro", 0, "sent"), (3, "bump", 1, "sent"), (3, "last", 2, "sent")]):
            conn.execute(text("INSERT INTO sends (id, enrollment_id, prospect_id, sequence_name, step_id, step_index, "
                              "mailbox, to_address, to_domain, state, attempts, claimed_at) VALUES (:n, :e, :e, 'seq', "
                              ":step, :index, 'm0@d0.test', 'p@x.test', 'x.test', :state, 1, :at)"),
                         {"n": n + 1, "e": enrollment, "step": step, "index": index, "state": state, **at})
        conn.execute(text("INSERT INTO events (type, at, prospect_id, enrollment_id, dedupe_key, data) "
                          "VALUES ('step_skipped', :at, 2, 2, 'skip:2:bump', :data)"),
                     {"data": json.dumps({"step": "bump", "reason": "if no_reply: false"}), **at})
    upgrade(engine)
    with engine.connect() as conn:
        rows = {i: (done, version, waiting) for i, done, version, waiting in conn.execute(text(
            "SELECT id, done_steps, sequence_version, next_step_id FROM enrollments ORDER BY id"))}
    assert rows == {1: ("intro bump", 0, None), 2: ("intro bump", 0, None), 3: ("intro bump last", 1, None)}
    engine.dispose()
