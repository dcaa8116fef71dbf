"""Headless Chromium (the Debian binary, driven by Playwright) against `outbound dashboard` as a user
starts it, on a workspace with a seeded history whose mailboxes send to a loopback SMTP sink."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.common import free_port, unavailable, wait_for_port
from tests.fixtures.history import History, seed_history
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, cli_env, outbound_command, start_dashboard
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence

PASSWORD = "browser test password"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    return os.environ.get("OUTBOUND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped on purpose: Playwright's sync API keeps an event loop running in this thread while it
    is open, and every asyncio test run after it in the same worker would find that loop."""
    path = chromium_path()
    if path is None:
        unavailable("no chromium binary (apt install chromium, or set OUTBOUND_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROME_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Served:
    url: str
    tw: BuiltWorkspace
    history: History
    sink: SmtpSink
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*outbound_command(), "--config", str(self.tw.root / "config.toml"), *args],
                              capture_output=True, text=True, timeout=60, check=False, env=self.env)


@pytest.fixture
def served(smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[Served]:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'outbound.db'}", [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", smtp_sink.port, 2, daily_cap=50)], settings="[daemon]\nhealth_checks = false\n")
    history = seed_history(tw.engine, prospects=300, mailboxes=["m0@d0.test", "m1@d0.test"], sequence="seq",
                           steps=["intro", "bump", "last"], now=datetime.now(UTC), days=24, seed=11)
    port, log = free_port(), tmp_path / "dashboard.log"
    env = cli_env() | {"OUTBOUND_DASHBOARD_PASSWORD": PASSWORD}
    proc = start_dashboard(tw.root / "config.toml", port, log, PASSWORD)
    try:
        assert wait_for_port(port, 30), (tmp_path / "dashboard.log").read_text()
        yield Served(f"http://127.0.0.1:{port}", tw, history, smtp_sink, env)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0, log.read_text()
        text = log.read_text()
        assert "Traceback" not in text, text
        tw.engine.dispose()
