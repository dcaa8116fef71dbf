"""The daemon's connection handling against the real Dovecot: IDLE, kicks, bad passwords,
dead or slow servers, TLS."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from outbound.inbox.imap import ImapClient, ImapConfigError
from outbound.inbox.poller import InMemoryWatermarkStore, PollerOptions, poll_once, run_poller
from tests.fixtures.common import free_port
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.integration.inbox.conftest import RawImap, Recorder, append, mailbox, message, secrets_for

FAST = PollerOptions(command_timeout=5, mailbox_timeout=10, poll_interval=30, backoff_initial=0.05, backoff_max=0.5)


async def _until_watermark(store: InMemoryWatermarkStore, address: str, folder: str = "INBOX") -> None:
    """The daemon finished its first sync of ``folder`` (and is now idling on it)."""
    deadline = time.monotonic() + 10
    while await store.get(address, folder) is None:
        assert time.monotonic() < deadline, "the poller never synced"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word (a hung server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(50)
        yield int(s.getsockname()[1])


async def test_idle_delivers_a_new_message_within_seconds(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    await append(imap, "INBOX", message("old")[1])
    mb = mailbox(imap_mailbox, dovecot.port, folders=["INBOX"])
    store, handler, stop = InMemoryWatermarkStore(), Recorder(), asyncio.Event()
    # poll_interval 30 s: only IDLE can bring the new message in within the 5 s below
    daemon = asyncio.create_task(run_poller([mb], store, handler, stop, secrets_for(imap_mailbox.password), FAST))
    try:
        await handler.wait_for(1)
        await _until_watermark(store, mb.address)
        mid, raw = message("new")
        started = time.monotonic()
        await append(imap, "INBOX", raw)
        await handler.wait_for(2, timeout=5)
        latency = time.monotonic() - started
        assert list(handler.recorded)[-1] == mid
        assert latency < 5
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 10)


async def test_a_kicked_connection_is_survived(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    mb = mailbox(imap_mailbox, dovecot.port, folders=["INBOX"])
    store, handler, stop = InMemoryWatermarkStore(), Recorder(), asyncio.Event()
    daemon = asyncio.create_task(run_poller([mb], store, handler, stop, secrets_for(imap_mailbox.password), FAST))
    try:
        await append(imap, "INBOX", message("before")[1])
        await handler.wait_for(1)
        await _until_watermark(store, mb.address)
        dovecot.kick(mb.address)  # BYE to every session of the user, including the test's own
        imap = await raw_imap(imap_mailbox)
        mid, raw = message("after")
        await append(imap, "INBOX", raw)
        await handler.wait_for(2, timeout=8)
        assert list(handler.recorded)[-1] == mid
        assert [m.uid for m in handler.calls] == [1, 2]
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 10)
    assert daemon.exception() is None


async def test_a_connection_killed_without_bye_is_survived(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    mb = mailbox(imap_mailbox, dovecot.port, folders=["INBOX"])
    store, handler, stop = InMemoryWatermarkStore(), Recorder(), asyncio.Event()
    daemon = asyncio.create_task(run_poller([mb], store, handler, stop, secrets_for(imap_mailbox.password), FAST))
    try:
        imap = await raw_imap(imap_mailbox)
        await append(imap, "INBOX", message("before")[1])
        await handler.wait_for(1)
        await _until_watermark(store, mb.address)
        assert dovecot.kill_sessions(mb.address) >= 1  # the server process dies: no BYE, just EOF
        imap = await raw_imap(imap_mailbox)
        mid, raw = message("after")
        await append(imap, "INBOX", raw)
        # without noticing the lost connection the idling poller would wait poll_interval (30 s)
        await handler.wait_for(2, timeout=8)
        assert list(handler.recorded)[-1] == mid
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 10)


async def test_the_daemon_reports_a_missing_folder_once_and_keeps_polling(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap, caplog: pytest.LogCaptureFixture) -> None:
    imap = await raw_imap(imap_mailbox)
    mb = mailbox(imap_mailbox, dovecot.port)  # INBOX and Junk; there is no Junk
    store, handler, stop = InMemoryWatermarkStore(), Recorder(), asyncio.Event()
    opts = PollerOptions(command_timeout=5, poll_interval=0.1, use_idle=False)
    caplog.set_level(logging.WARNING, logger="outbound.inbox.poller")
    daemon = asyncio.create_task(run_poller([mb], store, handler, stop, secrets_for(imap_mailbox.password), opts))
    try:
        for i in range(3):
            await append(imap, "INBOX", message(f"p{i}")[1])
            await handler.wait_for(i + 1)  # polled, not idled: each needs a new round
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 10)
    junk = [r for r in caplog.records if "'Junk' does not exist" in r.getMessage()]
    assert len(junk) == 1 and len(handler.calls) == 3


async def test_a_wrong_password_is_a_clear_error_not_a_hang(dovecot: DovecotServer, imap_mailbox: MailUser) -> None:
    mb = mailbox(imap_mailbox, dovecot.port)
    started = time.monotonic()
    report = await poll_once([mb], InMemoryWatermarkStore(), Recorder(), secrets_for("not-the-password"), FAST)
    result = report.result(mb.address)
    assert time.monotonic() - started < 3
    assert result.status == "failed"
    assert "refused" in result.reason and mb.address in result.reason
    assert "not-the-password" not in result.reason

    missing = await poll_once([mb], InMemoryWatermarkStore(), Recorder(), lambda name: None, FAST)
    assert "OB_TEST_IMAP_PASSWORD" in missing.result(mb.address).reason


async def test_a_dead_and_a_hung_server_do_not_hold_up_another_mailbox(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap, silent_port: int) -> None:
    imap = await raw_imap(imap_mailbox)
    await append(imap, "INBOX", message("fine")[1])
    good = mailbox(imap_mailbox, dovecot.port, folders=["INBOX"])
    hung = mailbox(dovecot.make_user(), silent_port)
    dead = mailbox(dovecot.make_user(), free_port())  # nothing listens there
    handler = Recorder()
    opts = PollerOptions(command_timeout=1.5, mailbox_timeout=3)
    started = time.monotonic()
    poll = asyncio.create_task(poll_once([hung, dead, good], InMemoryWatermarkStore(), handler,
                                         secrets_for(imap_mailbox.password), opts))
    got_good_after = await handler.wait_for(1, timeout=5)
    report = await poll
    took = time.monotonic() - started
    assert got_good_after < 1.0 < took  # the good mailbox was done long before the hung one gave up
    assert report.result(good.address).status == "ok"
    assert report.result(dead.address).status == "failed"
    assert "cannot talk to" in report.result(dead.address).reason
    assert report.result(hung.address).status == "failed"
    assert "did not answer" in report.result(hung.address).reason
    assert took < 4


async def test_starttls_and_implicit_tls(dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    await append(imap, "INBOX", message("tls")[1])
    trusted = PollerOptions(command_timeout=5, ssl_context=dovecot.ssl_context())
    secrets = secrets_for(imap_mailbox.password)
    for tls, port in (("starttls", dovecot.port), ("implicit", dovecot.tls_port)):
        mb = mailbox(imap_mailbox, port, folders=["INBOX"], tls=tls)  # type: ignore[arg-type]
        report = await poll_once([mb], InMemoryWatermarkStore(), Recorder(), secrets, trusted)
        assert (tls, report.result(mb.address).status, report.fetched) == (tls, "ok", 1)
        # the default context does not trust the throwaway certificate: a clear failure
        untrusted = await poll_once([mb], InMemoryWatermarkStore(), Recorder(), secrets, PollerOptions(command_timeout=5))
        assert untrusted.result(mb.address).status == "failed"
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.result(mb.address).reason


async def test_starttls_is_upgraded_before_login(dovecot: DovecotServer, imap_mailbox: MailUser) -> None:
    client = await ImapClient.connect(dovecot.host, dovecot.port, "starttls", timeout=5,
                                      ssl_context=dovecot.ssl_context())
    try:
        transport = client._imap.protocol.transport
        assert isinstance(transport.get_extra_info("ssl_object"), ssl.SSLObject)
        await client.login(*imap_mailbox)
        assert await client.examine("INBOX") is not None
        with pytest.raises(ImapConfigError):
            await client.login("a\r\nb", "x")
    finally:
        await client.logout()
