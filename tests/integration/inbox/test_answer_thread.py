"""`replies answer` over real servers: our step goes out through Postfix into the prospect's Dovecot
mailbox, their reply comes back and is polled, and our answer lands in the prospect's mailbox in the
same thread (Dovecot's own THREAD=REFERENCES says so) with a copy in our Sent folder."""

from __future__ import annotations

import asyncio
import imaplib
import re
import smtplib
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from outbound.app.replies import answer
from outbound.core import events as ev
from outbound.inbox.job import PollSummary, poll_job
from outbound.store.db import utcnow
from tests.fixtures.mail_servers import MailUser, PostfixServer
from tests.integration.engine.workspace import build, three_step_sequence
from tests.integration.inbox.conftest import PW_ENV, secrets_for
from tests.integration.inbox.test_inbox_loop import ALWAYS, OPTS, events, send_first_step


def _fetch_all(host: str, port: int, user: MailUser, folder: str) -> tuple[list[EmailMessage], bytes]:
    """Every message in the folder, oldest first, and the folder's THREAD REFERENCES answer."""
    with imaplib.IMAP4(host, port) as imap:
        imap.login(user.address, user.password)
        status, detail = imap.select(folder, readonly=True)
        assert status == "OK", f"no folder {folder!r} for {user.address}: {detail}"
        _, data = imap.uid("SEARCH", "ALL")
        messages = []
        for uid in data[0].split():
            _, parts = imap.uid("FETCH", uid, "(RFC822)")
            raw = next(p[1] for p in parts if isinstance(p, tuple))
            messages.append(message_from_bytes(raw, policy=policy.default))
        _, threads = imap.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
    return messages, threads[0] or b""  # type: ignore[return-value]


async def _wait_for(host: str, port: int, user: MailUser, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + 15
    while True:
        messages, _ = _fetch_all(host, port, user, "INBOX")
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        await asyncio.sleep(0.1)


def test_an_answer_shows_in_the_prospects_mailbox_in_the_same_thread(tmp_path: Path, postfix: PostfixServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot = postfix.dovecot
    me, prospect = dovecot.make_user(), dovecot.make_user()
    monkeypatch.setenv(PW_ENV, me.password)  # both test users share the one password
    domain = {"domain": "example.test", "tracking_host": "t.example.test",
              "smtp": {"host": postfix.host, "port": postfix.port, "tls": "none"},
              "imap": {"host": dovecot.host, "port": dovecot.port, "tls": "none", "password_env": PW_ENV,
                       "folders": ["INBOX"]},
              "mailboxes": [{"address": me.address, "display_name": "Alex", "daily_cap": 50, "gap": {"min": 0, "max": 0}}]}
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
               [three_step_sequence(domains=["example.test"], window=ALWAYS)], [domain])
    send = asyncio.run(send_first_step(tw, [prospect.address]))[prospect.address]
    [step] = asyncio.run(_wait_for(dovecot.host, dovecot.port, prospect, 1))
    assert step["Message-ID"] == send.message_id

    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = prospect.address, me.address, f"Re: {step['Subject']}"
    reply["Message-ID"], reply["In-Reply-To"], reply["References"] = "<their-1@example.test>", send.message_id, \
        send.message_id
    reply.set_content("Sounds good, can we talk on Thursday at 3pm?\n")
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as smtp:
        smtp.send_message(reply)
    deadline, summary = time.monotonic() + 15, PollSummary()
    while not [e for e in events(tw) if e.type == ev.REPLIED]:
        assert time.monotonic() < deadline, f"the reply was not polled within 15 s: {summary}"
        summary = asyncio.run(poll_job(tw.ctx, once=True, secrets=secrets_for(me.password), options=OPTS))
        time.sleep(0.1)
    [replied] = [e for e in events(tw) if e.type == ev.REPLIED]

    done = answer(tw.ctx, replied.id or 0, "Thursday 3 pm works. I'll send an invite.", utcnow())
    assert done.to == prospect.address and done.sent_copy.startswith("copy appended to "), done.sent_copy

    inbox = asyncio.run(_wait_for(dovecot.host, dovecot.port, prospect, 2))
    assert len(inbox) == 2, "the step and the answer, nothing else"
    again, ours = inbox
    assert again["Message-ID"] == send.message_id
    assert ours["Subject"] == f"Re: {step['Subject']}" and ours["In-Reply-To"] == "<their-1@example.test>"
    assert ours["References"].split() == [send.message_id, "<their-1@example.test>"]
    assert "Thursday 3 pm works." in ours.get_content()
    _, threads = _fetch_all(dovecot.host, dovecot.port, prospect, "INBOX")
    assert re.fullmatch(rb"\(\d+ \d+\)", threads), f"one thread of two messages, not {threads!r}"
    folder = done.sent_copy.split("appended to ", 1)[-1].split()[0].strip(".")
    sent, _ = _fetch_all(dovecot.host, dovecot.port, me, folder)
    assert [m["Message-ID"] for m in sent] == [ours["Message-ID"]], "our copy of the answer in Sent"
