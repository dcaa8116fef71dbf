"""Mailbox health against the real engine: a tick that runs the health pass first sends nothing from a
mailbox that crossed the bounce threshold; complaints, auth failures, resumes and the timer."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from outbound.config import HealthSettings
from outbound.core import events as ev
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.prospects.values import ProspectData
from outbound.rulebook.effects import SenderChange
from outbound.scoring.health import mailbox_health_pass
from outbound.store.db import open_store, session_scope
from outbound.store.effects import change_senders
from outbound.store.enrollments import enroll
from outbound.store.operator import resume_senders
from outbound.store.prospects import prospect_ids, upsert_prospects
from outbound.store.tables import Event, MailboxState
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.workspace import build, domain, three_step_sequence
from tests.integration.scoring.helpers import add_events

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 09:00 in London


async def test_mailbox_over_bounce_threshold_sends_nothing_more_in_the_same_tick(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence()],
               [domain("d0.test", smtp_sink.port, 2)])
    people = [ProspectData(email=f"{'reject550' if i % 2 else 'ok'}.{i}@acme.test", first_name=f"P{i}",
                           timezone="Europe/London", source="t") for i in range(16)]
    upsert_prospects(tw.engine, people)
    enroll(tw.engine, tw.ctx.workspace.sequences["seq"].sequence, prospect_ids(tw.engine, source="t"), now=START)
    # 30 clean sends each in the past days: one bounce (1 in 31 = 3.2%) crosses the 2% threshold
    add_events(tw.engine, [{"type": ev.SENT, "at": START - timedelta(days=2, minutes=i), "mailbox": f"m{i % 2}@d0.test",
                            "data": {}} for i in range(60)])
    settings = HealthSettings()
    pool = SmtpPool()
    paused_in: dict[str, int] = {}
    claims_after_pause: Counter[str] = Counter()
    eligible_when_paused: dict[str, bool] = {}
    now = START
    try:
        for tick in range(40):
            decisions = mailbox_health_pass(tw.engine, now, settings)  # the line the send tick runs before claiming
            for d in decisions:
                paused_in[d.address] = tick
                with session_scope(tw.engine) as s:
                    row = s.get(MailboxState, d.address)
                    assert row is not None
                    eligible_when_paused[d.address] = row.next_allowed_at is None or row.next_allowed_at <= now
                    kinds = Counter(e.type for e in s.exec(select(Event).where(col(Event.mailbox) == d.address)))
                attempts = kinds[ev.SENT] + kinds[ev.BOUNCED]  # bounces at RCPT have no sent event
                assert kinds[ev.BOUNCED] / attempts > 0.02 and attempts >= 20
                assert d.action == "pause" and d.kind == "bounce_rate"
                assert f"({kinds[ev.BOUNCED]} of {attempts} sends in the last 7d)" in d.reason
            report = await run_tick(tw.ctx, pool, now)
            for c in report.claimed:
                if c.mailbox in paused_in:
                    claims_after_pause[c.mailbox] += 1
            now += timedelta(minutes=5)
    finally:
        await pool.close_all()
    assert paused_in, "a bounce crossed the threshold"
    assert not claims_after_pause, f"paused mailboxes still claimed sends: {claims_after_pause}"
    assert any(eligible_when_paused.values()), "the mailbox would have been free to send in that tick"
    with session_scope(tw.engine) as s:
        states = {m.address: (m.state, m.pause_reason) for m in s.exec(select(MailboxState))}
        late = list(s.exec(select(Event).where(col(Event.type).in_([ev.SENT, ev.BOUNCED]), col(Event.at) >= START)))
    for address, tick in paused_in.items():
        assert states[address][0] == "paused" and "bounce rate" in str(states[address][1])
        pause_at = START + timedelta(minutes=5 * tick)
        assert not [e for e in late if e.mailbox == address and e.at >= pause_at], "nothing left it after the pause"
    assert len(smtp_sink.messages) > 0


def _events_db(tmp_path: Path) -> tuple[object, datetime]:
    engine = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    with session_scope(engine) as s:
        for a in ("a@one.test", "b@one.test", "c@one.test", "x@two.test"):
            s.add(MailboxState(address=a, domain=a.split("@")[1]))
    return engine, START


def test_complaint_auth_failures_resume_and_timer(tmp_path: Path) -> None:
    engine, now = _events_db(tmp_path)
    settings = HealthSettings(resume_after=timedelta(hours=6), auth_failures=2)
    add_events(engine, [{"type": ev.COMPLAINED, "at": now - timedelta(hours=1), "mailbox": "x@two.test", "data": {}}])
    first = mailbox_health_pass(engine, now, settings)  # type: ignore[arg-type]
    assert [(d.address, d.kind) for d in first] == [("x@two.test", "complaint")]
    assert mailbox_health_pass(engine, now, settings) == [], "paused once"  # type: ignore[arg-type]
    # the timer resumes it, and the old complaint is forgiven
    back = mailbox_health_pass(engine, now + timedelta(hours=7), settings)  # type: ignore[arg-type]
    assert [(d.address, d.action) for d in back] == [("x@two.test", "resume")]
    assert mailbox_health_pass(engine, now + timedelta(hours=8), settings) == []  # type: ignore[arg-type]

    # auth failures on two mailboxes of one.test: the engine paused each; the domain rule pauses the third
    for a in ("a@one.test", "b@one.test"):
        add_events(engine, [{"type": ev.MAILBOX_PAUSED, "at": now + timedelta(hours=8), "mailbox": a,
                             "data": {"reason": "auth failure: 535 5.7.8 bad credentials"}}])
        with session_scope(engine) as s:
            change_senders(s, SenderChange("pause", "mailbox", a, "auth failure: 535"), now + timedelta(hours=8))
    third = mailbox_health_pass(engine, now + timedelta(hours=9), settings)  # type: ignore[arg-type]
    assert [(d.address, d.kind) for d in third] == [("c@one.test", "domain_auth")]
    assert "every mailbox of the domain" in third[0].reason
    # a manual resume forgives what came before; no re-pause from old evidence
    assert resume_senders(engine, "@one.test", now + timedelta(hours=9, minutes=30)) == [  # type: ignore[arg-type]
        "a@one.test", "b@one.test", "c@one.test"]
    mailbox_health_pass(engine, now + timedelta(hours=10), settings)  # type: ignore[arg-type]
    again = mailbox_health_pass(engine, now + timedelta(hours=10, minutes=5), settings)  # type: ignore[arg-type]
    with session_scope(engine) as s:  # type: ignore[arg-type]
        states = {m.address: m.state for m in s.exec(select(MailboxState))}
    assert again == [] and states["c@one.test"] == "active"


def _paused_for_auth(engine: object, address: str, at: datetime) -> None:
    """What the engine does on an SMTP auth failure: the mailbox paused, with its event."""
    reason = "auth failure: 535 5.7.8 bad credentials"
    add_events(engine, [{"type": ev.MAILBOX_PAUSED, "at": at, "mailbox": address, "data": {"reason": reason}}])
    with session_scope(engine) as s:  # type: ignore[arg-type]
        change_senders(s, SenderChange("pause", "mailbox", address, reason), at)


def test_an_active_mailbox_is_forgiven_what_came_before_its_last_pause(tmp_path: Path) -> None:
    """The engine paused the mailbox and it was resumed before any pass saw it paused (and no resume
    event was recorded): being active again forgives the failures up to that pause, not later ones."""
    engine, now = _events_db(tmp_path)
    settings = HealthSettings(auth_failures=1)
    _paused_for_auth(engine, "a@one.test", now - timedelta(minutes=30))
    with session_scope(engine) as s:  # type: ignore[arg-type]
        box = s.get(MailboxState, "a@one.test")
        assert box is not None
        box.state, box.pause_reason, box.paused_at = "active", None, None
    assert mailbox_health_pass(engine, now, settings) == []  # type: ignore[arg-type]
    add_events(engine, [{"type": ev.SEND_FAILED, "at": now + timedelta(minutes=5), "mailbox": "a@one.test",
                         "data": {"outcome": "auth_failure"}}])  # a failure after the resume counts
    again = mailbox_health_pass(engine, now + timedelta(minutes=10), settings)  # type: ignore[arg-type]
    assert [(d.address, d.kind) for d in again] == [("a@one.test", "auth")]


def test_a_resume_event_forgives_what_was_recorded_before_it_whatever_its_time(tmp_path: Path) -> None:
    """a@ failed, was resumed (the event stamped by a clock far behind the pass's), then paused by hand:
    its old failure no longer counts towards the domain rule, so b@'s failure alone pauses nothing more."""
    engine, now = _events_db(tmp_path)
    settings = HealthSettings(auth_failure_mailboxes=2)
    _paused_for_auth(engine, "a@one.test", now - timedelta(hours=2))
    add_events(engine, [{"type": ev.MAILBOX_RESUMED, "at": now - timedelta(days=30), "mailbox": "a@one.test",
                         "data": {"reason": "operator"}}])
    with session_scope(engine) as s:  # type: ignore[arg-type]
        box = s.get(MailboxState, "a@one.test")
        assert box is not None
        box.state, box.pause_reason, box.paused_at = "paused", "paused by hand for maintenance", now
    _paused_for_auth(engine, "b@one.test", now - timedelta(hours=1))
    assert mailbox_health_pass(engine, now, settings) == [], "c@one.test stays active"  # type: ignore[arg-type]
    _paused_for_auth(engine, "a@one.test", now + timedelta(minutes=1))  # ... while a new failure counts
    later = mailbox_health_pass(engine, now + timedelta(minutes=2), settings)  # type: ignore[arg-type]
    assert [(d.address, d.kind) for d in later] == [("c@one.test", "domain_auth")]
