"""Forwarding replies to a team address (``[inbox] forward_to``), once each, none lost.

Right after the poller records a reply whose intent is one of ``[inbox] forward_intents``, the
reply goes to ``forward_to`` through the mailbox that received it: the prospect, account, sequence
and intent on top, the original attached whole (message/rfc822). The forward is an outbox row
(``outbound.store.forward_outbox``) claimed before anything is sent, carrying its Message-ID and the
original: a message polled again (a restart, another folder, a second daemon) is not forwarded
again, and a forward the server refuses, or one a crash cut short, is tried again with backoff at
the end of later poll passes, by one daemon at a time. Every attempt carries the same Message-ID,
so the rare duplicate (a crash after the server accepted, before we recorded it) is one message to
any client that threads by Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from outbound.config import InboxSettings
from outbound.core.logline import fields
from outbound.engine.context import EngineContext
from outbound.engine.direct import send_message
from outbound.render.headers import SMTP_POLICY, make_message_id
from outbound.store import forward_outbox as outbox
from outbound.store import replies as store
from outbound.store.replies import Reply

log = logging.getLogger("outbound.inbox")
LEASE = timedelta(minutes=10)  # an attempt not settled by then was cut short (a crash): tried again
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))


@dataclass
class ForwardRetries:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def next_try(attempts: int, now: datetime) -> datetime | None:
    """When attempt ``attempts + 1`` is due; None once ``len(BACKOFF) + 1`` attempts were made."""
    return now + BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else None


def wanted(settings: InboxSettings, reply: Reply) -> bool:
    return bool(settings.forward_to) and reply.intent is not None and reply.intent in settings.forward_intents


def summary(reply: Reply) -> str:
    """The lines on top of a forward."""
    who = f"{reply.name} <{reply.email}>" if reply.name else reply.email
    step = f" step {reply.step_index + 1}" if reply.step_index is not None else ""
    lines = [f"Prospect: {who}", f"Account:  {reply.company or '—'}",
             f"Sequence: {reply.sequence or '—'}{step}" + (f" ({reply.step})" if reply.step else ""),
             f"Intent:   {reply.intent or '—'}", f"Received: {reply.at.isoformat()} by {reply.mailbox or '—'}",
             f"Reply id: {reply.id} (`outbound replies show {reply.id}`)", "", reply.text.strip()]
    return "\n".join(lines) + "\n"


def forward_message(reply: Reply, raw: bytes | None, sender: Address, to: str, message_id: str, now: datetime) -> bytes:
    """The forward; ``raw`` None (an original too large to keep for a retry) sends the summary alone."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Fwd: {' '.join(reply.subject.split())} [{reply.intent or 'reply'}]"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # no vacation answer to our own forward
    note = "" if raw is not None else "\n(The original was too large to keep for a retry: it is in the mailbox.)\n"
    msg.set_content(summary(reply) + note)
    if raw is not None:
        msg.add_attachment(message_from_bytes(raw, policy=policy.default))  # message/rfc822
    return msg.as_bytes(policy=SMTP_POLICY)


async def forward_reply(ctx: EngineContext, reply: Reply, raw: bytes, now: datetime) -> str | None:
    """Forwards the reply if it should be and nobody did yet: "sent", "retry" (tried again later),
    "failed", or None when not forwarded (not wanted, or claimed before)."""
    settings = ctx.settings.inbox
    to = settings.forward_to
    if to is None or not wanted(settings, reply) or reply.mailbox is None:
        return None
    found = ctx.mailbox(reply.mailbox)
    if found is None:
        return None
    message_id = make_message_id(found[0].domain)
    forward = await asyncio.to_thread(outbox.claim_first, ctx.engine, reply, to, message_id, raw, now, LEASE)
    if forward is None:
        return None
    return await _attempt(ctx, reply, forward, raw, now)


async def retry_forwards(ctx: EngineContext, now: datetime) -> ForwardRetries:
    """Tries again every forward that is due (refused before, or cut short by a crash), each by one daemon."""
    done = ForwardRetries()
    for forward in await asyncio.to_thread(outbox.due, ctx.engine, now):
        if not await asyncio.to_thread(outbox.claim_retry, ctx.engine, forward, now, LEASE):
            continue  # another daemon took this attempt
        claimed = replace(forward, attempts=forward.attempts + 1)
        reply = await asyncio.to_thread(store.get_reply, ctx.engine, forward.reply_id)
        if reply is None or reply.mailbox is None or ctx.mailbox(reply.mailbox) is None:
            why = "the reply's mailbox is no longer in domains/" if reply is not None else "the reply is gone"
            await asyncio.to_thread(outbox.settle, ctx.engine, claimed.event_id, claimed.attempts, "failed", why)
            done.failed += 1
            continue
        result = await _attempt(ctx, reply, claimed, forward.original, now)
        done.sent += result == "sent"
        done.retrying += result == "retry"
        done.failed += result == "failed"
    return done


async def _attempt(ctx: EngineContext, reply: Reply, forward: outbox.Forward, raw: bytes | None,
                   now: datetime) -> str:
    """One attempt of a claimed forward, settled in the outbox: "sent", "retry" or "failed"."""
    found = ctx.mailbox(reply.mailbox or "")
    assert found is not None
    _domain, mailbox = found
    payload = forward_message(reply, raw, Address(mailbox.display_name, addr_spec=mailbox.address), forward.to,
                              forward.message_id, now)
    outcome = await send_message(ctx, mailbox.address, forward.to, payload)
    if outcome.kind == "delivered":
        await asyncio.to_thread(outbox.settle, ctx.engine, forward.event_id, forward.attempts, "sent")
        return "sent"
    at = next_try(forward.attempts, now)
    result = "retry" if at is not None else "failed"
    await asyncio.to_thread(outbox.settle, ctx.engine, forward.event_id, forward.attempts, result,
                            outcome.describe(), at)
    log.warning("could not forward reply %d to %s (attempt %d): %s; %s", reply.id, forward.to, forward.attempts,
                outcome.describe(), f"trying again at {at:%Y-%m-%d %H:%M} UTC" if at else "giving up",
                extra=fields(job="poll", mailbox=mailbox.address, outcome=f"forward_{result}", reason=outcome.reason))
    return result
