"""``outbound events add|import`` and ``outbound score`` through the CLI, on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select
from typer.testing import CliRunner

from outbound.cli.app import app
from outbound.core import events as ev
from outbound.store.db import open_store, session_scope
from outbound.store.tables import Event, Prospect, Score
from tests.fixtures.common import DATA
from tests.integration.scoring.helpers import add_people


def _cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(root / "config.toml"), *args])
    return result.exit_code, result.output


def test_events_add_and_import_then_score(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "{url}"\n')
    (tmp_path / "sequences").mkdir()
    (tmp_path / "domains").mkdir()
    engine = open_store(url)
    ids = add_people(engine, ["ann@acme.test", "ben@acme.test"], domain_of={"ann@acme.test": "acme.test",
                                                                            "ben@acme.test": "acme.test"})
    code, out = _cli(tmp_path, "events", "add", "ben@acme.test", "won", "--at", "2026-12-06T12:00:00Z", "--note", "big deal")
    assert code == 0 and "recorded" in out
    code, out = _cli(tmp_path, "events", "add", "ben@acme.test", "won", "--at", "2026-12-06T12:00:00Z")
    assert code == 0 and "already recorded" in out
    code, out = _cli(tmp_path, "events", "add", "zed@acme.test", "won")
    assert code == 1 and "no prospect with the address zed@acme.test" in out
    code, out = _cli(tmp_path, "events", "add", "ben@acme.test", "promoted")
    assert code == 1 and "is not one of" in out

    code, out = _cli(tmp_path, "events", "import", str(DATA / "scoring" / "outcomes.csv"))
    assert code == 0, out
    assert "outcomes.csv:4: no prospect with the address nobody@acme.test" in out
    assert "outcomes.csv:5: type 'promoted' is not one of" in out
    assert "outcomes.csv:6: 'yesterday' is not an ISO 8601" in out
    assert "recorded 3, already known 0, skipped 3" in out
    code, out = _cli(tmp_path, "events", "import", str(DATA / "scoring" / "outcomes.csv"))
    assert "recorded 0, already known 3" in out, "importing the same file twice adds nothing"
    code, out = _cli(tmp_path, "events", "import", str(DATA / "scoring" / "outcomes.jsonl"))
    assert "outcomes.jsonl:2:45: invalid JSON" in out and "outcomes.jsonl:3: expected a JSON object" in out
    assert "recorded 2," in out

    with session_scope(engine) as s:
        rows = list(s.exec(select(Event).order_by(col(Event.id))))
    got = sorted((r.prospect_id, r.type, r.at.isoformat()[:10], r.data.get("note")) for r in rows)
    a, b = ids["ann@acme.test"], ids["ben@acme.test"]
    dated = sorted(g[:3] for g in got if not (g[0] == b and g[1] == ev.QUALIFIED))  # that row has no time: now
    assert dated == sorted([(b, ev.WON, "2026-12-06"), (a, ev.QUALIFIED, "2026-12-01"), (b, ev.MEETING_BOOKED, "2026-12-02"),
                            (a, ev.WON, "2026-12-04"), (a, ev.LOST, "2026-12-05")])
    assert (b, ev.QUALIFIED, None, None) not in got and len(got) == 6
    assert (a, ev.QUALIFIED, "2026-12-01", "good call") in got

    code, out = _cli(tmp_path, "score")
    assert code == 0 and "6 new event(s); 2 prospect(s) and 1 account(s) changed" in out, out
    with session_scope(engine) as s:
        scores = {(x.subject_kind, x.subject): x.score for x in s.exec(select(Score))}
        assert s.get(Prospect, a) is not None
    assert set(scores) == {("prospect", str(a)), ("prospect", str(b)), ("account", "acme.test")}
    code, out = _cli(tmp_path, "score", "--rebuild")
    assert code == 0 and "rebuilt from 6 events" in out
