"""Settle sends a crash left ``unknown``: did the message reach the mailbox's Sent folder?

Most providers (and our SMTP step, where configured) file a copy of every sent message in Sent,
so a Message-ID found there was sent. A Message-ID not found is only "not proven sent": the caller
decides what to do with it. When the Sent folder cannot be searched at all this raises, rather than
answering "none were sent", which would cause duplicate sends.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from outbound.inbox.imap import ImapCommandError, ImapConfigError
from outbound.inbox.poller import PollerOptions, Secrets, open_session
from outbound.spec.domain import Mailbox


def normalise_message_id(message_id: str) -> str | None:
    """``<id@host>`` as it appears in the header, or None for something that cannot be one."""
    text = message_id.strip()
    if not text or any(c in text for c in "\r\n\x00\"\\ "):
        return None
    if not text.startswith("<"):
        text = f"<{text}>"
    return text if text.endswith(">") and "@" in text else None


async def find_in_sent(mailbox: Mailbox, message_ids: Sequence[str], *, secrets: Secrets = os.environ.get,
                       options: PollerOptions | None = None) -> set[str]:
    """The subset of ``message_ids`` (as given) that a message in the mailbox's Sent folder carries
    in its Message-ID header. Raises :class:`~outbound.inbox.imap.ImapError` when it cannot tell."""
    if not message_ids:
        return set()
    if mailbox.imap is None:
        raise ImapConfigError(f"{mailbox.address} has no IMAP server configured")
    opts = options or PollerOptions()
    folder = mailbox.imap.sent_folder
    client = await open_session(mailbox, secrets, opts)
    found: set[str] = set()
    try:
        if await client.examine(folder) is None:
            raise ImapCommandError(f"{mailbox.address}: the Sent folder {folder!r} does not exist (set imap.sent_folder)")
        for given in message_ids:
            wanted = normalise_message_id(given)
            # HEADER search is a substring match: searching the bracketed form avoids prefix hits
            if wanted is not None and await client.search_header("Message-ID", wanted):
                found.add(given)
    except BaseException:
        client.close()
        raise
    await client.logout()
    return found
