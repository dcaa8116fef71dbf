"""A write whose COMMIT fails inside a batch of the recorder (what a full disk does): the failing
write must report its error and the others their own results, never each other's."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from outbound.engine.recorder import Recorder
from outbound.store.db import open_store


async def test_commit_failure_in_a_batch_reports_to_the_right_caller(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    recorder = Recorder(engine)

    def fails_at_commit(session: Session) -> str:
        # a foreign key checked only at COMMIT: the statement succeeds, the commit raises
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(text("INSERT INTO events (type, at, prospect_id, data) VALUES ('x', '2026-01-01', 999999, '{}')"))
        return "bad write"

    def fine(session: Session) -> str:
        session.execute(text("SELECT 1"))
        return "good write"

    results = await asyncio.gather(recorder.write(fails_at_commit), recorder.write(fine), return_exceptions=True)
    assert isinstance(results[0], Exception), f"a write whose commit failed was reported as done: {results}"
    assert results[1] == "good write"
