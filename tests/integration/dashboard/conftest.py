"""A workspace with a seeded history and its dashboard (the app the CLI serves), on each database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from outbound.app.dashboard import build_dashboard
from outbound.scoring.spec import load_scoring
from tests.fixtures.history import History, seed_history
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence

PASSWORD = "a long dashboard password"
MAILBOXES = ["m0@d0.test", "m1@d0.test"]


@dataclass
class Dash:
    tw: BuiltWorkspace
    client: TestClient
    history: History
    sink: SmtpSink
    now: datetime

    def login(self, password: str = PASSWORD) -> int:
        answer = self.client.post("/login", data={"user": "admin", "password": password, "next": "/"},
                                  follow_redirects=False)
        return answer.status_code

    def csrf(self, path: str = "/") -> str:
        page = self.client.get(path).text
        return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def dash(database_url: str, smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[Dash]:
    tw = build(tmp_path / "ws", database_url, [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", smtp_sink.port, 2, daily_cap=50)], settings="[daemon]\nhealth_checks = false\n")
    now = datetime.now(UTC)
    history = seed_history(tw.engine, prospects=120, mailboxes=MAILBOXES, sequence="seq", steps=["intro", "bump", "last"],
                           now=now, days=20, seed=3)
    app = build_dashboard(tw.ctx, load_scoring(tw.root), env={"OUTBOUND_DASHBOARD_PASSWORD": PASSWORD})
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Dash(tw, client, history, smtp_sink, now)
    tw.engine.dispose()
