"""Prometheus metrics: tick counters from delivery results, and the scrape-time gauges from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import generate_latest
from sqlmodel import col, select

from outbound.engine.metrics import EngineMetrics
from outbound.metrics import registry_for, snapshot
from outbound.store.db import session_scope
from outbound.store.mailboxes import day_of
from outbound.store.tables import Enrollment, MailboxState, Send, SendState
from tests.integration.engine.workspace import add_prospects, build, domain, three_step_sequence

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_a_tick_counts_each_result_once_in_the_right_families() -> None:
    m = EngineMetrics()
    m.observe_tick(["delivered", "delivered", "hard_bounce", "soft_bounce", "retry", "unknown", "released"], 0.3,
                   requeued=2, unknown=1)
    m.observe_tick(["delivered"], 7.0)
    value = m.registry.get_sample_value
    assert value("outbound_sent_total") == 3
    assert value("outbound_send_results_total", {"result": "delivered"}) == 3
    assert value("outbound_send_results_total", {"result": "released"}) == 1
    assert value("outbound_bounces_total", {"kind": "hard"}) == 1
    assert value("outbound_bounces_total", {"kind": "soft"}) == 1
    assert value("outbound_send_failures_total") == 2  # retry and unknown; a handed-back claim is no failure
    assert value("outbound_leases_recovered_total", {"outcome": "requeued"}) == 2
    assert value("outbound_tick_duration_seconds_count") == 2
    assert value("outbound_tick_duration_seconds_sum") == 7.3
    assert value("outbound_tick_duration_seconds_bucket", {"le": "0.5"}) == 1
    assert value("outbound_tick_duration_seconds_bucket", {"le": "10.0"}) == 2


def test_the_gauges_read_queue_depth_unsettled_sends_and_cap_usage(tmp_path: Path) -> None:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence()],
               [domain("d0.test", 2525, 2, daily_cap=20)])
    add_prospects(tw, 6, "seq", at=NOW - timedelta(days=1))
    with session_scope(tw.engine) as s:
        enrollments = list(s.exec(select(Enrollment).order_by(col(Enrollment.id))))
        later = s.get(Enrollment, enrollments[0].id)
        assert later is not None
        later.next_due_at = NOW + timedelta(hours=2)  # planned for later: not in the queue
        box = s.get(MailboxState, "m0@d0.test")
        assert box is not None
        box.last_send_day, box.sent_on_last_day, box.send_days = day_of(NOW), 5, 1
        stale = s.get(MailboxState, "m1@d0.test")
        assert stale is not None
        stale.last_send_day, stale.sent_on_last_day, stale.state = day_of(NOW - timedelta(days=1)), 9, "paused"
        s.add(Send(enrollment_id=enrollments[1].id, prospect_id=enrollments[1].prospect_id, sequence_name="seq",
                   step_id="intro", step_index=0, mailbox="m0@d0.test", to_address="x@y.test", to_domain="y.test",
                   state=SendState.retry, claimed_at=NOW))

    snap = snapshot(tw.engine, tw.ctx.workspace.mailboxes(), NOW)
    assert snap.due == 5
    assert snap.sends == {"claimed": 0, "sending": 0, "retry": 1, "unknown": 0}
    assert snap.mailboxes == [("m0@d0.test", "active", 5, 20), ("m1@d0.test", "paused", 0, 20)]  # yesterday's 9 reset

    text = generate_latest(registry_for(tw.engine, tw.ctx.workspace.mailboxes, EngineMetrics(), lambda: NOW)).decode()
    assert 'outbound_mailbox_cap_usage_ratio{mailbox="m0@d0.test"} 0.25' in text
    assert 'outbound_mailbox_paused{mailbox="m1@d0.test"} 1.0' in text
    assert "outbound_database_up 1.0" in text
    assert "outbound_tick_duration_seconds_count 0.0" in text


def test_a_scrape_survives_an_unreachable_database(tmp_path: Path) -> None:
    from outbound.store.db import make_engine

    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    text = generate_latest(registry_for(broken, dict, EngineMetrics())).decode()
    assert "outbound_database_up 0.0" in text
    assert "outbound_sent_total 0.0" in text
