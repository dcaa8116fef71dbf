"""Four `outbound run` daemons share one PostgreSQL: 5,000 sends through 20 mailboxes whose caps add
up to exactly 5,000, one daemon SIGKILLed mid-run. The sink (the Sent-folder stand-in for the
unknown sends) must end with every message once, and exactly each mailbox's cap from each mailbox."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

from outbound.store import outcomes
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, MailboxState, Send, SendState
from tests.integration.engine.daemon_proc import (
    UNSETTLED,
    one_step_sequence,
    slow_sink,
    start_daemon,
    wait_started,
    wait_until,
)
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain

DAEMONS, MAILBOXES, CAP = 4, 20, 250
PROSPECTS = MAILBOXES * CAP  # the caps add up to exactly the work: one slot too many taken and a send is left over
SETTINGS = """[daemon]
send_interval = 0.2
lease = 5
batch_size = 40
shutdown_grace = 10
health_checks = false
"""



def _settled(tw: BuiltWorkspace) -> bool:
    """No enrollment left to send and no send in the air (unknown sends wait, paused)."""
    with session_scope(tw.engine) as s:
        active = s.exec(select(Enrollment.id).where(col(Enrollment.state) == EnrollmentState.active)).first()
        unsettled = s.exec(select(Send.id).where(col(Send.state).in_(UNSETTLED))).first()
    return active is None and unsettled is None


def _snapshot(tw: BuiltWorkspace) -> str:
    """Where the work stands, for a failure message."""
    with session_scope(tw.engine) as s:
        enrollments = Counter(f"{e.state}: {e.reason}" for e in s.exec(select(Enrollment)) if e.state != "completed")
        sends = Counter(s.exec(select(Send.state)))
        counters = {m.address: m.sent_on_last_day for m in s.exec(select(MailboxState)) if m.sent_on_last_day != CAP}
    return f"enrollments not completed {dict(enrollments)}; sends {dict(sends)}; counters off cap {counters}"


def _held_by(tw: BuiltWorkspace, pid: int) -> int:
    """Sends the daemon with this pid holds a lease on (worker ids are host:pid:random)."""
    with session_scope(tw.engine) as s:
        return int(s.exec(select(func.count()).select_from(Send).where(
            col(Send.lease_owner).like(f"%:{pid}:%"), col(Send.state).in_([SendState.claimed, SendState.sending]))).one())


def test_four_daemons_share_the_work_within_caps_and_survive_a_sigkill(tmp_path: Path, postgres_url: str) -> None:
    started = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _run(tmp_path, postgres_url, procs, started)
    finally:  # a failing assertion must not leave daemons behind
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def _run(tmp_path: Path, url: str, procs: list[subprocess.Popen[bytes]], started: float) -> None:
    with slow_sink(0.01) as sink:  # a little time between DATA and its reply, where a kill makes `unknown`
        tw = build(tmp_path / "ws", url, [one_step_sequence()],
                   [domain("d0.test", sink.port, MAILBOXES, daily_cap=CAP, gap={"min": 0, "max": 0})],
                   settings=SETTINGS)
        people = add_prospects(tw, PROSPECTS, "seq", at=datetime.now(UTC) - timedelta(hours=1))
        config = tw.root / "config.toml"
        logs = [tmp_path / f"daemon{i}.log" for i in range(DAEMONS)]
        for log in logs:
            procs.append(start_daemon(config, log))
        for log in logs:
            assert wait_started(log, 0), f"a daemon did not start; see {log}"

        # SIGKILL one daemon while it holds claims, once a good part of the work is done
        victim = procs[1]
        assert wait_until(lambda: len(sink.messages) >= PROSPECTS // 4, 60), "the daemons are not sending"
        assert wait_until(lambda: _held_by(tw, victim.pid) > 0, 20, every=0.01), "the victim never held a claim"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        orphaned = _held_by(tw, victim.pid)
        assert len(sink.messages) < PROSPECTS, "the run ended before the kill: it proved nothing"

        assert wait_until(lambda: _settled(tw), 60), \
            f"the run did not settle; {len(sink.messages)} received; {_snapshot(tw)}"
        with session_scope(tw.engine) as s:
            sends = list(s.exec(select(Send)))
        in_sink = {str(m.message["Message-ID"]) for m in sink.messages}
        assert {x.message_id for x in sends if x.state == SendState.sent} <= in_sink
        assert all(x.state == SendState.unknown for x in sends if x.message_id not in in_sink)
        unknown = [x for x in sends if x.state == SendState.unknown]
        now = datetime.now(UTC)
        for x in unknown:  # the sink stands in for the mailbox's Sent folder
            assert x.id is not None
            outcomes.reconcile(tw.engine, x.id, found_in_sent=x.message_id in in_sink, now=now)

        def all_completed() -> bool:
            with session_scope(tw.engine) as s:
                return set(s.exec(select(Enrollment.state))) == {EnrollmentState.completed}
        assert wait_until(all_completed, 60), \
            f"the survivors did not finish; {len(sink.messages)} received; {_snapshot(tw)}"
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=30) for p in procs if p is not victim] == [0] * (DAEMONS - 1)

        with sink.lock:
            got = list(sink.messages)
        ids = Counter(str(m.message["Message-ID"]) for m in got)
        rcpts = Counter(m.rcpt_tos[0] for m in got)
        assert [i for i, n in ids.items() if n > 1] == [], "a Message-ID reached the sink twice"
        assert [r for r, n in rcpts.items() if n > 1] == [], "a prospect got the step twice"
        assert set(rcpts) == {p.email for p in people}, "a prospect never got the step"
        per_mailbox = Counter(m.mail_from for m in got)
        assert per_mailbox == {f"m{i}@d0.test": CAP for i in range(MAILBOXES)}
        with session_scope(tw.engine) as s:
            assert Counter(s.exec(select(Send.state))) == {SendState.sent: PROSPECTS}
            counters = {m.address: m.sent_on_last_day for m in s.exec(select(MailboxState))}
        assert counters == dict(per_mailbox), "the cap counters disagree with what was sent"

        recovered = [int(n) for log in logs for pair in re.findall(r"requeued (\d+); unknown (\d+)", log.read_text())
                     for n in pair]
        workers = {m.group(1) for log in logs for m in re.finditer(r"daemon (\S+) started", log.read_text())}
    assert len(workers) == DAEMONS
    assert orphaned > 0, "the kill interrupted no claimed work: the test proved nothing"
    assert sum(recovered) >= orphaned, "the killed daemon's leases were not all recovered"
    print(f"\nmulti-daemon: {DAEMONS} daemons, {PROSPECTS} sends, {len(set(per_mailbox))} mailboxes at cap {CAP}; "
          f"{orphaned} leases orphaned by SIGKILL, {sum(recovered)} recovered, {len(unknown)} unknown reconciled; "
          f"0 duplicates; {time.monotonic() - started:.1f}s")
