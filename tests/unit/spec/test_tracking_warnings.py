"""`outbound validate` warns about open/click conditions that the sequence's tracking settings make constant."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from outbound.app.workspace import inspect_workspace, load_workspace
from outbound.cli.app import app
from outbound.spec.sequence import Condition, Sequence, untracked_conditions
from tests.fixtures.common import ROOT

SEQUENCE = """\
name: x
senders: {{domains: [acme-mail.com]}}
tracking: {{opens: {opens}, clicks: {clicks}}}
steps:
  - id: intro
    subject: hello
    body: first
  - id: bump
    wait: 3d
    thread: true
    if: {condition}
    on_false: {on_false}
    body: second
"""


@pytest.fixture(autouse=True)
def _passwords_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example mailboxes' passwords are set, as on a machine that sends (an unset one is a warning)."""
    for folder in (ROOT / "domains", ROOT / "outbound" / "workspace_template" / "domains"):
        for path in folder.glob("*.yaml"):
            for env in re.findall(r"password_env: (\w+)", path.read_text()):
                monkeypatch.setenv(env, "set")


def _workspace(tmp_path: Path, condition: str, *, opens: bool = False, clicks: bool = False,
               on_false: str = "skip") -> Path:
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///outbound.db"\n')
    shutil.copytree(ROOT / "domains", tmp_path / "domains")
    (tmp_path / "sequences").mkdir()
    (tmp_path / "sequences" / "x.yaml").write_text(SEQUENCE.format(
        condition=condition, opens=str(opens).lower(), clicks=str(clicks).lower(), on_false=on_false))
    return tmp_path / "config.toml"


@pytest.mark.parametrize(("condition", "flag", "always"), [
    ("opened", "opens", "always false: the step is never sent (on_false: skip)"),
    ("not_opened", "opens", "always true: its on_false never applies"),
    ("clicked", "clicks", "always false: the step is never sent (on_false: skip)"),
    ("not_clicked", "clicks", "always true: its on_false never applies"),
])
def test_condition_on_untracked_opens_or_clicks_is_a_warning_with_file_line_and_field(
        tmp_path: Path, condition: str, flag: str, always: str) -> None:
    config = _workspace(tmp_path, condition)
    ws = load_workspace(config)  # a warning: the workspace still loads
    assert "x" in ws.sequences and ws.errors == []
    [warning] = [p for p in ws.problems if p.severity == "warning"]
    assert (Path(str(warning.path)), warning.line, warning.column) == (tmp_path / "sequences" / "x.yaml", 11, 5)
    assert warning.message == (f"step 'bump' if: {condition} — {flag[:-1]} tracking is off for this sequence "
                               f"(tracking.{flag}: false), so this condition is {always}")
    assert str(warning).startswith(f"{tmp_path / 'sequences' / 'x.yaml'}:11:5: warning: step 'bump' if: {condition}")


def test_on_false_stop_says_every_enrollment_stops(tmp_path: Path) -> None:
    ws = inspect_workspace(_workspace(tmp_path, "clicked", opens=True, on_false="stop"))
    assert [p.message.rsplit("so this condition is ", 1)[1] for p in ws.problems] == [
        "always false: every enrollment that reaches it stops (on_false: stop)"]


@pytest.mark.parametrize(("condition", "opens", "clicks"), [
    ("opened", True, False), ("not_opened", True, False), ("clicked", False, True), ("not_clicked", False, True),
    ("no_reply", False, False), ("always", False, False),
])
def test_no_warning_when_the_condition_is_tracked_or_needs_no_tracking(
        tmp_path: Path, condition: str, opens: bool, clicks: bool) -> None:
    ws = inspect_workspace(_workspace(tmp_path, condition, opens=opens, clicks=clicks))
    assert ws.problems == []


def test_every_open_or_click_condition_is_checked() -> None:
    """A new condition kind that reads tracking must be added to TRACKED_BY, or it goes unchecked."""
    flagged = set()
    for cond in Condition:
        seq = Sequence.model_validate({"name": "x", "senders": {"domains": ["d.test"]}, "steps": [
            {"id": "a", "subject": "s", "body": "b"}, {"id": "b", "body": "b", "thread": True, "if": cond.value}]})
        if untracked_conditions(seq):
            flagged.add(cond.value)
    assert flagged == {c.value for c in Condition if "open" in c.value or "click" in c.value}


def test_validate_prints_the_warning_and_succeeds(tmp_path: Path) -> None:
    config = _workspace(tmp_path, "opened")
    result = CliRunner().invoke(app, ["--config", str(config), "validate"])
    assert result.exit_code == 0, result.output
    assert "sequences/x.yaml:11:5: warning: step 'bump' if: opened — open tracking is off" in result.output
    assert result.output.rstrip().endswith("ok")


@pytest.mark.parametrize("root", [ROOT, ROOT / "outbound" / "workspace_template"], ids=["shipped", "template"])
def test_example_workspaces_have_no_warnings(root: Path) -> None:
    ws = inspect_workspace(root / "config.toml")
    assert ws.problems == []
