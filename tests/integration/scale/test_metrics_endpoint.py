"""`outbound run` with [metrics] enabled serves Prometheus text on /metrics: the sends it made, its
tick durations, and today's cap usage per mailbox from the database."""

from __future__ import annotations

import re
import signal
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fixtures.common import free_port
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, slow_sink, start_daemon, wait_until
from tests.integration.engine.workspace import add_prospects, build, domain, three_step_sequence

SETTINGS = """[daemon]
send_interval = 0.2
health_checks = false
"""


def _scrape(port: int, path: str = "/metrics") -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return str(r.read().decode())
    except (OSError, urllib.error.URLError):
        return ""


def _value(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def test_the_daemon_serves_send_and_cap_metrics(tmp_path: Path) -> None:
    port = free_port()
    seq = three_step_sequence(window=ALWAYS_OPEN)
    seq["steps"] = seq["steps"][:1]
    with slow_sink(0.0) as sink:
        tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
                   [domain("d0.test", sink.port, 2, daily_cap=5, gap={"min": 0, "max": 0})],
                   settings=SETTINGS + f"\n[metrics]\nenabled = true\nport = {port}\n")
        add_prospects(tw, 12, "seq", at=datetime.now(UTC) - timedelta(hours=1))  # 10 fit under the caps
        proc = start_daemon(tw.root / "config.toml", tmp_path / "daemon.log")
        try:
            assert wait_until(lambda: len(sink.messages) == 10, 30), (tmp_path / "daemon.log").read_text()
            assert wait_until(lambda: _value(_scrape(port), "outbound_sent_total") == 10, 10)
            # the sent ones are completed by the next tick; the two the caps held back wait for tomorrow
            assert wait_until(lambda: _value(_scrape(port), "outbound_queue_depth") == 0, 10)
            text = _scrape(port)
            assert _scrape(port, "/nope") == ""  # 404
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert _value(text, 'outbound_send_results_total{result="delivered"}') == 10
    assert (_value(text, "outbound_tick_duration_seconds_count") or 0) >= 1
    for box in ("m0@d0.test", "m1@d0.test"):
        assert _value(text, f'outbound_mailbox_sent_today{{mailbox="{box}"}}') == 5
        assert _value(text, f'outbound_mailbox_cap_usage_ratio{{mailbox="{box}"}}') == 1.0
    assert _value(text, 'outbound_sends_in_state{state="claimed"}') == 0
    assert _scrape(port) == "", "the endpoint stops with the daemon"
