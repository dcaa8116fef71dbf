"""Delivering one claimed send: render, fix it as under way, one SMTP attempt, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from outbound.engine.claim import Claim
from outbound.engine.context import EngineContext
from outbound.engine.retry import RetryPolicy
from outbound.engine.smtp import SmtpPool
from outbound.engine.smtp_outcome import SendOutcome
from outbound.render.errors import RenderError
from outbound.render.message import RenderedMessage
from outbound.render.step import DEFAULT_FOOTER, Footer, render_step
from outbound.store import outcomes
from outbound.tokens import UnsubscribeLinks, unsubscribe_links

log = logging.getLogger("outbound.send")


@dataclass(frozen=True)
class DeliveryResult:
    claim: Claim
    status: str  # delivered | unknown | hard_bounce | soft_bounce | retry | failed | mailbox paused | blocked | lost
    detail: str = ""


def render_claim(ctx: EngineContext, claim: Claim, now: datetime) -> RenderedMessage:
    """The message of a claim, or RenderError with the reason (e.g. a variable the prospect lacks)."""
    loaded = ctx.workspace.sequences[claim.sequence_name]
    found = ctx.mailbox(claim.mailbox)
    if found is None:
        raise RenderError(f"mailbox {claim.mailbox} is no longer in domains/")
    domain, mailbox = found
    step = loaded.sequence.steps[claim.step_index]
    footer_text = ctx.settings.sending.unsubscribe_footer
    footer: Footer | None = Footer(text="\n\n" + footer_text + "\n", html=DEFAULT_FOOTER.html) if footer_text else None
    return render_step(loaded.sequence, step, claim.prospect, mailbox, domain, templates=ctx.templates(loaded),
                       thread=claim.thread, message_id=claim.message_id, unsubscribe=_links(ctx, claim, domain.tracking_host),
                       now=now, footer=footer)


def _links(ctx: EngineContext, claim: Claim, tracking_host: str | None) -> UnsubscribeLinks | None:
    host = tracking_host or _host_of(ctx.settings.sending.tracking_base_url)
    if host is None:
        return None
    return unsubscribe_links(claim.send_id, claim.prospect.email, host, claim.mailbox, ctx.secret)


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    return url.split("://", 1)[-1].split("/", 1)[0] or None


async def deliver(ctx: EngineContext, pool: SmtpPool, claim: Claim, now: datetime,
                  policy: RetryPolicy) -> DeliveryResult:
    try:
        rendered = render_claim(ctx, claim, now)
        payload = rendered.as_bytes()
    except RenderError as exc:
        reason = f"cannot render step {claim.step_index + 1}: {exc}"
        await asyncio.to_thread(outcomes.block_unrenderable, ctx.engine, claim.send_id, reason, now)
        log.warning("blocked %s: %s", claim.prospect.email, reason)
        return DeliveryResult(claim, "blocked", reason)
    if not await asyncio.to_thread(outcomes.mark_sending, ctx.engine, claim.send_id, ctx.worker, now):
        return DeliveryResult(claim, "lost", "the lease ran out before sending; another worker owns it")
    found = ctx.mailbox(claim.mailbox)
    assert found is not None
    domain, mailbox = found
    try:
        outcome = await pool.send(domain, mailbox, mailbox.address, claim.prospect.email, payload)
    except asyncio.CancelledError:
        # stopped mid-transaction: the message may be out; leave it for the lease recovery (-> unknown)
        raise
    return await _record(ctx, claim, rendered, outcome, now, policy)


async def _record(ctx: EngineContext, claim: Claim, rendered: RenderedMessage, outcome: SendOutcome, now: datetime,
                  policy: RetryPolicy) -> DeliveryResult:
    if outcome.kind == "delivered":
        delivered = outcomes.Delivered(rendered.subject, rendered.variant_id, rendered.references)
        await asyncio.to_thread(outcomes.record_delivered, ctx.engine, claim.send_id, delivered, now)
        log.info("sent %s step %d to %s from %s", claim.sequence_name, claim.step_index + 1, claim.prospect.email,
                 claim.mailbox)
        return DeliveryResult(claim, "delivered")
    seq = ctx.workspace.sequences[claim.sequence_name].sequence
    status = await asyncio.to_thread(
        outcomes.record_failure, ctx.engine, claim.send_id, outcome, now, rng=ctx.rng, policy=policy,
        stop_on=list(seq.stop_on), soft_bounce_limit=ctx.settings.inbox.soft_bounce_limit)
    log.warning("%s %s step %d to %s from %s: %s", status, claim.sequence_name, claim.step_index + 1,
                claim.prospect.email, claim.mailbox, outcome.describe())
    return DeliveryResult(claim, status, outcome.describe())
