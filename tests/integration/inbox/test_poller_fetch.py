"""poll_once against the real Dovecot: each message once, restarts, UIDVALIDITY changes, read-only."""

from __future__ import annotations

import asyncio

from outbound.inbox.poller import (
    FetchedMessage,
    InMemoryWatermarkStore,
    PollerOptions,
    Watermark,
    poll_once,
    run_poller,
)
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.integration.inbox.conftest import RawImap, Recorder, append, mailbox, message, message_id, secrets_for

FAST = PollerOptions(command_timeout=5, mailbox_timeout=10, poll_interval=0.2, backoff_initial=0.05)


async def test_appended_messages_are_fetched_once_and_left_unread(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    ids = []
    for i in range(3):
        mid, raw = message(f"m{i}")
        ids.append(mid)
        await append(imap, "INBOX", raw)
    mb = mailbox(imap_mailbox, dovecot.port)  # folders INBOX and Junk; Junk does not exist yet
    store, handler = InMemoryWatermarkStore(), Recorder()
    secrets = secrets_for(imap_mailbox.password)

    first = await poll_once([mb], store, handler, secrets, FAST)
    result = first.result(mb.address)
    assert result.status == "ok" and result.fetched == 3
    assert [f.status for f in result.folders] == ["ok", "missing"]
    assert "Junk" in result.folders[1].reason
    assert [m.uid for m in handler.calls] == [1, 2, 3]
    assert list(handler.recorded) == ids
    assert all(m.raw.endswith(b"\r\n") and m.folder == "INBOX" for m in handler.calls)

    # nothing new: nothing handed over again
    again = await poll_once([mb], store, handler, secrets, FAST)
    assert again.fetched == 0 and len(handler.calls) == 3

    # Junk appears with a message; a new INBOX message too
    assert (await imap.create("Junk")).result == "OK"
    junk_id, raw = message("spam")
    await append(imap, "Junk", raw)
    new_id, raw = message("m3")
    await append(imap, "INBOX", raw)
    third = await poll_once([mb], store, handler, secrets, FAST)
    assert third.fetched == 2
    assert list(handler.recorded)[3:] == [new_id, junk_id]
    assert (await store.get(mb.address, "Junk")) is not None

    # BODY.PEEK + EXAMINE: the poller marked nothing as read
    assert (await imap.select("INBOX")).result == "OK"
    flags = await imap.uid("fetch", "1:*", "(FLAGS)")
    assert b"\\Seen" not in b" ".join(bytes(line) for line in flags.lines)


async def test_restart_in_the_middle_neither_misses_nor_repeats(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    ids = []
    for i in range(5):
        mid, raw = message(f"r{i}")
        ids.append(mid)
        await append(imap, "INBOX", raw)
    mb = mailbox(imap_mailbox, dovecot.port, folders=["INBOX"])
    store = InMemoryWatermarkStore()
    done: list[str] = []
    reached_third = asyncio.Event()

    async def crashing(msg: FetchedMessage) -> None:
        mid = message_id(msg.raw)
        if mid == ids[2]:
            reached_third.set()
            await asyncio.Event().wait()  # the process dies while handling the third message
        done.append(mid)

    stop = asyncio.Event()
    daemon = asyncio.create_task(run_poller([mb], store, crashing, stop, secrets_for(imap_mailbox.password), FAST))
    await asyncio.wait_for(reached_third.wait(), 10)
    daemon.cancel()  # a crash: no graceful shutdown
    await asyncio.gather(daemon, return_exceptions=True)
    assert done == ids[:2]
    mark = await store.get(mb.address, "INBOX")
    assert mark is not None and mark.last_uid == 2

    # a new poller with the same store resumes exactly at the third message
    handler = Recorder()
    report = await poll_once([mb], store, handler, secrets_for(imap_mailbox.password), FAST)
    assert report.fetched == 3
    assert done + list(handler.recorded) == ids
    assert [m.uid for m in handler.calls] == [3, 4, 5]


async def test_uidvalidity_change_rescans_and_dedup_keeps_one_record(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    assert (await imap.create("Box")).result == "OK"
    msgs = [message(f"v{i}") for i in range(2)]
    for _, raw in msgs:
        await append(imap, "Box", raw)
    mb = mailbox(imap_mailbox, dovecot.port, folders=["Box"])
    store, handler = InMemoryWatermarkStore(), Recorder(dedup=True)
    secrets = secrets_for(imap_mailbox.password)
    assert (await poll_once([mb], store, handler, secrets, FAST)).fetched == 2
    before = await store.get(mb.address, "Box")
    assert before is not None and before.last_uid == 2

    # the folder is deleted and recreated (e.g. restored from a backup): same mail, new UIDVALIDITY
    assert (await imap.delete("Box")).result == "OK"
    assert (await imap.create("Box")).result == "OK"
    for _, raw in msgs:
        await append(imap, "Box", raw)
    new_id, raw = message("v-new")
    await append(imap, "Box", raw)
    report = await poll_once([mb], store, handler, secrets, FAST)

    after = await store.get(mb.address, "Box")
    assert after is not None and after.uidvalidity != before.uidvalidity
    assert after == Watermark(after.uidvalidity, 3)
    # the whole new folder was rescanned (not just UIDs above the old watermark 2) ...
    assert report.fetched == 3
    assert [(m.uidvalidity, m.uid) for m in handler.calls[2:]] == [(after.uidvalidity, u) for u in (1, 2, 3)]
    # ... and the dedup on Message-ID recorded every message exactly once
    assert list(handler.recorded) == [msgs[0][0], msgs[1][0], new_id]


async def test_handler_failure_does_not_advance_the_watermark(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    for i in range(3):
        await append(imap, "INBOX", message(f"h{i}")[1])
    mb = mailbox(imap_mailbox, dovecot.port, folders=["INBOX"])
    store, seen = InMemoryWatermarkStore(), []
    fail_on = {2}

    async def flaky(msg: FetchedMessage) -> None:
        uid = msg.uid
        if uid in fail_on:
            fail_on.clear()
            raise RuntimeError("database down")
        seen.append(uid)

    first = await poll_once([mb], store, flaky, secrets_for(imap_mailbox.password), FAST)
    assert first.result(mb.address).status == "failed"
    assert "uid 2" in first.result(mb.address).reason and "database down" in first.result(mb.address).reason
    mark = await store.get(mb.address, "INBOX")
    assert mark is not None and mark.last_uid == 1
    second = await poll_once([mb], store, flaky, secrets_for(imap_mailbox.password), FAST)
    assert second.result(mb.address).status == "ok"
    assert seen == [1, 2, 3]
