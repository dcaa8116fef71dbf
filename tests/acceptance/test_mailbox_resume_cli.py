"""`outbound mailboxes resume` after SMTP authentication failures sticks: the next tick does not pause
the mailboxes again for the failures recorded before the resume (subprocesses on a real store and sink)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, cli_env, outbound_command
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, domain, three_step_sequence

NOW = "2026-11-24T10:00:00Z"
LATER = "2026-11-24T10:10:00Z"
BOXES = ["m0@d0.test", "m1@d0.test"]


def _cli(tw: BuiltWorkspace, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(), "COLUMNS": "250", "SMTP_PW": password}
    proc = subprocess.run([*outbound_command(), "--config", str(tw.root / "config.toml"), *args], capture_output=True,
                          text=True, timeout=60, check=False, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _states(tw: BuiltWorkspace) -> dict[str, tuple[str, str | None]]:
    proc = _cli(tw, "status", "--json", "--now", LATER, password="")
    assert proc.returncode == 0, proc.stderr
    return {m["address"]: (m["state"], m["pause_reason"]) for m in json.loads(proc.stdout)["mailboxes"]}


def test_a_resume_forgives_the_auth_failures_recorded_before_it(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    smtp_sink.auth.update({address: "right password" for address in BOXES})
    d0 = domain("d0.test", smtp_sink.port, 2, gap={"min": 0, "max": 0})
    d0["smtp"]["password_env"] = "SMTP_PW"
    # one failure is enough for the health rule, so a pause from old evidence shows on either mailbox
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN)], [d0],
               settings="[daemon]\nhealth_checks = false\n[health]\nauth_failures = 1\n")
    add_prospects(tw, 4, "seq")

    failed = _cli(tw, "send", "--once", "--now", NOW, password="wrong password")
    assert failed.returncode == 1, failed.stderr  # sends did not go out and mailboxes were paused
    paused = _states(tw)
    assert {a for a, (state, _) in paused.items() if state == "paused"} == set(BOXES), paused
    assert all("auth" in str(reason) for _, reason in paused.values()), paused
    assert smtp_sink.messages == []

    # the operator fixed the password and resumes the domain's mailboxes
    resumed = _cli(tw, "mailboxes", "resume", "@d0.test", password="right password")
    assert resumed.returncode == 0, resumed.stderr
    assert "m0@d0.test" in resumed.stdout and "m1@d0.test" in resumed.stdout

    again = _cli(tw, "send", "--once", "--now", LATER, password="right password")
    assert again.returncode == 0, again.stderr
    assert _states(tw) == {a: ("active", None) for a in BOXES}, "the resume did not stick"
    assert "delivered" in again.stdout and smtp_sink.messages, again.stdout
