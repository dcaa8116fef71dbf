"""sync_folder's watermark logic against a fake in-memory IMAP folder (no sockets)."""

from __future__ import annotations

import asyncio

from outbound.core.watermark import Watermark
from outbound.inbox.imap import FolderState
from outbound.inbox.poller import FetchedMessage, InMemoryWatermarkStore, sync_folder


class FakeFolderClient:
    """Duck-types the ImapClient calls sync_folder makes, over one folder held in memory."""

    def __init__(
        self, uidvalidity: int, messages: dict[int, bytes], exists: bool = True, vanish: set[int] | None = None
    ) -> None:
        self.uidvalidity = uidvalidity
        self.messages = messages
        self.exists = exists
        self.vanish = vanish or set()  # expunged between SEARCH and FETCH
        self.searches: list[int] = []

    async def examine(self, folder: str) -> FolderState | None:
        if not self.exists:
            return None
        return FolderState(folder, self.uidvalidity, max(self.messages, default=0) + 1, len(self.messages))

    async def uids_after(self, last_uid: int) -> list[int]:
        self.searches.append(last_uid)
        return sorted(u for u in self.messages if u > last_uid)

    async def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        return [(u, self.messages[u]) for u in uids if u in self.messages and u not in self.vanish]


class Collect:
    def __init__(self, fail_on: int | None = None) -> None:
        self.got: list[FetchedMessage] = []
        self.fail_on = fail_on

    async def __call__(self, msg: FetchedMessage) -> None:
        if msg.uid == self.fail_on:
            raise RuntimeError("boom")
        self.got.append(msg)


def _msgs(*uids: int) -> dict[int, bytes]:
    return {u: f"Message-ID: <{u}@x>\r\n\r\n".encode() for u in uids}


async def test_first_sync_hands_over_everything_in_uid_order_in_batches() -> None:
    client, store, handler = FakeFolderClient(7, _msgs(1, 2, 5, 9)), InMemoryWatermarkStore(), Collect()
    result = await sync_folder(client, "a@x.test", "INBOX", store, handler, batch=2)  # type: ignore[arg-type]
    assert (result.status, result.fetched) == ("ok", 4)
    assert [m.uid for m in handler.got] == [1, 2, 5, 9]
    assert {m.uidvalidity for m in handler.got} == {7}
    assert await store.get("a@x.test", "INBOX") == Watermark(7, 9)


async def test_resumes_above_the_watermark_and_skips_search_when_nothing_is_new() -> None:
    store = InMemoryWatermarkStore()
    await store.set("a@x.test", "INBOX", Watermark(7, 5))
    client, handler = FakeFolderClient(7, _msgs(1, 2, 5, 9)), Collect()
    await sync_folder(client, "a@x.test", "INBOX", store, handler)  # type: ignore[arg-type]
    assert [m.uid for m in handler.got] == [9] and client.searches == [5]
    again = FakeFolderClient(7, _msgs(1, 2, 5, 9))
    await sync_folder(again, "a@x.test", "INBOX", store, handler)  # type: ignore[arg-type]
    assert again.searches == []  # UIDNEXT 10 <= watermark 9 + 1


async def test_uidvalidity_change_rescans_from_the_start() -> None:
    store = InMemoryWatermarkStore()
    await store.set("a@x.test", "INBOX", Watermark(7, 50))
    client, handler = FakeFolderClient(8, _msgs(1, 2)), Collect()
    await sync_folder(client, "a@x.test", "INBOX", store, handler)  # type: ignore[arg-type]
    assert client.searches == [0]
    assert [(m.uidvalidity, m.uid) for m in handler.got] == [(8, 1), (8, 2)]
    assert await store.get("a@x.test", "INBOX") == Watermark(8, 2)


async def test_an_empty_recreated_folder_still_records_its_new_uidvalidity() -> None:
    store = InMemoryWatermarkStore()
    await store.set("a@x.test", "INBOX", Watermark(7, 50))
    await sync_folder(FakeFolderClient(8, {}), "a@x.test", "INBOX", store, Collect())  # type: ignore[arg-type]
    assert await store.get("a@x.test", "INBOX") == Watermark(8, 0)


async def test_a_handler_failure_keeps_the_watermark_before_the_failed_message() -> None:
    store, handler = InMemoryWatermarkStore(), Collect(fail_on=3)
    result = await sync_folder(FakeFolderClient(7, _msgs(1, 2, 3, 4)), "a@x.test", "INBOX", store, handler)  # type: ignore[arg-type]
    assert result.status == "failed" and "uid 3" in result.reason and "boom" in result.reason
    assert [m.uid for m in handler.got] == [1, 2]
    assert await store.get("a@x.test", "INBOX") == Watermark(7, 2)


async def test_messages_expunged_before_fetch_are_stepped_over() -> None:
    store, handler = InMemoryWatermarkStore(), Collect()
    client = FakeFolderClient(7, _msgs(1, 2, 3), vanish={2, 3})
    await sync_folder(client, "a@x.test", "INBOX", store, handler)  # type: ignore[arg-type]
    assert [m.uid for m in handler.got] == [1]
    assert await store.get("a@x.test", "INBOX") == Watermark(7, 3)


async def test_a_missing_folder_is_reported_and_nothing_is_stored() -> None:
    store = InMemoryWatermarkStore()
    result = await sync_folder(FakeFolderClient(7, {}, exists=False), "a@x.test", "Junk", store, Collect())  # type: ignore[arg-type]
    assert (result.status, result.fetched) == ("missing", 0) and "Junk" in result.reason
    assert store.marks == {}


async def test_stop_ends_the_pass_between_messages() -> None:
    store, stop = InMemoryWatermarkStore(), asyncio.Event()
    got: list[int] = []

    async def handler(msg: FetchedMessage) -> None:
        got.append(msg.uid)
        if msg.uid == 2:
            stop.set()

    await sync_folder(FakeFolderClient(7, _msgs(1, 2, 3)), "a@x.test", "INBOX", store, handler, stop=stop)  # type: ignore[arg-type]
    assert got == [1, 2]
    assert await store.get("a@x.test", "INBOX") == Watermark(7, 2)


def test_mailboxes_with_imap_resolve_the_domain_default() -> None:
    from outbound.inbox.poller import mailboxes_with_imap
    from outbound.spec.domain import SendingDomain

    domain = SendingDomain.model_validate(
        {
            "domain": "acme.test",
            "smtp": {"host": "smtp.acme.test"},
            "imap": {"host": "imap.acme.test", "password_env": "ACME_IMAP"},
            "mailboxes": [
                {"address": "a@acme.test"},
                {"address": "b@acme.test", "imap": {"host": "other.test", "folders": ["INBOX"]}},
            ],
        }
    )
    bare = SendingDomain.model_validate(
        {"domain": "bare.test", "smtp": {"host": "smtp.bare.test"}, "mailboxes": [{"address": "c@bare.test"}]}
    )
    got = mailboxes_with_imap([domain, bare])
    assert [(m.address, m.imap.host if m.imap else None) for m in got] == [
        ("a@acme.test", "imap.acme.test"),
        ("b@acme.test", "other.test"),
    ]
    assert got[0].imap is not None and got[0].imap.folders == ["INBOX", "Junk"]
    assert domain.mailboxes[0].imap is None  # the spec objects are not modified
