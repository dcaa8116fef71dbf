"""The full loop: a send through the test Postfix to an unknown local user comes back as a real
DSN in the sender's INBOX, and the poller fetches it."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from outbound.inbox.poller import InMemoryWatermarkStore, PollerOptions, poll_once
from tests.fixtures.mail_servers import MailUser, PostfixServer
from tests.integration.inbox.conftest import Recorder, mailbox, secrets_for


async def test_a_real_dsn_bounce_is_fetched_from_the_senders_inbox(postfix: PostfixServer, imap_mailbox: MailUser) -> None:
    sender = imap_mailbox
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender.address, "nobody-here@example.test", "cold hello"
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content("Hi,\nquick question.\n")
    await aiosmtplib.send(msg, hostname=postfix.host, port=postfix.port)

    mb = mailbox(sender, postfix.dovecot.port, folders=["INBOX"])
    store, handler = InMemoryWatermarkStore(), Recorder()
    opts = PollerOptions(command_timeout=5)
    deadline = time.monotonic() + 10
    while not handler.calls:
        assert time.monotonic() < deadline, "no bounce arrived within 10 s"
        report = await poll_once([mb], store, handler, secrets_for(sender.password), opts)
        assert report.result(mb.address).status == "ok", report
        if not handler.calls:
            await asyncio.sleep(0.05)

    assert len(handler.calls) == 1
    dsn = handler.calls[0].raw
    assert b"Status: 5.1.1" in dsn
    assert b"multipart/report" in dsn and b"MAILER-DAEMON@example.test" in dsn
    assert msg["Message-ID"].encode() in dsn  # the original is quoted inside the report
    # fetched once: the next pass hands over nothing
    assert (await poll_once([mb], store, handler, secrets_for(sender.password), opts)).fetched == 0
