"""find_in_sent against the real Dovecot: a Message-ID APPENDed to Sent is found, another is not."""

from __future__ import annotations

import pytest

from outbound.inbox.imap import ImapError
from outbound.inbox.reconcile import find_in_sent
from outbound.spec.domain import ImapServer, Mailbox
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.integration.inbox.conftest import PW_ENV, RawImap, append, message, secrets_for


async def test_find_in_sent_finds_only_the_appended_message_id(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    assert (await imap.create('"Sent Items"')).result == "OK"
    sent_id, raw = message("sent one", msgid="<sent-1.abc@example.test>")
    await append(imap, '"Sent Items"', raw)
    # a prefix of the sent id and an id only mentioned in the body must not count
    await append(imap, '"Sent Items"', message("other", msgid="<sent-1.abcdef@example.test>")[1])
    await append(imap, "INBOX", message("inbox", msgid="<in-inbox@example.test>")[1])
    mb = Mailbox(address=imap_mailbox.address,
                 imap=ImapServer(host=dovecot.host, port=dovecot.port, tls="none", password_env=PW_ENV,
                                 sent_folder="Sent Items"))
    unknown = ["<never-sent@example.test>", sent_id, "sent-1.abc@example.test", "<in-inbox@example.test>",
               "<sent-1.ab@example.test>"]
    found = await find_in_sent(mb, unknown, secrets=secrets_for(imap_mailbox.password))
    assert found == {sent_id, "sent-1.abc@example.test"}


async def test_find_in_sent_raises_when_sent_is_missing(dovecot: DovecotServer, imap_mailbox: MailUser) -> None:
    mb = Mailbox(address=imap_mailbox.address,
                 imap=ImapServer(host=dovecot.host, port=dovecot.port, tls="none", password_env=PW_ENV))
    with pytest.raises(ImapError, match="Sent folder 'Sent' does not exist"):
        await find_in_sent(mb, ["<x@example.test>"], secrets=secrets_for(imap_mailbox.password))
