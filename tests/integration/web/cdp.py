"""Driving Debian's headless Chromium over the Chrome DevTools Protocol (a websocket), no browser library.

Chromium is started with ``--remote-debugging-port=0``; it writes the port it chose into
``DevToolsActivePort`` in its fresh profile folder, and /json/list names each page's websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


class ChromiumUnavailable(Exception):
    pass


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab: send commands, wait for events."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.pending:
                self.pending.pop(message["id"]).set_result(message)
            elif "method" in message:
                await self.events.put(message)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, 20)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = await asyncio.wait_for(self.events.get(), max(0.01, deadline - time.monotonic()))
            if event["method"] == method:
                return event

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    async def navigate(self, url: str) -> None:
        self.drain()
        await self.send("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")


@contextlib.asynccontextmanager
async def chromium_page() -> AsyncIterator[Page]:
    """A fresh headless Chromium (its own profile folder) and its first tab; ChromiumUnavailable if it won't start."""
    binary = chromium_binary()
    if binary is None:
        raise ChromiumUnavailable("chromium is not installed (apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="outbound-chromium-"))
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port = await _devtools_port(profile, proc)
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise ChromiumUnavailable("chromium started without a page")
        async with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as ws:
            page = Page(ws)
            await page.send("Page.enable")
            try:
                yield page
            finally:
                page.reader.cancel()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


async def _devtools_port(profile: Path, proc: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise ChromiumUnavailable(f"chromium exited with {proc.returncode}: {err[-800:]}")
        text = marker.read_text() if marker.exists() else ""
        if text.strip():
            return int(text.split()[0])
        await asyncio.sleep(0.05)
    raise ChromiumUnavailable("chromium did not open its DevTools port within 30 s")
