"""The daemon killed with SIGKILL at random moments during a run of 500 sends, and restarted each time:
the sink receives no duplicate, and every message the sink never accepted goes out after a restart."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from outbound.store import outcomes
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Send, SendState
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import (
    ALWAYS_OPEN,
    UNSETTLED,
    log_size,
    slow_sink,
    start_daemon,
    wait_started,
    wait_until,
)
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

PROSPECTS = 250  # x 2 steps = 500 sends
MIN_KILLS, MAX_KILLS = 8, 9
SETTINGS = """[daemon]
send_interval = 0.2
lease = 2
batch_size = 10
shutdown_grace = 10
health_checks = false
"""


def _two_steps() -> dict[str, object]:
    seq = three_step_sequence(window=ALWAYS_OPEN)
    seq["steps"] = [{"id": "intro", "subject": "Hello {{ first_name }}", "body": "Hi {{ first_name }}, intro."},
                    {"id": "bump", "thread": True, "body": "Bumping this, {{ first_name }}."}]
    return seq


def _crash_phase_done(tw: BuiltWorkspace) -> bool:
    """Every enrollment is finished or paused on an unconfirmed send, and no send is in the air."""
    with session_scope(tw.engine) as s:
        active = s.exec(select(Enrollment.id).where(col(Enrollment.state) == EnrollmentState.active)).first()
        unsettled = s.exec(select(Send.id).where(col(Send.state).in_(UNSETTLED))).first()
    return active is None and unsettled is None


def _all_completed(tw: BuiltWorkspace) -> bool:
    with session_scope(tw.engine) as s:
        states = Counter(e for e in s.exec(select(Enrollment.state)))
    return set(states) == {EnrollmentState.completed}


def _received(sink: SmtpSink) -> list[tuple[str, str, str, str | None, str]]:
    """(Message-ID, recipient, step, In-Reply-To, Subject) of each message the sink accepted."""
    with sink.lock:
        got = list(sink.messages)
    out = []
    for m in got:
        msg = m.message
        step = "bump" if "Bumping this" in msg.get_body(("plain",)).get_content() else "intro"  # type: ignore[union-attr]
        out.append((str(msg["Message-ID"]), m.rcpt_tos[0], step, msg["In-Reply-To"], str(msg["Subject"])))
    return out


def _assert_no_duplicates(received: list[tuple[str, str, str, str | None, str]]) -> None:
    ids = Counter(r[0] for r in received)
    pairs = Counter((r[1], r[2]) for r in received)
    assert [i for i, n in ids.items() if n > 1] == [], "a Message-ID reached the sink twice"
    assert [p for p, n in pairs.items() if n > 1] == [], "a (recipient, step) reached the sink twice"


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def test_sigkill_at_random_moments_never_duplicates_nor_loses(tmp_path: Path) -> None:
    started = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _run(tmp_path, procs, started)
    finally:  # a failing assertion must not leave a daemon behind
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def _run(tmp_path: Path, procs: list[subprocess.Popen[bytes]], started: float) -> None:
    with slow_sink(0.03) as sink:  # a wider window for a kill between DATA and its reply
        tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [_two_steps()],
                   [domain("d0.test", sink.port, 4, daily_cap=100000, gap={"min": 0, "max": 0})], settings=SETTINGS)
        people = add_prospects(tw, PROSPECTS, "seq", at=datetime.now(UTC) - timedelta(hours=1))
        config, log = tw.root / "config.toml", tmp_path / "daemon.log"
        rng = random.Random(20261123)
        kills, lives = 0, 0
        while not _crash_phase_done(tw):
            assert time.monotonic() - started < 150, f"no progress: {len(sink.messages)} received; see {log}"
            offset = log_size(log)
            proc = start_daemon(config, log)
            procs.append(proc)
            lives += 1
            if kills < MAX_KILLS:
                assert wait_started(log, offset), f"the daemon did not start; see {log}"
                time.sleep(rng.uniform(0.1, 1.6))  # a random moment while it claims, sends and records
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                kills += 1
            else:
                assert wait_started(log, offset), f"the daemon did not start; see {log}"
                assert wait_until(lambda: _crash_phase_done(tw), 60), f"the run did not settle; see {log}"
                assert _stop(proc) == 0
        assert kills >= MIN_KILLS, f"only {kills} kills: the run finished too fast to test crashes"

        recovered = [int(n) for n in re.findall(r"requeued (\d+); unknown (\d+)", log.read_text()) for n in n]
        assert sum(recovered) > 0, "no kill interrupted claimed work: the test proved nothing"

        received = _received(sink)
        _assert_no_duplicates(received)
        in_sink = {r[0] for r in received}
        with session_scope(tw.engine) as s:
            sends = list(s.exec(select(Send)))
        by_state = Counter(x.state for x in sends)
        assert set(by_state) <= {SendState.sent, SendState.unknown}, by_state
        sent_ids = {x.message_id for x in sends if x.state == SendState.sent}
        assert sent_ids <= in_sink, "a send recorded as sent never reached the sink"
        db_ids = {x.message_id for x in sends}
        assert in_sink <= db_ids, "the sink holds a message the database does not know"
        # Never accepted by the sink -> requeued and sent after a restart (then it is in the sink), or unknown.
        assert all(x.state == SendState.unknown for x in sends if x.message_id not in in_sink)

        unknown = [x for x in sends if x.state == SendState.unknown]
        now = datetime.now(UTC)
        for x in unknown:  # the sink stands in for the IMAP Sent folder
            assert x.id is not None
            outcomes.reconcile(tw.engine, x.id, found_in_sent=x.message_id in in_sink, now=now)

        offset = log_size(log)
        proc = start_daemon(config, log)
        procs.append(proc)
        assert wait_started(log, offset), f"the daemon did not start; see {log}"
        assert wait_until(lambda: _all_completed(tw), 60), f"the final run did not complete; see {log}"
        assert _stop(proc) == 0

        final = _received(sink)
        _assert_no_duplicates(final)
        steps = Counter((r[1], r[2]) for r in final)
        assert set(steps) == {(p.email, step) for p in people for step in ("intro", "bump")}
        intro_ids = {(r[1]): (r[0], r[4]) for r in final if r[2] == "intro"}
        for _mid, rcpt, step, reply_to, subject in final:
            if step == "bump":  # the follow-up threads under the message the prospect really got
                assert reply_to == intro_ids[rcpt][0] and subject == "Re: " + intro_ids[rcpt][1]
        with session_scope(tw.engine) as s:
            left = Counter(x.state for x in s.exec(select(Send)))
        assert left == {SendState.sent: 2 * PROSPECTS}
    print(f"\ncrash test: {kills} SIGKILLs over {lives} daemon lives; {sum(recovered)} leases recovered; {len(unknown)} unknown sends reconciled "
          f"({sum(1 for x in unknown if x.message_id in in_sink)} found in the sink); 0 duplicates; "
          f"{len(final)} messages; {time.monotonic() - started:.1f}s")
