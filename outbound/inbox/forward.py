"""Forwarding replies to a team address (``[inbox] forward_to``), once each.

Right after the poller records a reply whose intent is one of ``[inbox] forward_intents``, the
reply goes to ``forward_to`` through the mailbox that received it: the prospect, account, sequence
and intent on top, the original attached whole (message/rfc822). Once: the right to forward is a
``reply_forwarded`` event keyed ``forward:{reply id}``, inserted before anything is sent, so a
message polled again (a restart, another folder, a second daemon) is never forwarded twice. The
price is at most once: a forward that fails (or a crash mid-send) is recorded as failed, not
retried; the reply stays in `outbound replies`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from outbound.config import InboxSettings
from outbound.core.logline import fields
from outbound.engine.context import EngineContext
from outbound.engine.direct import send_message
from outbound.render.headers import SMTP_POLICY, make_message_id
from outbound.store import replies as store
from outbound.store.replies import Reply

log = logging.getLogger("outbound.inbox")


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


def forward_message(reply: Reply, raw: bytes, sender: Address, to: str, message_id: str, now: datetime) -> bytes:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Fwd: {' '.join(reply.subject.split())} [{reply.intent or 'reply'}]"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # no vacation answer to our own forward
    msg.set_content(summary(reply))
    original = message_from_bytes(raw, policy=policy.default)
    msg.add_attachment(original)  # message/rfc822
    return msg.as_bytes(policy=SMTP_POLICY)


async def forward_reply(ctx: EngineContext, reply: Reply, raw: bytes, now: datetime) -> str | None:
    """Forwards the reply if it should be and nobody did yet: "sent", "failed", or None when not forwarded."""
    settings = ctx.settings.inbox
    to = settings.forward_to
    if to is None or not wanted(settings, reply) or reply.mailbox is None:
        return None
    found = ctx.mailbox(reply.mailbox)
    if found is None:
        return None
    if not await asyncio.to_thread(store.claim_forward, ctx.engine, reply, to, now):
        return None
    domain, mailbox = found
    payload = forward_message(reply, raw, Address(mailbox.display_name, addr_spec=mailbox.address), to,
                              make_message_id(domain.domain), now)
    outcome = await send_message(ctx, mailbox.address, to, payload)
    result = "sent" if outcome.kind == "delivered" else "failed"
    await asyncio.to_thread(store.forward_done, ctx.engine, reply, result,
                            "" if result == "sent" else outcome.describe())
    if result == "failed":
        log.warning("could not forward reply %d to %s: %s", reply.id, to, outcome.describe(),
                    extra=fields(job="poll", mailbox=mailbox.address, outcome="forward_failed", reason=outcome.reason))
    return result
