"""The send benchmark still runs end to end (its figures are measured by hand, never asserted here)."""

from __future__ import annotations

import json

import pytest

from bench import bench_send


def test_bench_send_runs_and_reports_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    bench_send.main(["--backend", "sqlite", "--sends", "40", "--mailboxes", "2", "--rounds", "1", "--what-if",
                     "--json"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    sqlite = figures["sqlite"]
    assert sqlite["sends"] == 40 and sqlite["connections"] == 2
    for key in ("engine_per_s", "plain_per_s", "ratio", "engine_cpu_ms_per_send", "plain_cpu_ms_per_send",
                "engine_cpu_budget_ms_at_target"):
        assert sqlite[key] > 0, key  # the bench raises itself when the sink did not get every message
    assert sqlite["sink_cpu_ms_per_message"] >= 0  # read in clock ticks of 10 ms: 40 messages may show none
    assert set(figures["what_if_sqlite_ratio"]) == set(bench_send.WHAT_IF)
    assert all(ratio > 0 for ratio in figures["what_if_sqlite_ratio"].values())
