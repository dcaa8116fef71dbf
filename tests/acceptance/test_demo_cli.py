"""`outbound demo` from a fresh clone: the shipped workspace, a built-in sink, simulated time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import ROOT


def test_demo_runs_the_shipped_workspace(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "outbound"
    result = subprocess.run([str(exe), "--config", str(ROOT / "config.toml"), "demo", "--days", "4", "--prospects", "30"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    delivered = re.search(r"emails delivered to the sink\s*│\s*(\d+)", result.stdout)
    assert delivered and int(delivered.group(1)) >= 30, result.stdout
    assert "missing required field(s): company" in result.stdout  # the demo shows a blocked prospect and why
    senders = set(re.findall(r"\b[a-z]+@(?:acme-mail\.com|tryacme\.io)\b", result.stdout))
    assert len(senders) >= 3 and any(s.endswith("tryacme.io") for s in senders), "mail rotates across domains"
