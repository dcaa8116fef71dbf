"""A stopped account (``Account.stopped_reason``) is read: `enroll` skips its prospects and a send
claimed for one of them stops the enrollment before anything goes out (subprocesses, real sink)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.tables import Account, Enrollment, EnrollmentState, Prospect
from tests.acceptance.conftest import write_csv
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, cli_env, outbound_command
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence

REASON = "rule stop-lost-deals: lost (stop_account)"


def _cli(tw: BuiltWorkspace, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*outbound_command(), "--config", str(tw.root / "config.toml"), *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**cli_env(), "COLUMNS": "250"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def _workspace(tmp_path: Path, sink: SmtpSink) -> BuiltWorkspace:
    return build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN)],
                 [domain("d0.test", sink.port, 1, gap={"min": 0, "max": 0})], settings="[daemon]\nhealth_checks = false\n")


def _stop_account(tw: BuiltWorkspace, company_domain: str) -> None:
    """What the rulebook's ``stop_account`` writes: the account's reason, nothing else."""
    with session_scope(tw.engine) as s:
        account = s.exec(select(Account).where(col(Account.domain) == company_domain)).one()
        account.stopped_reason = REASON


def _enrollments(tw: BuiltWorkspace) -> dict[str, tuple[str, str | None]]:
    with session_scope(tw.engine) as s:
        rows = s.exec(select(Prospect.email, Enrollment.state, Enrollment.reason)
                      .join(Enrollment, col(Enrollment.prospect_id) == col(Prospect.id)))
        return {email: (state, reason) for email, state, reason in rows}


def test_a_prospect_imported_after_its_account_stopped_is_not_enrolled_nor_mailed(smtp_sink: SmtpSink,
                                                                                   tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    first = write_csv(tmp_path / "first.csv", "email,first_name", ["ann@acme.test,Ann"])
    _cli(tw, "prospects", "import", str(first))  # the account row comes with its first prospect
    _stop_account(tw, "acme.test")

    later = write_csv(tmp_path / "later.csv", "email,first_name", ["bob@acme.test,Bob", "cy@other.test,Cy"])
    out = _cli(tw, "prospects", "import", str(later), "--enroll", "seq").stdout
    assert "enrolled 1," in out
    assert f"bob@acme.test: account acme.test stopped: {REASON}" in out
    out = _cli(tw, "enroll", "seq", "--email", "bob@acme.test").stdout
    assert f"skipped bob@acme.test: account acme.test stopped: {REASON}" in out

    _cli(tw, "send", "--once")  # the window is always open and nothing waits: due now
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["cy@other.test"]]
    assert "bob@acme.test" not in _enrollments(tw)


def test_an_enrollment_whose_account_stopped_later_is_stopped_at_claim(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    people = write_csv(tmp_path / "people.csv", "email,first_name", ["bob@acme.test,Bob", "cy@other.test,Cy"])
    _cli(tw, "prospects", "import", str(people), "--enroll", "seq")
    _stop_account(tw, "acme.test")  # written by a rule; the enrollment itself is still active

    _cli(tw, "send", "--once")  # the window is always open and nothing waits: due now
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["cy@other.test"]]
    state = _enrollments(tw)
    assert state["bob@acme.test"] == (EnrollmentState.stopped, f"account acme.test stopped: {REASON}")
    assert state["cy@other.test"][0] == EnrollmentState.active
