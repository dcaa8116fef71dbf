"""The reduced soak (the full one: ``python -m tests.reliability.soak --full``)."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.soak import SoakConfig, soak


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
    # every enrollment ended: completed, or stopped by a bounce or a mid-run suppression
    assert set(result.enrollments) <= {"completed", "stopped"} and result.enrollments["completed"] > cfg.prospects // 3
    assert result.sends["sent"] == result.delivered
