"""`outbound demo` from a fresh clone: the shipped workspace, a built-in sink, simulated time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import ROOT


def _demo(tmp_path: Path, columns: int, days: int = 4) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "outbound"
    return subprocess.Popen([str(exe), "--config", str(ROOT / "config.toml"), "demo", "--days", str(days),
                             "--prospects", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "COLUMNS": str(columns), "HOME": str(tmp_path)})


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_demo_runs_the_shipped_workspace_and_reads_whole_at_80_and_160_columns(tmp_path: Path) -> None:
    runs = {width: _demo(tmp_path, width, days=10) for width in (80, 160)}
    for width, proc in runs.items():
        result = _finish(proc)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        delivered = re.search(r"emails delivered to the sink\s*│\s*(\d+)", result.stdout)
        assert delivered and int(delivered.group(1)) >= 30, result.stdout
        senders = set(re.findall(r"\b[a-z]+@(?:acme-mail\.com|tryacme\.io)\b", result.stdout))
        assert len(senders) >= 3 and any(s.endswith("tryacme.io") for s in senders), "mail rotates across domains"
        assert "…" not in result.stdout, f"something was cut at {width} columns:\n{result.stdout}"
        too_wide = [line for line in result.stdout.splitlines() if len(line) > width]
        assert not too_wide, too_wide
        # every address, time and reason is whole: each recipient address ends in .example
        recipients = re.findall(r"[a-z]+\.\d+@[a-z]+(?:\.[a-z]+)*", result.stdout)
        assert len(recipients) >= 10 and all(r.endswith(".example") for r in recipients), (width, recipients)
        assert re.search(r"Mon \d\d:\d\d (Sydney|Singapore|Berlin|Madrid|New_York)", result.stdout)
        assert "blocked: missing required field(s): company" in result.stdout
