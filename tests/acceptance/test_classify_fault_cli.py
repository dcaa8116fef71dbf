"""`outbound classify --json` says whose fault a bounce is: the prospect's, or our sender's."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.fixtures.common import ROOT, corpora_dir

OUTBOUND = ROOT / ".venv" / "bin" / "outbound"


def test_fault_is_shown_for_bounces_only() -> None:
    corpora = corpora_dir() / "bounces"
    files = ["lhost-qmail-18.eml", "lhost-opensmtpd-11.eml", "lhost-postfix-08.eml", "arf-17.eml", "rfc3464-07.eml"]
    command = [str(OUTBOUND)] if OUTBOUND.exists() else [sys.executable, "-m", "outbound.cli.app"]
    proc = subprocess.run([*command, "classify", *(str(corpora / f) for f in files), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    unknown, dmarc, expired, complaint, delay = (json.loads(line) for line in proc.stdout.splitlines() if line.strip())
    assert (unknown["kind"], unknown["reason"], unknown["fault"]) == ("hard_bounce", "user_unknown", "recipient")
    # 5.7.26: the send bounced, but our domain's authentication failed; the prospect is not to blame.
    assert (dmarc["kind"], dmarc["reason"], dmarc["fault"]) == ("soft_bounce", "auth_failure", "domain")
    # Action: failed with 4.4.1 after the retries: a soft bounce of that send, nobody's fault.
    assert (expired["kind"], expired["status"], expired["fault"]) == ("soft_bounce", "4.4.1", "transient")
    assert complaint["kind"] == "complaint" and complaint["fault"] is None
    assert delay["kind"] == "delivery_report" and delay["fault"] is None
