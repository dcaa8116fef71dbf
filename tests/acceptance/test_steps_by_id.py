"""`outbound validate` says what an edit of a live sequence does to its enrollments (subprocess,
on a workspace whose SQLite database the real engine filled)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import cli_env, outbound_command
from tests.integration.engine.test_steps_by_id import CASE, TwoGroups, edit, two_groups


def _validate(g: TwoGroups) -> str:
    proc = subprocess.run([*outbound_command(), "--config", str(g.tw.root / "config.toml"), "validate"],
                          capture_output=True, text=True, timeout=60, check=False, env={**cli_env(), "COLUMNS": "250"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def _lines(out: str) -> list[str]:
    """The report's lines, with the sequence file's folder cut off."""
    return [line.split("sequences/", 1)[1] for line in out.splitlines() if "sequences/seq.yaml: " in line]


async def test_validate_reports_a_removed_step_and_where_its_enrollments_go(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    g = await two_groups(tmp_path / "ws", smtp_sink)
    assert _lines(_validate(g)) == [], "the file as the enrollments saw it changes nothing"

    edit(g.tw, lambda steps: [s for s in steps if s["id"] != "bump"])
    assert _lines(_validate(g)) == [
        "seq.yaml: step 'bump' was removed; 2 live enrollments waiting for it move to 'last'"]


async def test_validate_reports_a_new_step_due_for_some_and_skipped_by_others(smtp_sink: SmtpSink,
                                                                               tmp_path: Path) -> None:
    g = await two_groups(tmp_path / "ws", smtp_sink)

    def insert(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [steps[0], CASE, *steps[1:]]

    edit(g.tw, insert)
    out = _validate(g)
    assert _lines(out) == [
        "seq.yaml: new step 'case' at position 2: due for 2 enrollments that have not passed it; "
        "3 have passed it and skip it"]
    assert "1 sequence(s), 1 domain(s), 2 mailbox(es): ok" in out, "the report is information, not an error"


async def test_validate_without_a_database_reports_nothing_more(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    g = await two_groups(tmp_path / "ws", smtp_sink)
    g.tw.engine.dispose()
    for name in ("outbound.db", "outbound.db-wal", "outbound.db-shm"):
        (g.tw.root / name).unlink(missing_ok=True)
    edit(g.tw, lambda steps: steps[:1])
    assert not (g.tw.root / "outbound.db").exists(), "validate never creates the database"
    out = _validate(g)
    assert _lines(out) == [] and not (g.tw.root / "outbound.db").exists()
