"""A sequence's referral_sequence must name a sequence of the workspace (file and line in the error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from outbound.errors import WorkspaceError
from tests.integration.engine.workspace import build, domain, three_step_sequence

DOMAINS = [domain("d0.test", 2525, 1)]


def test_an_unknown_referral_sequence_is_an_error_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as caught:
        build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
              [three_step_sequence(referral_sequence="intro")], DOMAINS)
    text = str(caught.value)
    assert "seq.yaml:" in text and "no sending domain" not in text and "referral_sequence 'intro' is not a sequence (known: seq)" in text
    ok = build(tmp_path / "ok", f"sqlite:///{tmp_path / 'ok.sqlite'}",
               [three_step_sequence(referral_sequence="intros"), three_step_sequence("intros")], DOMAINS)
    assert ok.ctx.workspace.sequences["seq"].sequence.referral_sequence == "intros"
