"""SIGTERM stops `outbound run` gracefully: the SMTP transaction under way finishes and is recorded,
claims not yet started are handed back, and the process exits 0 in bounded time."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Send, SendState
from tests.integration.engine.daemon_proc import one_step_sequence, slow_sink, start_daemon, wait_until
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain

SETTINGS = """[daemon]
send_interval = 0.2
lease = 30
batch_size = 3
shutdown_grace = 20
health_checks = false
"""


def _states(tw: BuiltWorkspace) -> dict[str, int]:
    with session_scope(tw.engine) as s:
        out: dict[str, int] = {}
        for state in s.exec(select(Send.state)):
            out[state] = out.get(state, 0) + 1
        return out



def test_sigterm_finishes_the_smtp_transaction_and_releases_the_rest(tmp_path: Path) -> None:
    with slow_sink(1.0) as sink:  # every DATA reply takes a second
        tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [one_step_sequence()],
                   [domain("d0.test", sink.port, 1, daily_cap=1000, gap={"min": 0, "max": 0})], settings=SETTINGS)
        add_prospects(tw, 3, "seq", at=datetime.now(UTC) - timedelta(hours=1))
        log = tmp_path / "daemon.log"
        proc = start_daemon(tw.root / "config.toml", log)
        try:
            assert wait_until(lambda: _states(tw).get(SendState.sending, 0) == 1, 20, every=0.05), log.read_text()
            time.sleep(0.3)  # the message data is on its way; the sink answers after a second
            assert _states(tw) == {SendState.sending: 1, SendState.claimed: 2}, "one in SMTP, two queued behind it"
            proc.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            assert proc.wait(timeout=10) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert time.monotonic() - stopped < 5, "the daemon took too long to stop"
        assert len(sink.messages) == 1
        with session_scope(tw.engine) as s:
            sends = list(s.exec(select(Send).order_by(col(Send.id))))
            enrollments = list(s.exec(select(Enrollment)))
        assert [x.state for x in sends].count(SendState.sent) == 1
        sent = next(x for x in sends if x.state == SendState.sent)
        assert sent.message_id == str(sink.messages[0].message["Message-ID"])
        released = [x for x in sends if x.state != SendState.sent]
        assert [x.state for x in released] == [SendState.retry, SendState.retry]
        assert all(x.lease_owner is None and x.attempts == 0 for x in released), "handed back, never attempted"
        assert all(e.state in (EnrollmentState.active, EnrollmentState.completed) for e in enrollments)
        assert "stopped" in log.read_text()

        # the next daemon sends what was handed back, once each
        proc = start_daemon(tw.root / "config.toml", log)
        try:
            assert wait_until(lambda: _states(tw) == {SendState.sent: 3}, 20), log.read_text()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        recipients = sorted(m.rcpt_tos[0] for m in sink.messages)
        assert len(recipients) == 3 and len(set(recipients)) == 3


def test_daemon_hosts_the_unsubscribe_endpoint_when_enabled(tmp_path: Path) -> None:
    import urllib.request

    from tests.fixtures.common import free_port

    port = free_port()
    with slow_sink(0.0) as sink:
        tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [one_step_sequence()],
                   [domain("d0.test", sink.port, 1)],
                   settings=SETTINGS + f"\n[web]\nenabled = true\nport = {port}\n")
        log = tmp_path / "daemon.log"
        proc = start_daemon(tw.root / "config.toml", log)
        try:
            def healthy() -> bool:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                        return bool(r.status == 200)
                except OSError:
                    return False
            assert wait_until(healthy, 20), log.read_text()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not healthy(), "the endpoint stops with the daemon"


def test_the_dashboard_has_its_own_listener_apart_from_the_public_endpoint(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    from tests.fixtures.common import free_port

    def status(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    web, dash = free_port(), free_port()
    with slow_sink(0.0) as sink:
        tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [one_step_sequence()],
                   [domain("d0.test", sink.port, 1)],
                   settings=SETTINGS + f"\n[web]\nenabled = true\nport = {web}\n[dashboard]\nenabled = true\nport = {dash}\n")
        from outbound.app.workspace import secret_problems

        warned = [p.message for p in secret_problems(tw.ctx.workspace, {}.get)]
        assert any("[dashboard] is enabled but no user's password is set (OUTBOUND_DASHBOARD_PASSWORD)" in w
                   for w in warned), warned
        assert not [p for p in secret_problems(tw.ctx.workspace, {"OUTBOUND_DASHBOARD_PASSWORD": "x"}.get)
                    if "dashboard" in p.message]
        log = tmp_path / "daemon.log"
        missing = start_daemon(tw.root / "config.toml", log)  # no password: it says which variable, sends nothing
        assert missing.wait(timeout=30) != 0
        assert "set OUTBOUND_DASHBOARD_PASSWORD" in log.read_text() and "Traceback" not in log.read_text()
        proc = start_daemon(tw.root / "config.toml", log, {"OUTBOUND_DASHBOARD_PASSWORD": "a dashboard password"})
        try:
            assert wait_until(lambda: status(f"http://127.0.0.1:{dash}/login") == 200, 20), log.read_text()
            assert status(f"http://127.0.0.1:{web}/health") == 200
            assert status(f"http://127.0.0.1:{web}/login") == 404, "the public endpoint serves no dashboard page"
            assert status(f"http://127.0.0.1:{dash}/u/anything") == 404, "nor the dashboard the public links"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert status(f"http://127.0.0.1:{dash}/login") == 0, "the dashboard stops with the daemon"
