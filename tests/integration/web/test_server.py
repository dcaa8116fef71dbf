"""Hosting the link server: in a host process's event loop, and as `outbound serve`."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from outbound.errors import ConfigError
from outbound.web.app import create_app
from outbound.web.server import bind, serve_in_background
from tests.integration.web.harness import SECRET, cli_server


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)


async def test_serves_beside_other_tasks_and_stops_when_told(sqlite_store: Engine) -> None:
    """What the daemon does: the server is one task of its loop; setting ``stop`` ends it."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    task = asyncio.create_task(serve_in_background(create_app(sqlite_store, SECRET), "127.0.0.1", port, stop, sock=sock))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(100):
            try:
                answer = await client.get("/health")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.02)
        assert answer.status_code == 200
        started = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, 10)  # an idle keep-alive connection does not hold it up
    assert time.monotonic() - started < 6
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_outbound_serve_answers_and_exits_cleanly_on_sigterm(sqlite_store: Engine, tmp_path: Path) -> None:
    with cli_server(tmp_path / "ws", str(sqlite_store.url)) as server:
        assert httpx.get(f"{server.base}/health").json() == {"status": "ok"}
        assert httpx.get(f"{server.base}/u/forged.token").status_code == 404
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        out = server.proc.stdout.read().decode() if server.proc.stdout else ""
        err = server.proc.stderr.read().decode() if server.proc.stderr else ""
    assert "link server on http://127.0.0.1:" in out
    assert "Traceback" not in err and "forged.token" not in out + err  # no access log of tokens
