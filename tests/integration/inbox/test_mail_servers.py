"""The session's own Dovecot and Postfix work end to end (the fixtures other inbox tests rely on)."""

from __future__ import annotations

import asyncio
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid

import aioimaplib
import aiosmtplib

from tests.fixtures.mail_servers import DovecotServer, MailUser, PostfixServer
from tests.fixtures.smtp_sink import SmtpSink


async def _login(dovecot: DovecotServer, user: MailUser) -> aioimaplib.IMAP4:
    imap = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.port, timeout=10)
    await imap.wait_hello_from_server()
    assert (await imap.login(user.address, user.password)).result == "OK"
    assert (await imap.select("INBOX")).result == "OK"
    return imap


async def _wait_raw(imap: aioimaplib.IMAP4, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await imap.noop()
        uids = (await imap.uid_search("ALL", charset=None)).lines[0].split()
        if uids:
            got = await imap.uid("fetch", uids[0].decode(), "(BODY.PEEK[])")
            return next(bytes(line) for line in got.lines if isinstance(line, bytearray))
        await asyncio.sleep(0.03)
    raise TimeoutError("no message arrived")


async def test_postfix_delivers_into_dovecot(postfix: PostfixServer, imap_mailbox: MailUser) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "t-sender@example.test", imap_mailbox.address, "fixture check"
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content("hello\n")
    await aiosmtplib.send(msg, hostname=postfix.host, port=postfix.port)
    imap = await _login(postfix.dovecot, imap_mailbox)
    raw = await _wait_raw(imap)
    assert msg["Message-ID"].encode() in raw
    assert b"Delivered-To: " + imap_mailbox.address.encode() in raw
    await imap.logout()


async def test_imaps_uses_the_throwaway_certificate(dovecot: DovecotServer, imap_mailbox: MailUser) -> None:
    imap = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.tls_port, timeout=10, ssl_context=dovecot.ssl_context())
    await imap.wait_hello_from_server()
    assert (await imap.login(*imap_mailbox)).result == "OK"
    await imap.logout()
    untrusted = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.tls_port, timeout=10,
                                 ssl_context=ssl.create_default_context())
    try:
        await untrusted.wait_hello_from_server()
        raise AssertionError("an untrusted certificate was accepted")
    except ssl.SSLCertVerificationError:
        pass


async def test_postfix_relays_remote_test_to_the_sink_and_bounces_its_550(
        postfix: PostfixServer, relay_sink: SmtpSink, imap_mailbox: MailUser) -> None:
    ok = EmailMessage()
    ok["From"], ok["To"], ok["Subject"] = imap_mailbox.address, "someone@remote.test", "relayed"
    ok.set_content("hi\n")
    rejected = EmailMessage()
    rejected["From"], rejected["To"], rejected["Subject"] = imap_mailbox.address, "reject550@remote.test", "bounced"
    rejected["Message-ID"] = make_msgid(domain="example.test")
    rejected.set_content("hi\n")
    await aiosmtplib.send(ok, hostname=postfix.host, port=postfix.port)
    await aiosmtplib.send(rejected, hostname=postfix.host, port=postfix.port)
    imap = await _login(postfix.dovecot, imap_mailbox)
    dsn = await _wait_raw(imap)
    assert b"Diagnostic-Code: smtp; 550 5.1.1" in dsn and rejected["Message-ID"].encode() in dsn
    deadline = time.monotonic() + 5
    while not relay_sink.messages and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert [m.rcpt_tos for m in relay_sink.messages] == [["someone@remote.test"]]
    await imap.logout()
