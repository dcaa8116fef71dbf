"""Helpers for tests that run the real `outbound run` daemon as a subprocess against a loopback sink."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from outbound.store.tables import SendState
from tests.fixtures.common import ROOT, free_port
from tests.fixtures.smtp_sink import SmtpSink, _Handler
from tests.integration.engine.workspace import SECRET, three_step_sequence

OUTBOUND = ROOT / ".venv" / "bin" / "outbound"
ALWAYS_OPEN = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59",
               "timezone": "UTC"}
# sends still in the air: a run is settled when none is left in these states
UNSETTLED = [SendState.claimed, SendState.sending, SendState.retry]


def one_step_sequence() -> dict[str, object]:
    """The three-step test sequence cut to its first step, with a window that is always open."""
    seq = three_step_sequence(window=ALWAYS_OPEN)
    seq["steps"] = seq["steps"][:1]
    return seq


def outbound_command() -> list[str]:
    if OUTBOUND.exists():
        return [str(OUTBOUND)]
    return [sys.executable, "-c", "from outbound.cli.app import main; main()"]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OUTBOUND_DATABASE_URL", "OUTBOUND_CONFIG")}
    env["OUTBOUND_SECRET"] = SECRET.decode()
    return env


def start_daemon(config: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*outbound_command(), "--config", str(config), "run"], stdout=out,
                                stderr=subprocess.STDOUT, env=cli_env() | (env or {}), cwd=config.parent)


def start_dashboard(config: Path, port: int, log: Path, password: str) -> subprocess.Popen[bytes]:
    """``outbound dashboard --port PORT`` as a user starts it, its one user's password in the environment."""
    with log.open("ab") as out:
        return subprocess.Popen([*outbound_command(), "--config", str(config), "dashboard", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT,
                                env=cli_env() | {"OUTBOUND_DASHBOARD_PASSWORD": password}, cwd=config.parent)


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def wait_started(log: Path, offset: int, timeout: float = 30) -> bool:
    """A daemon started after ``log`` had ``offset`` bytes is up (its signal handlers are installed)."""
    def up() -> bool:
        with log.open("rb") as f:
            f.seek(offset)
            return b" started: " in f.read()
    return wait_until(up, timeout, every=0.05)


class _SlowHandler(_Handler):
    """Waits ``delay`` seconds after the message data arrived, before accepting it."""

    def __init__(self, sink: SmtpSink, delay: float) -> None:
        super().__init__(sink)
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def slow_sink(delay: float) -> Iterator[SmtpSink]:
    """An in-process aiosmtpd sink (it outlives the daemons) whose DATA reply takes ``delay`` seconds."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink("127.0.0.1", free_port())
    ctl = Controller(_SlowHandler(sink, delay), hostname=sink.host, port=sink.port, server_hostname="sink.test")
    ctl.start()
    try:
        yield sink
    finally:
        ctl.stop()
