"""Helpers for the poller tests: a spec Mailbox pointing at the test Dovecot, a raw aioimaplib
session to APPEND/CREATE/DELETE with, and unique test messages."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import make_msgid

import aioimaplib
import pytest

from outbound.inbox.imap import TlsMode
from outbound.inbox.poller import FetchedMessage
from outbound.spec.domain import ImapServer, Mailbox
from tests.fixtures.mail_servers import DovecotServer, MailUser

PW_ENV = "OB_TEST_IMAP_PASSWORD"


def secrets_for(password: str) -> Callable[[str], str | None]:
    return {PW_ENV: password}.get


def mailbox(user: MailUser, port: int, folders: list[str] | None = None, tls: TlsMode = "none",
            host: str = "127.0.0.1") -> Mailbox:
    imap = ImapServer(host=host, port=port, tls=tls, password_env=PW_ENV,
                      **({"folders": folders} if folders is not None else {}))
    return Mailbox(address=user.address, imap=imap)


def message(subject: str = "hello", msgid: str | None = None) -> tuple[str, bytes]:
    """(Message-ID, CRLF bytes) of a small unique message."""
    mid = msgid or make_msgid(domain="example.test")
    raw = (f"From: someone@remote.test\r\nTo: me@example.test\r\nSubject: {subject}\r\n"
           f"Message-ID: {mid}\r\n\r\nbody of {subject}\r\n").encode()
    return mid, raw


class Recorder:
    """A handler that records what it was given, optionally deduplicating on Message-ID."""

    def __init__(self, dedup: bool = False) -> None:
        self.calls: list[FetchedMessage] = []
        self.recorded: dict[str, FetchedMessage] = {}
        self.dedup = dedup
        self.arrived = asyncio.Event()

    async def __call__(self, msg: FetchedMessage) -> None:
        self.calls.append(msg)
        mid = message_id(msg.raw)
        if not (self.dedup and mid in self.recorded):
            self.recorded[mid] = msg
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> float:
        """Wait until ``count`` calls happened; seconds it took."""
        start = time.monotonic()
        while len(self.calls) < count:
            self.arrived.clear()
            remaining = timeout - (time.monotonic() - start)
            if remaining <= 0:
                raise AssertionError(f"only {len(self.calls)} of {count} messages after {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return time.monotonic() - start


def message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


RawImap = Callable[[MailUser], Awaitable[aioimaplib.IMAP4]]


@pytest.fixture
async def raw_imap(dovecot: DovecotServer) -> AsyncIterator[RawImap]:
    """Log in with plain aioimaplib (the test's own hands: APPEND, CREATE, DELETE)."""
    opened: list[tuple[aioimaplib.IMAP4, asyncio.Event]] = []

    async def login(user: MailUser) -> aioimaplib.IMAP4:
        gone = asyncio.Event()
        imap = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.port, timeout=10,
                                conn_lost_cb=lambda exc: gone.set())
        await imap.wait_hello_from_server()
        assert (await imap.login(user.address, user.password)).result == "OK"
        opened.append((imap, gone))
        return imap

    yield login
    for imap, gone in opened:
        if not gone.is_set():  # a kicked session would only time out
            with contextlib.suppress(Exception):
                await asyncio.wait_for(imap.logout(), 2)


async def append(imap: aioimaplib.IMAP4, folder: str, raw: bytes) -> int:
    """APPEND and return the new UID (Dovecot answers [APPENDUID validity uid])."""
    resp = await imap.append(raw, mailbox=folder)
    assert resp.result == "OK", resp
    return int(bytes(resp.lines[-1]).split(b"APPENDUID ", 1)[1].split(b"]")[0].split()[1])


def unique_folder() -> str:
    return f"F{uuid.uuid4().hex[:8]}"
