"""Working replies: the unified inbox, answering a reply in its thread, marking it done.

An answer goes out from the mailbox that received the reply, through the engine's SMTP transport
and credentials, after the checks any send gets: the address or its domain suppressed, the
mailbox paused, the mailbox at its daily cap (an answer takes a slot of it, given back when
nothing went out). It does not wait for the mailbox's gap: a person answering is not a sequence.
Its copy goes to the mailbox's Sent folder unless the provider files one itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from outbound.core.mailbox import MailboxUsage
from outbound.core.outcome import SendOutcome
from outbound.engine.context import EngineContext
from outbound.engine.direct import send_message
from outbound.engine.rotation import remaining_capacity
from outbound.errors import NotFoundError, OutboundError
from outbound.inbox.imap import ImapError
from outbound.inbox.poller import PollerOptions
from outbound.inbox.sent_copy import save_sent_copy
from outbound.render.headers import SMTP_POLICY, make_message_id
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.store import mailboxes as mailbox_store
from outbound.store import replies as store
from outbound.store.db import session_scope
from outbound.store.prospects import suppressed_reason
from outbound.store.replies import AnswerTarget, Reply

NO_INTENT = "—"


class AnswerRefused(OutboundError):
    """The answer was not sent: why (suppressed, paused, at its cap, the server refused it)."""


@dataclass(frozen=True)
class Answered:
    reply: Reply
    mailbox: str
    to: str
    subject: str
    message_id: str
    sent_copy: str = ""  # where its copy is: appended to Sent, kept by the provider, or why there is none


def find(ctx: EngineContext, reply_id: int) -> Reply:
    reply = store.get_reply(ctx.engine, reply_id)
    if reply is None:
        raise NotFoundError(f"no reply {reply_id} (`outbound replies` lists them)")
    return reply


def inbox(ctx: EngineContext, *, intent: str | None = None, open_only: bool = False, mailbox: str | None = None,
          since: datetime | None = None, limit: int | None = None) -> list[Reply]:
    """Every reply across mailboxes, newest first; ``intent`` "none" (or "—") picks those without one."""
    wanted = None if intent is None else "" if intent.strip().lower() in ("none", NO_INTENT, "") else intent.strip().lower()
    return store.list_replies(ctx.engine, mailbox=mailbox, since=since, intent=wanted, open_only=open_only, limit=limit)


def done(ctx: EngineContext, reply_id: int, now: datetime) -> bool:
    """Marks the reply handled; False when it already was."""
    return store.mark_handled(ctx.engine, find(ctx, reply_id), "done", now)


def re_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}".strip()


def answer_message(target: AnswerTarget, sender: Address, body: str, message_id: str, now: datetime) -> bytes:
    """The answer: plain text, in the reply's thread (In-Reply-To the reply, References the thread)."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = target.to
    msg["Subject"] = re_subject(target.reply.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    if target.reply.message_id:
        msg["In-Reply-To"] = target.reply.message_id
    if target.references:
        msg["References"] = " ".join(target.references)
    msg.set_content(body if body.endswith("\n") else body + "\n")
    return msg.as_bytes(policy=SMTP_POLICY)


def answer(ctx: EngineContext, reply_id: int, body: str, now: datetime, by: str = "cli") -> Answered:
    """Sends ``body`` as the answer to the reply and marks it handled; AnswerRefused says why not."""
    reply = find(ctx, reply_id)
    if not body.strip():
        raise AnswerRefused("the answer is empty")
    address = reply.mailbox
    found = ctx.mailbox(address) if address else None
    if address is None or found is None:
        raise AnswerRefused(f"the mailbox that received reply {reply_id} ({address or 'unknown'}) is not in domains/")
    domain, mailbox = found
    target = store.answer_target(ctx.engine, reply)
    with session_scope(ctx.engine) as session:
        suppressed = suppressed_reason(session, target.to)
    if suppressed is not None:
        raise AnswerRefused(f"{suppressed}: nothing sent")

    def refuse(usage: MailboxUsage) -> str | None:
        if usage.paused:
            return f"mailbox {address} is paused: {usage.pause_reason or 'no reason given'}"
        if remaining_capacity(mailbox, usage) <= 0:
            return f"mailbox {address} is at its daily cap ({usage.sent_today} sent today)"
        return None

    why = mailbox_store.take_slot(ctx.engine, mailbox.address, ctx.workspace, now, refuse)
    if why is not None:
        raise AnswerRefused(why + ": nothing sent")
    message_id = make_message_id(domain.domain)
    sender = Address(mailbox.display_name, addr_spec=mailbox.address)
    payload = answer_message(target, sender, body, message_id, now)
    outcome, copy = asyncio.run(_send_and_file(ctx, domain, mailbox, target.to, payload))
    if outcome.kind != "delivered":
        if outcome.kind != "ambiguous":
            mailbox_store.give_back(ctx.engine, mailbox.address, now)
        raise AnswerRefused(f"the answer to {target.to} was not sent: {outcome.describe()}")
    subject = re_subject(reply.subject)
    store.record_answer(ctx.engine, reply, message_id, subject, body, now, by)
    return Answered(reply, mailbox.address, target.to, subject, message_id, copy)


async def _send_and_file(ctx: EngineContext, domain: SendingDomain, mailbox: Mailbox, to: str,
                         payload: bytes) -> tuple[SendOutcome, str]:
    """The answer sent, then its copy in the Sent folder (where the provider does not file one itself)."""
    outcome = await send_message(ctx, mailbox.address, to, payload)
    if outcome.kind != "delivered":
        return outcome, ""
    try:
        copy = await save_sent_copy(domain, mailbox, payload, options=PollerOptions(credentials=ctx.credentials()))
    except (ImapError, OSError) as exc:  # the answer went out: a missing copy is a note, not a failure
        copy = f"no copy in Sent: {exc}"
    return outcome, copy
