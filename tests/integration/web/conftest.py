"""Fixtures of the link-server tests: a migrated store and a factory of running servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import Engine

from outbound.spec.sequence import Tracking
from outbound.store.db import open_store
from tests.integration.web.harness import SECRET, ServerThread


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    engine = open_store(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path}/web.db")
    yield engine
    engine.dispose()


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(engine: Engine, tracking: Mapping[str, Tracking] | None = None, secret: bytes = SECRET) -> ServerThread:
        server = ServerThread(engine, tracking, secret).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
