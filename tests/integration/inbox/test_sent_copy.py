"""An answer's copy in the Sent folder, on the real Dovecot: APPENDed (and found there as reconcile
looks for it) where the provider files none, never where it does."""

from __future__ import annotations

from outbound.inbox.reconcile import find_in_sent
from outbound.inbox.sent_copy import provider_keeps_copy, save_sent_copy
from outbound.spec.domain import ImapServer, Mailbox, SendingDomain, SmtpServer
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.integration.inbox.conftest import PW_ENV, RawImap, message, secrets_for


def _domain(address: str, smtp_host: str, imap: ImapServer) -> tuple[SendingDomain, Mailbox]:
    d = SendingDomain(domain=address.split("@")[1], smtp=SmtpServer(host=smtp_host, port=25, tls="none"), imap=imap,
                      mailboxes=[Mailbox(address=address)])
    return d, d.mailboxes[0]


async def test_the_copy_is_appended_to_sent_unless_the_provider_keeps_one(
        dovecot: DovecotServer, imap_mailbox: MailUser, raw_imap: RawImap) -> None:
    imap = await raw_imap(imap_mailbox)
    assert (await imap.create("Sent")).result == "OK"
    server = ImapServer(host=dovecot.host, port=dovecot.port, tls="none", password_env=PW_ENV)
    secrets = secrets_for(imap_mailbox.password)
    own, box = _domain(imap_mailbox.address, "127.0.0.1", server)
    msgid, raw = message("Re: Hello", msgid="<answer-1@example.test>")
    assert not provider_keeps_copy(own, box)
    assert await save_sent_copy(own, box, raw, secrets=secrets) == "copy appended to Sent"
    gmail, gbox = _domain(imap_mailbox.address, "smtp.gmail.com", server)
    other_id, other = message("Re: Hello", msgid="<answer-2@example.test>")
    assert await save_sent_copy(gmail, gbox, other, secrets=secrets) == "the provider keeps a copy"
    mb = box.model_copy(update={"imap": server})
    assert await find_in_sent(mb, [msgid, other_id], secrets=secrets) == {msgid}
