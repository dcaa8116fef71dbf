"""The reduced soak, run by ``make soak`` (the full one: ``python -m tests.reliability.soak --full``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.soak import SoakConfig, soak


@pytest.mark.soak  # about a minute of CPU: `make soak` runs it, the test command does not
async def test_reduced_soak_keeps_every_invariant(tmp_path: Path) -> None:
    cfg = SoakConfig()
    result = await soak(tmp_path, cfg)
    print(f"\nsoak: {result}")
    assert result.violations == []
    injected = sum(result.faults_injected.values())
    assert injected >= 0.5 * cfg.days * 24 * 60, f"too few faults landed ({injected}) to prove anything"
    assert {"421", "451", "452", "550", "drop", "drop_after_data"} <= set(result.faults_injected)
    assert result.retries > 100 and sum(result.unknown_reconciled.values()) > 10
    assert result.unknown_reconciled.get("found") and result.unknown_reconciled.get("resent")
    # every enrollment ended: completed, stopped by a bounce or a mid-run suppression, or blocked by a send
    # that met a temporary fault on each of its attempts (one fault a minute: a lone retry can, rarely)
    assert set(result.enrollments) <= {"completed", "stopped", "blocked"}, result.enrollments
    assert result.enrollments["completed"] > cfg.prospects // 3
    assert all(r.startswith("gave up after 10 attempts,") for r in result.blocked_reasons), result.blocked_reasons
    assert len(result.blocked_reasons) <= cfg.prospects // 100 and result.sends.get("failed", 0) == len(
        result.blocked_reasons), (result.blocked_reasons, result.sends)
    assert result.sends["sent"] == result.delivered
