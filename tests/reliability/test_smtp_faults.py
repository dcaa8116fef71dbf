"""Each SMTP fault, scripted once against the real engine in simulated time: the send is retried,
bounced or held as unknown with its reason, nothing is lost or sent twice, and the next
transaction goes through once the fault is gone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState, Suppression
from tests.integration.engine.workspace import add_prospects
from tests.reliability.faults import Fault, FaultySmtp
from tests.reliability.harness import Simulation, check_invariants, step_of

PEOPLE = 3
RETRIED = [
    (Fault("greeting", "drop"), "connection_failed"),
    (Fault("greeting", "reply", "421 4.3.2 Service shutting down"), "service_unavailable"),
    (Fault("greeting", "stall", seconds=1.2), "timeout"),
    (Fault("mail", "reply", "421 4.3.2 Service not available, closing channel"), "service_unavailable"),
    (Fault("rcpt", "reply", "451 4.3.0 <{a}>: Temporary local problem"), "temporary_failure"),
    (Fault("rcpt", "reply", "452 4.2.2 <{a}>: Mailbox full, try again later"), "mailbox_full"),
    (Fault("rcpt", "stall", seconds=1.2), "timeout"),
    (Fault("message", "reply", "451 4.3.0 Error: queue file write error"), "temporary_failure"),
]


async def _run(tmp_path: Path, fault: Fault) -> tuple[Simulation, FaultySmtp]:
    server = FaultySmtp(script=[fault]).start()
    sim = Simulation.create(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", server, mailboxes=1,
                            timeout=0.6)
    add_prospects(sim.tw, PEOPLE, "seq")
    try:
        await sim.run(timedelta(hours=3), timedelta(minutes=5))
    except BaseException:
        server.stop()
        raise
    finally:
        await sim.close()
    return sim, server


def _sends(sim: Simulation) -> list[Send]:
    with session_scope(sim.tw.engine) as s:
        return list(s.exec(select(Send).order_by(col(Send.id))))


def _events(sim: Simulation, kind: str) -> list[Event]:
    with session_scope(sim.tw.engine) as s:
        return list(s.exec(select(Event).where(col(Event.type) == kind)))


@pytest.mark.parametrize("fault", [f for f, _ in RETRIED], ids=[f"{f.stage}-{f.label}" for f, _ in RETRIED])
async def test_temporary_fault_is_retried_once_and_delivered_once(tmp_path: Path, fault: Fault) -> None:
    sim, server = await _run(tmp_path, fault)
    server.stop()
    assert sum(server.injected.values()) == 1, "the fault was not injected"
    intros = sorted(r.rcpt for r in server.delivered if step_of(r) == "intro")
    assert len(intros) == PEOPLE and len(set(intros)) == PEOPLE, "each prospect's first step arrived exactly once"
    sends = _sends(sim)
    assert {s.state for s in sends} == {SendState.sent}
    assert sorted(s.attempts for s in sends) == [1] * (PEOPLE - 1) + [2], "exactly one send needed a second attempt"
    assert check_invariants(sim, cap=50) == []


@pytest.mark.parametrize(("fault", "reason"), RETRIED, ids=[f"{f.stage}-{f.label}" for f, _ in RETRIED])
async def test_temporary_fault_reports_its_reason(tmp_path: Path, fault: Fault, reason: str) -> None:
    """One tick only: the send waits as ``retry`` with the classified reason in its last error."""
    server = FaultySmtp(script=[fault]).start()
    sim = Simulation.create(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", server, mailboxes=1, timeout=0.6)
    add_prospects(sim.tw, 1, "seq")
    try:
        report = await sim.tick()
    finally:
        await sim.close()
        server.stop()
    assert [r.status for r in report.results] == ["retry"]
    assert f"({reason})" in report.results[0].detail
    send = _sends(sim)[0]
    assert send.state == SendState.retry and send.last_error and f"({reason})" in send.last_error
    with session_scope(sim.tw.engine) as s:
        enr = s.exec(select(Enrollment)).one()
    assert enr.state == EnrollmentState.active and enr.reason and "retry at" in enr.reason
    assert server.delivered == []


async def test_550_user_unknown_bounces_suppresses_and_sends_nothing_more(tmp_path: Path) -> None:
    sim, server = await _run(tmp_path, Fault("rcpt", "reply", "550 5.1.1 <{a}>: Recipient address rejected: User unknown"))
    server.stop()
    assert len(server.delivered) == PEOPLE - 1
    bounced = [s for s in _sends(sim) if s.state == SendState.bounced]
    assert len(bounced) == 1 and "5.1.1" in (bounced[0].last_error or "")
    with session_scope(sim.tw.engine) as s:
        supp = s.exec(select(Suppression)).one()
        enr = s.get(Enrollment, bounced[0].enrollment_id)
    assert supp.value == bounced[0].to_address and "hard bounce" in supp.reason
    assert enr is not None and enr.state == EnrollmentState.stopped and "5.1.1" in (enr.reason or "")
    assert check_invariants(sim, cap=50) == []


@pytest.mark.parametrize("kept", [True, False], ids=["server-kept-it", "server-lost-it"])
async def test_drop_after_data_is_unknown_then_reconciled_without_duplicate(tmp_path: Path, kept: bool) -> None:
    sim, server = await _run(tmp_path, Fault("message", "drop_after_data", keep=kept))
    try:
        unknown = [s for s in _sends(sim) if s.state == SendState.unknown]
        assert len(unknown) == 1, "a connection lost after DATA must leave the send unknown, never retried"
        assert "no_reply_after_data" in (unknown[0].last_error or "")
        with session_scope(sim.tw.engine) as s:
            enr = s.get(Enrollment, unknown[0].enrollment_id)
        assert enr is not None and enr.state == EnrollmentState.paused and "unconfirmed" in (enr.reason or "")
        assert len(_events(sim, "send_unknown")) == 1
        assert len(server.delivered) == PEOPLE - (0 if kept else 1)

        assert sim.settle() == 1
        await sim.run(timedelta(hours=1), timedelta(minutes=5))
    finally:
        await sim.close()
        server.stop()
    assert sorted(r.rcpt for r in server.delivered if step_of(r) == "intro") == sorted(
        {r.rcpt for r in server.delivered if step_of(r) == "intro"}), "no duplicate after reconciliation"
    assert len([r for r in server.delivered if step_of(r) == "intro"]) == PEOPLE
    assert sim.reconciled == {"found" if kept else "resent": 1}
    assert check_invariants(sim, cap=50) == []


async def test_second_unknown_of_the_same_send_is_recorded(tmp_path: Path) -> None:
    drop = Fault("message", "drop_after_data", keep=False)
    server = FaultySmtp(script=[drop, drop]).start()
    sim = Simulation.create(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", server, mailboxes=1)
    add_prospects(sim.tw, 1, "seq")
    try:
        await sim.tick()
        assert sim.settle() == 1  # not in the "Sent folder": goes again
        sim.now += timedelta(minutes=5)
        report = await sim.tick()  # dropped after DATA again
    finally:
        await sim.close()
        server.stop()
    assert [r.status for r in report.results] == ["unknown"]
    assert len(_events(sim, "send_unknown")) == 2
