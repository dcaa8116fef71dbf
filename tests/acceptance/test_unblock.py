"""Blocked enrollments go on once they can: a re-import that fills the missing field, and
`outbound prospects unblock [--sequence S] [--force]` (subprocesses, real SMTP sink)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Prospect, Send, SendState
from tests.acceptance.conftest import write_csv
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, cli_env, outbound_command
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence


def _cli(tw: BuiltWorkspace, *args: str, code: int = 0) -> str:
    proc = subprocess.run([*outbound_command(), "--config", str(tw.root / "config.toml"), *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**cli_env(), "COLUMNS": "250"})
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def _workspace(tmp_path: Path, sink: SmtpSink, settings: str = "") -> BuiltWorkspace:
    seq = three_step_sequence(window=ALWAYS_OPEN, required_fields=["first_name", "company"])
    seq["steps"][0]["body"] = "Hi {{ first_name }}, a note about {{ company | default('your team') }}."
    return build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
                 [domain("d0.test", sink.port, 1, gap={"min": 0, "max": 0})],
                 settings="[daemon]\nhealth_checks = false\n" + settings)


def _states(tw: BuiltWorkspace) -> dict[str, tuple[str, str | None]]:
    with session_scope(tw.engine) as s:
        rows = s.exec(select(Prospect.email, Enrollment.state, Enrollment.reason)
                      .join(Enrollment, col(Enrollment.prospect_id) == col(Prospect.id)))
        return {email: (state, reason) for email, state, reason in rows}


def _blocked_in_status(tw: BuiltWorkspace) -> list[dict[str, object]]:
    return [r for r in json.loads(_cli(tw, "status", "--json"))["stuck"] if r["state"] == "blocked"]


def test_reimporting_the_missing_field_unblocks_and_the_prospect_is_mailed(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    first = write_csv(tmp_path / "first.csv", "email,first_name", ["ann@acme.test,Ann"])
    assert "blocked 1 (missing fields)" in _cli(tw, "prospects", "import", str(first), "--enroll", "seq")
    assert _blocked_in_status(tw) == [{"state": "blocked", "reason": "missing required field(s): company", "count": 1}]
    _cli(tw, "send", "--once")
    assert smtp_sink.messages == []

    fixed = write_csv(tmp_path / "fixed.csv", "email,first_name,company", ["ann@acme.test,Ann,Acme"])
    out = _cli(tw, "prospects", "import", str(fixed))  # no --enroll: the enrollment exists already
    assert "updated 1" in out
    assert "unblocked 1 enrollment(s) that were blocked for missing fields" in out
    assert _states(tw)["ann@acme.test"] == (EnrollmentState.active, None)
    assert _blocked_in_status(tw) == []

    _cli(tw, "send", "--once")
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["ann@acme.test"]]
    assert "a note about Acme" in smtp_sink.messages[0].message.get_content()


def test_a_reimport_that_still_lacks_a_field_keeps_the_block(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    first = write_csv(tmp_path / "first.csv", "email,title", ["bo@acme.test,CTO"])
    _cli(tw, "prospects", "import", str(first), "--enroll", "seq")
    assert _states(tw)["bo@acme.test"] == (EnrollmentState.blocked, "missing required field(s): first_name, company")
    half = write_csv(tmp_path / "half.csv", "email,first_name", ["bo@acme.test,Bo"])
    out = _cli(tw, "prospects", "import", str(half))
    assert "unblocked 0 enrollment(s) that were blocked for missing fields; 1 still lack a required field" in out
    assert _states(tw)["bo@acme.test"] == (EnrollmentState.blocked, "missing required field(s): company")


def test_unblock_command_rechecks_missing_fields_and_is_idempotent(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    people = write_csv(tmp_path / "people.csv", "email,first_name", ["cy@acme.test,Cy", "dee@beta.test,Dee"])
    _cli(tw, "prospects", "import", str(people), "--enroll", "seq")
    assert {s for s, _ in _states(tw).values()} == {EnrollmentState.blocked}

    still = _cli(tw, "prospects", "unblock", "--sequence", "seq")
    assert "unblocked 0 (missing fields now present), still missing fields 2" in still

    path = tw.root / "sequences" / "seq.yaml"  # the sequence no longer needs the company
    seq = json.loads(path.read_text())
    seq["required_fields"] = ["first_name"]
    path.write_text(json.dumps(seq))
    assert "unblocked 2 (missing fields now present), still missing fields 0" in _cli(tw, "prospects", "unblock")
    assert "unblocked 0 (missing fields now present), still missing fields 0" in _cli(tw, "prospects", "unblock")

    _cli(tw, "send", "--once")
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == ["cy@acme.test", "dee@beta.test"]


def test_other_blocks_are_listed_and_left_alone_unless_forced(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink, "[sending]\nretry_limit = 1\n")  # the first 4xx gives up
    people = write_csv(tmp_path / "people.csv", "email,first_name,company", ["eve@acme.test,Eve,Acme"])
    _cli(tw, "prospects", "import", str(people), "--enroll", "seq")
    smtp_sink.script.append("451")
    _cli(tw, "send", "--once", code=1)  # the send gave up: the tick says so
    state, reason = _states(tw)["eve@acme.test"]
    assert state == EnrollmentState.blocked and reason is not None and reason.startswith("gave up after 1 attempts")

    listed = _cli(tw, "prospects", "unblock")
    assert "1 blocked for other reasons, left alone (--force makes them active again):" in listed
    assert f"eve@acme.test (seq): {reason}" in listed
    assert _states(tw)["eve@acme.test"] == (EnrollmentState.blocked, reason)
    _cli(tw, "send", "--once")
    assert smtp_sink.messages == []

    assert "forced 1 blocked for other reasons" in _cli(tw, "prospects", "unblock", "--force")
    assert _states(tw)["eve@acme.test"] == (EnrollmentState.active, None)
    _cli(tw, "send", "--once")
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["eve@acme.test"]]
    with session_scope(tw.engine) as s:
        sends = s.exec(select(Send.step_id, Send.state)).all()
    assert sends == [("intro", SendState.sent)], "the send that gave up went out, once"
