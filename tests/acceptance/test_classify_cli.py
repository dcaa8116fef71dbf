"""`outbound classify ... --json` as a user runs it: a subprocess on corpus files and a missing file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import ROOT, corpora_dir

OUTBOUND = ROOT / ".venv" / "bin" / "outbound"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(OUTBOUND)] if OUTBOUND.exists() else [sys.executable, "-m", "outbound.cli.app"]
    return subprocess.run([*command, "classify", *args], capture_output=True, text=True, timeout=60, check=False)


def test_classify_json_on_corpus_files() -> None:
    corpora = corpora_dir()
    files = [
        corpora / "bounces" / "lhost-postfix-36.eml",
        corpora / "bounces" / "arf-17.eml",
        corpora / "replies" / "sisimai" / "rfc3834-01.eml",
        corpora / "replies" / "talon" / "gmail.eml",
    ]
    proc = _run(*(str(f) for f in files), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [Path(r["file"]).name for r in rows] == [f.name for f in files]
    assert set(rows[0]) == {"file", "kind", "recipients", "status", "reason", "fault", "return_date", "intent", "referral",
                            "follow_up_on"}
    bounce, complaint, vacation, reply = rows
    assert bounce["kind"] == "hard_bounce" and bounce["recipients"] == [
        "otsu-sakaba-hunter-neko-nyaaaaaaan@ezweb.ne.jp"
    ]
    assert bounce["reason"] == "user_unknown"
    assert complaint["kind"] == "complaint"
    assert vacation["kind"] == "auto_reply" and vacation["return_date"] == "2005-05-05"
    assert reply["kind"] == "human_reply"


def test_missing_file_is_an_error_line_and_exit_1(tmp_path: Path) -> None:
    corpora = corpora_dir()
    good = corpora / "bounces" / "lhost-qmail-18.eml"
    proc = _run(str(tmp_path / "nope.eml"), str(good), "--json")
    assert proc.returncode == 1
    assert "nope.eml" in proc.stderr and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert rows[-1]["kind"] == "hard_bounce" and rows[-1]["recipients"] == ["userunknown@libsisimai.net"]


def test_table_output() -> None:
    proc = _run(str(corpora_dir() / "bounces" / "lhost-qmail-18.eml"))
    assert proc.returncode == 0
    assert "hard_bounce" in proc.stdout


def test_without_json_each_reply_shows_its_intent_and_follow_up_date() -> None:
    inbox = ROOT / "tests" / "data" / "inbox"
    proc = _run(str(inbox / "human_interested_de.eml"), str(inbox / "human_not_unsubscribe.eml"))
    assert proc.returncode == 0, proc.stderr
    cards = proc.stdout.split("file: ")[1:]  # piped output: one card per message
    assert "human_interested_de" in cards[0] and "intent: meeting_request" in cards[0]
    assert "human_not_unsubscribe" in cards[1] and "intent: later" in cards[1]
    assert "follow up on: 2025-06-01" in cards[1]
