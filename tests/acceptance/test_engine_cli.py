"""`outbound send --once [--dry-run]` and `outbound status --json` as a user runs them (subprocess)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlmodel import select

from outbound.store.db import session_scope
from outbound.store.tables import Send
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, cli_env, outbound_command
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

NOW = "2026-11-24T10:00:00Z"


def _cli(tw: BuiltWorkspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(), "COLUMNS": "250"}  # rich tables must not truncate addresses
    return subprocess.run([*outbound_command(), "--config", str(tw.root / "config.toml"), *args], capture_output=True,
                          text=True, timeout=60, check=False, env=env)


def _workspace(tmp_path: Path, sink: SmtpSink) -> tuple[BuiltWorkspace, list[str], list[str]]:
    seq = three_step_sequence(window=ALWAYS_OPEN, required_fields=["first_name", "company"])
    seq["steps"][0]["body"] = "Hi {{ first_name }} at {{ company }}"
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
               [domain("d0.test", sink.port, 2, daily_cap=7, gap={"min": 0, "max": 0})],
               settings="[daemon]\nhealth_checks = false\n")
    ready = [p.email for p in add_prospects(tw, 3, "seq", seed=1, source="ready", company="Acme")]
    lacking = [p.email for p in add_prospects(tw, 1, "seq", seed=2, source="lacking")]  # no company
    return tw, ready, lacking


def test_dry_run_shows_what_would_go_out_and_sends_nothing(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw, ready, lacking = _workspace(tmp_path, smtp_sink)
    proc = _cli(tw, "send", "--once", "--dry-run", "--now", NOW)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for email in ready:
        assert email in proc.stdout
    assert lacking[0] not in proc.stdout
    assert "m0@d0.test" in proc.stdout and "m1@d0.test" in proc.stdout, "the sends spread over both mailboxes"
    assert "claimed 3" in proc.stdout
    assert smtp_sink.messages == []
    with session_scope(tw.engine) as s:
        assert s.exec(select(Send)).all() == [], "a dry run leaves nothing behind"


def test_send_once_sends_and_status_reports_caps_and_blocked(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw, ready, lacking = _workspace(tmp_path, smtp_sink)
    proc = _cli(tw, "send", "--once", "--now", NOW)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("delivered") == 3
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == sorted(ready)
    senders = [m.message["From"].addresses[0].addr_spec for m in smtp_sink.messages]

    again = _cli(tw, "send", "--once", "--now", NOW)  # nothing is due twice
    assert again.returncode == 0 and "claimed 0" in again.stdout
    assert len(smtp_sink.messages) == 3

    proc = _cli(tw, "status", "--json", "--now", NOW)
    assert proc.returncode == 0, proc.stderr
    st = json.loads(proc.stdout)
    boxes = {m["address"]: m for m in st["mailboxes"]}
    assert set(boxes) == {"m0@d0.test", "m1@d0.test"}
    for address, box in boxes.items():
        assert box["sent_today"] == senders.count(address)
        assert box["cap_today"] == 7 and box["state"] == "active"
    assert st["sends"]["sent"] == 3
    blocked = [r for r in st["stuck"] if r["state"] == "blocked"]
    assert blocked == [{"state": "blocked", "reason": "missing required field(s): company", "count": len(lacking)}]

    table = _cli(tw, "status", "--now", NOW)
    assert table.returncode == 0 and "missing required field(s): company" in table.stdout
