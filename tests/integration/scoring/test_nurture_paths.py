"""The seed's nurture paths over simulated weeks, the real engine mailing the aiosmtpd sink: 3 opens ->
the premium sequence, once; ghosted -> paused -> ``job_change`` -> re-enrolled, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from outbound.core import events as ev
from outbound.core.events import DEFINITIONS
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.scoring.job import ScoringSummary, run_scoring
from outbound.scoring.spec import load_scoring
from outbound.store.db import session_scope
from outbound.store.scoring_tables import ScoringAction
from outbound.store.tables import Enrollment, Event, Prospect, Send
from tests.acceptance.conftest import Cli
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHIPPED = Path(__file__).resolve().parents[3] / "scoring.yaml"
NURTURE = ("premium-after-3-opens", "park-the-ghosts", "reengage-on-job-change")
RULES = """
rules:
  - name: engaged
    when: {event: opened, at_least: 3, within: 14d}
    enroll: premium
"""


def _workspace(tmp_path: Path, sink: SmtpSink, scoring: str) -> BuiltWorkspace:
    seqs = [three_step_sequence(name, window=ALWAYS_OPEN) for name in ("seq", "premium", "reengage")]
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", seqs,
               [domain("d0.test", sink.port, 1, daily_cap=50, gap={"min": 0, "max": 0})])
    (tw.root / "scoring.yaml").write_text(scoring)
    return tw


async def _day(tw: BuiltWorkspace, at: datetime) -> None:
    pool = SmtpPool()
    try:
        await run_tick(tw.ctx, pool, at)
    finally:
        await pool.close_all()
    _score(tw, at + timedelta(minutes=30))


def _score(tw: BuiltWorkspace, at: datetime) -> ScoringSummary:
    spec = load_scoring(tw.root, set(tw.ctx.workspace.sequences))
    return run_scoring(tw.engine, spec, {n: s.sequence for n, s in tw.ctx.workspace.sequences.items()}, at)


def _track(tw: BuiltWorkspace, email: str, kind: str, at: datetime, **data: Any) -> None:
    """A tracking fetch of the person's latest send, as the endpoint records it (one per send and kind)."""
    with session_scope(tw.engine) as s:
        send = s.exec(select(Send).join(Prospect, col(Prospect.id) == col(Send.prospect_id))
                      .where(col(Prospect.email) == email).order_by(col(Send.id).desc())).first()
        assert send is not None
        who = "machine" if data.get("machine") else "person"
        s.add(Event(type=kind, at=at, prospect_id=send.prospect_id, enrollment_id=send.enrollment_id,
                    send_id=send.id, dedupe_key=f"{kind}:{send.id}:{who}", data=data))


def _enrollments(tw: BuiltWorkspace, email: str) -> dict[str, tuple[str, str | None]]:
    with session_scope(tw.engine) as s:
        rows = s.exec(select(Enrollment).join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
                      .where(col(Prospect.email) == email))
        return {e.sequence_name: (str(e.state), e.reason) for e in rows}


def _actions(tw: BuiltWorkspace) -> list[tuple[str, str, str]]:
    with session_scope(tw.engine) as s:
        return [(a.rule, a.kind, a.state) for a in s.exec(select(ScoringAction).order_by(col(ScoringAction.id)))]


def _subjects_to(sink: SmtpSink, email: str) -> list[str]:
    return [str(m.message["Subject"]) for m in sink.messages if email in m.rcpt_tos]


async def test_three_opens_within_two_weeks_start_the_premium_sequence_once(smtp_sink: SmtpSink,
                                                                         tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink, RULES)
    [reader, other] = [p.email for p in add_prospects(tw, 2, "seq", at=START)]
    await _day(tw, START)                                    # intro to both
    _track(tw, reader, ev.OPENED, START + timedelta(hours=1))
    _track(tw, reader, ev.OPENED, START + timedelta(hours=1), machine=True)   # a proxy's fetch never counts
    _track(tw, other, ev.OPENED, START + timedelta(hours=2))
    await _day(tw, START + timedelta(days=2))                # bump
    _track(tw, reader, ev.OPENED, START + timedelta(days=2, hours=1))
    _score(tw, START + timedelta(days=2, hours=2))
    assert "premium" not in _enrollments(tw, reader), "two opens by a person and one by a machine are not three"
    await _day(tw, START + timedelta(days=5))                # last step; the third open comes next
    _track(tw, reader, ev.OPENED, START + timedelta(days=5, hours=1))
    _score(tw, START + timedelta(days=5, hours=2))
    assert _enrollments(tw, reader) == {"seq": ("active", None), "premium": ("active", None)}  # kept
    assert _actions(tw) == [("engaged", "enroll", "done")]
    assert "premium" not in _enrollments(tw, other)
    await _day(tw, START + timedelta(days=6))                # premium's first step goes out
    _track(tw, reader, ev.OPENED, START + timedelta(days=6, hours=1))   # a fourth open: nothing more
    await _day(tw, START + timedelta(days=8))
    assert _actions(tw) == [("engaged", "enroll", "done")]
    with session_scope(tw.engine) as s:
        [action] = s.exec(select(ScoringAction))
        assert "3 opened within 14d >= 3" in action.reason and action.detail["enrolled"] == 1
    assert len(_subjects_to(smtp_sink, reader)) == 3 + 2      # seq's three steps, premium's first two
    assert len(_subjects_to(smtp_sink, other)) == 3


def shipped_with_the_nurture_loop_on() -> str:
    """The shipped scoring.yaml with its event types and the seed's three rules uncommented, as a user does."""
    out, on = [], False
    for line in SHIPPED.read_text(encoding="utf-8").splitlines():
        if line.startswith("#  - name: "):
            on = line.split()[3] in NURTURE
        elif not line.startswith("#    "):
            on = False
        if on or line.startswith(("#  job_change:", "#  funding_round:")):
            line = line[1:]
        out.append({"event_types: {}": "event_types:", "rules: []": "rules:"}.get(line, line))
    return "\n".join(out) + "\n"


async def test_a_ghosted_prospect_is_paused_then_reenrolled_on_job_change_once(smtp_sink: SmtpSink,
                                                                            tmp_path: Path) -> None:
    assert "job_change" not in DEFINITIONS, "job_change is the workspace's own type here"
    tw = _workspace(tmp_path, smtp_sink, shipped_with_the_nurture_loop_on())
    [ghost, clicker] = [p.email for p in add_prospects(tw, 2, "seq", at=START)]
    await _day(tw, START)                                    # intro to both
    _track(tw, clicker, ev.CLICKED, START + timedelta(hours=1), url="https://x.test")
    await _day(tw, START + timedelta(days=2))                # bump to both: the ghost has 2 sends, no reply, no click
    state, reason = _enrollments(tw, ghost)["seq"]
    assert state == "paused" and (reason or "").startswith("waiting for job_change: rule 'park-the-ghosts': ghosted: seq "
                                                           "2 steps sent with no reply and no click"), reason
    assert _enrollments(tw, clicker)["seq"][0] == "active"
    await _day(tw, START + timedelta(days=5))                # the last step: only to the one who clicked
    await _day(tw, START + timedelta(days=8))
    assert (len(_subjects_to(smtp_sink, ghost)), len(_subjects_to(smtp_sink, clicker))) == (2, 3)

    # the CRM reports the job change through `outbound events import` (jsonl, with the type's fields)
    rows = tmp_path / "crm.jsonl"
    rows.write_text("\n".join(json.dumps({"email": ghost, "type": "job_change", "at": at.isoformat(),
                                          "company": "Newco", "title": "VP Sales"})
                              for at in (START + timedelta(days=9), START + timedelta(days=12))) + "\n")
    result = Cli(config=tw.root / "config.toml")("events", "import", str(rows))
    assert result.code == 0 and "recorded 2" in result.out, result.text
    summary = _score(tw, START + timedelta(days=9, hours=1))
    # the first job change lifts the pause and re-enrolls; the second, with nothing waiting, is not reported
    assert [d.kind for d in summary.actions] == ["resume", "enroll"]
    assert _enrollments(tw, ghost) == {"seq": ("stopped", _enrollments(tw, ghost)["seq"][1]), "reengage": ("active", None)}
    assert (_enrollments(tw, ghost)["seq"][1] or "").startswith("moved to reengage (rule 'reengage-on-job-change': "
                                                                "job_change at ")
    await _day(tw, START + timedelta(days=13))               # reengage's intro; the second job change changes nothing
    await _day(tw, START + timedelta(days=16))               # and its bump
    assert [k for k in _actions(tw) if k[1] != "resume"] == [("park-the-ghosts", "pause", "done"),
                                                             ("reengage-on-job-change", "enroll", "done")]
    assert len(_subjects_to(smtp_sink, ghost)) == 2 + 2
    with session_scope(tw.engine) as s:
        [first, _] = s.exec(select(Event).where(col(Event.type) == "job_change").order_by(col(Event.at)))
        assert first.data["company"] == "Newco" and first.data["title"] == "VP Sales" and first.data["by"] == "import"


async def test_an_accounts_second_replying_contact_triggers_the_account_rule_once(smtp_sink: SmtpSink,
                                                                               tmp_path: Path) -> None:
    rules = ("rules:\n  - name: committee\n    when: {event: replied, contacts_at_least: 2, within: 30d}\n"
             "    stop_account: true\n")
    tw = _workspace(tmp_path, smtp_sink, rules)
    people = [p.email for p in add_prospects(tw, 3, "seq", at=START, company_domain="acme.test")]
    await _day(tw, START)
    with session_scope(tw.engine) as s:
        ids = {p.email: p.id for p in s.exec(select(Prospect))}
    for n, (email, day) in enumerate([(people[0], 1), (people[0], 2), (people[1], 3), (people[2], 4)]):
        with session_scope(tw.engine) as s:  # CRM replies: the first contact twice, then two others
            s.add(Event(type=ev.REPLIED, at=START + timedelta(days=day), prospect_id=ids[email],
                        dedupe_key=f"crm:{n}", data={"positive": True}))
        _score(tw, START + timedelta(days=day, hours=1))
        assert bool(_actions(tw)) is (day >= 3), day
    assert _actions(tw) == [("committee", "stop_account", "done")]
    with session_scope(tw.engine) as s:
        [action] = s.exec(select(ScoringAction))
        assert action.subject == "acme.test" and action.prospect_id == ids[people[1]]
        assert "2 contacts of acme.test with replied within 30d >= 2" in action.reason
    assert {state for email in people for state, _ in _enrollments(tw, email).values()} == {"stopped"}


async def test_an_account_paused_until_an_event_resumes_when_any_contact_has_it(smtp_sink: SmtpSink,
                                                                             tmp_path: Path) -> None:
    rules = ("rules:\n  - name: wait-for-budget\n    when: {event: lost}\n"
             "    pause: {until_event: qualified, account: true}\n")
    tw = _workspace(tmp_path, smtp_sink, rules)
    people = [p.email for p in add_prospects(tw, 3, "seq", at=START, company_domain="acme.test")]
    with session_scope(tw.engine) as s:
        ids = {p.email: p.id for p in s.exec(select(Prospect))}

    def crm(email: str, kind: str, day: int) -> None:
        with session_scope(tw.engine) as s:
            s.add(Event(type=kind, at=START + timedelta(days=day), prospect_id=ids[email], dedupe_key=f"{kind}:{day}",
                        data={}))
        _score(tw, START + timedelta(days=day, hours=1))

    crm(people[0], ev.LOST, 1)
    states = [_enrollments(tw, e)["seq"] for e in people]
    assert all(st == "paused" and (r or "").startswith("waiting for qualified: rule 'wait-for-budget'")
               for st, r in states), states
    crm(people[2], ev.QUALIFIED, 3)
    assert [_enrollments(tw, e)["seq"] for e in people] == [("active", None)] * 3
    crm(people[1], ev.LOST, 5)   # once per account: a second loss pauses nothing
    assert [_enrollments(tw, e)["seq"][0] for e in people] == ["active"] * 3
