"""Pure parsing helpers of the IMAP client and the poller (no sockets)."""

from __future__ import annotations

import asyncio

import aioimaplib
import pytest

from outbound.inbox.imap import (
    ImapClient,
    ImapCommandError,
    ImapConfigError,
    encode_folder,
    parse_examine,
    parse_fetch,
    parse_search,
)
from outbound.inbox.poller import backoff_delay
from outbound.inbox.reconcile import normalise_message_id


def test_parse_fetch_reads_bytearray_literals_with_the_uid_before_or_after() -> None:
    lines: list[bytes | bytearray] = [
        b"1 FETCH (UID 7 BODY[] {5}",
        bytearray(b"hello"),
        b")",
        b"2 FETCH (BODY[] {3}",
        bytearray(b"abc"),
        b" UID 9)",
        b"3 FETCH (FLAGS (\\Seen) UID 10)",  # an unsolicited flag update: no body, skipped
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    assert parse_fetch(lines) == [(7, b"hello"), (9, b"abc")]


def test_parse_fetch_of_nothing() -> None:
    assert parse_fetch([b"Fetch completed."]) == []


def test_parse_search_ignores_the_completion_line() -> None:
    assert parse_search([b"3 4 12", b"Search completed (0.001 + 0.000 secs)."]) == [3, 4, 12]
    assert parse_search([b"", b"Search completed."]) == []
    assert parse_search([b"Search completed 2 3."]) == []


def test_parse_examine() -> None:
    state = parse_examine(
        "INBOX",
        [
            b"FLAGS (\\Seen)",
            b"4 EXISTS",
            b"0 RECENT",
            b"OK [UIDVALIDITY 1795347029] UIDs valid",
            b"OK [UIDNEXT 9] Predicted next UID",
            b"[READ-ONLY] Examine completed.",
        ],
    )
    assert (state.uidvalidity, state.uidnext, state.exists) == (1795347029, 9, 4)
    with pytest.raises(ImapCommandError):
        parse_examine("INBOX", [b"4 EXISTS", b"Examine completed."])


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", '"INBOX"'),
        ("Sent Items", '"Sent Items"'),
        ("[Gmail]/Sent Mail", '"[Gmail]/Sent Mail"'),
        ("R&D", '"R&-D"'),
        ("Entwürfe", '"Entw&APw-rfe"'),
        ("日本語", '"&ZeVnLIqe-"'),
        ('say "hi"', '"say \\"hi\\""'),
    ],
)
def test_encode_folder_is_quoted_modified_utf7(name: str, wire: str) -> None:
    assert encode_folder(name) == wire


def test_encode_folder_refuses_control_characters() -> None:
    with pytest.raises(ImapConfigError):
        encode_folder("INBOX\r\nA1 DELETE INBOX")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("<a.b@example.test>", "<a.b@example.test>"),
        (" a.b@example.test ", "<a.b@example.test>"),
        ("no-at-sign", None),
        ("<a@b>\r\nX: y", None),
        ('<a"@b>', None),
        ("", None),
    ],
)
def test_normalise_message_id(given: str, expected: str | None) -> None:
    assert normalise_message_id(given) == expected


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    full = [backoff_delay(n, 1.0, 60.0, jitter=1.0) for n in range(1, 9)]
    assert full == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert backoff_delay(3, 1.0, 60.0, jitter=0.0) == 2.0
    assert all(2.0 <= backoff_delay(3, 1.0, 60.0) <= 4.0 for _ in range(50))


class _FakeImap:
    """Just enough of aioimaplib.IMAP4 for ImapClient.uids_after."""

    def __init__(self, search_result: bytes) -> None:
        self.search_result = search_result
        self.calls: list[str] = []

    async def noop(self) -> aioimaplib.Response:
        self.calls.append("NOOP")
        return aioimaplib.Response("OK", [b"NOOP completed."])

    async def uid_search(self, *criteria: str, charset: str | None = "utf-8") -> aioimaplib.Response:
        self.calls.append("UID SEARCH " + " ".join(criteria))
        return aioimaplib.Response("OK", [self.search_result, b"Search completed."])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"5", []),  # "UID 6:*" matched the highest UID, 5, which is not new
        (b"6 7", [6, 7]),
        (b"", []),
    ],
)
async def test_uids_after_sends_noop_first_and_drops_the_star_match(answer: bytes, expected: list[int]) -> None:
    fake = _FakeImap(answer)
    client = ImapClient(fake, "test:143", 1.0, asyncio.Event())
    assert await client.uids_after(5) == expected
    assert fake.calls == ["NOOP", "UID SEARCH UID 6:*"]
