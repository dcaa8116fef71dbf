"""A copy of a message sent by hand (an answer to a reply) in the mailbox's Sent folder, so the
person's mail client shows the whole conversation: APPENDed over IMAP, unless the provider files
one of everything that goes through its SMTP server itself (Google, Microsoft 365), which would
make two."""

from __future__ import annotations

import os

from outbound.inbox.poller import PollerOptions, Secrets, open_session
from outbound.spec.domain import Mailbox, SendingDomain

# SMTP hosts whose provider files every message it relays in the sender's Sent folder
KEEPS_A_COPY = frozenset({"smtp.gmail.com", "smtp.googlemail.com", "smtp.office365.com", "smtp-mail.outlook.com"})


def provider_keeps_copy(domain: SendingDomain, mailbox: Mailbox) -> bool:
    auth = domain.auth_for(mailbox)
    if auth is not None and auth.provider in ("google", "microsoft"):
        return True
    return domain.smtp_for(mailbox).host.strip().lower().rstrip(".") in KEEPS_A_COPY


async def save_sent_copy(domain: SendingDomain, mailbox: Mailbox, payload: bytes, *,
                         secrets: Secrets = os.environ.get, options: PollerOptions | None = None) -> str:
    """Where the copy is, in words: "the provider keeps a copy", "copy appended to FOLDER", or why there
    is none (no IMAP server).
    ImapError when the APPEND fails (the message itself went out)."""
    if provider_keeps_copy(domain, mailbox):
        return "the provider keeps a copy"
    server = domain.imap_for(mailbox)
    if server is None:
        return "no copy in Sent (no IMAP server)"
    box = mailbox.model_copy(update={"imap": server, "auth": domain.auth_for(mailbox)})
    client = await open_session(box, secrets, options or PollerOptions())
    try:
        await client.append(server.sent_folder, payload, flags="(\\Seen)")
    except BaseException:
        client.close()
        raise
    await client.logout()
    return f"copy appended to {server.sent_folder}"
