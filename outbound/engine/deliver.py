"""Delivering one claimed send: render, fix it as under way, one SMTP attempt, record the outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from outbound.core.logline import fields
from outbound.core.outcome import SendOutcome
from outbound.engine.claim import Claim
from outbound.engine.context import EngineContext
from outbound.engine.credentials import Credentials, CredentialsMissing
from outbound.engine.oauth import TokenError, TokenRefusedError, TokenUnavailable
from outbound.engine.smtp import NotStarted, SmtpPool
from outbound.engine.wire import message_bytes
from outbound.render.errors import RenderError
from outbound.render.message import RenderedMessage
from outbound.render.step import DEFAULT_FOOTER, Footer, render_step
from outbound.render.tracking import track_message
from outbound.rulebook.retry import RetryPolicy
from outbound.store import outcomes
from outbound.tokens import unsubscribe_links

log = logging.getLogger("outbound.send")


@dataclass(frozen=True)
class DeliveryResult:
    claim: Claim
    status: str  # delivered | unknown | hard_bounce | soft_bounce | retry | failed | mailbox paused | blocked | lost | released
    detail: str = ""


def _fields(claim: Claim, outcome: str, **more: object) -> dict[str, dict[str, object]]:
    return fields(mailbox=claim.mailbox, sequence=claim.sequence_name, step=claim.step_index + 1, send_id=claim.send_id,
                  to=claim.prospect.email, outcome=outcome, **more)


def render_claim(ctx: EngineContext, claim: Claim, now: datetime) -> RenderedMessage:
    """The message of a claim, or RenderError with the reason (e.g. a variable the prospect lacks)."""
    loaded = ctx.workspace.sequences[claim.sequence_name]
    found = ctx.mailbox(claim.mailbox)
    if found is None:
        raise RenderError(f"mailbox {claim.mailbox} is no longer in domains/")
    domain, mailbox = found
    step = loaded.sequence.steps[claim.step_index]
    footer_text = ctx.settings.sending.unsubscribe_footer
    # never without a way out: an empty footer setting falls back to the default line
    footer = Footer(text="\n\n" + footer_text + "\n", html=DEFAULT_FOOTER.html) if footer_text.strip() else DEFAULT_FOOTER
    # the domain's own link host, else the workspace's base URL (kept with its scheme, port and path)
    base = domain.tracking_host or ctx.settings.sending.tracking_base_url
    links = unsubscribe_links(claim.send_id, claim.prospect.email, base, claim.mailbox, ctx.secret)
    rendered = render_step(loaded.sequence, step, claim.prospect, mailbox, domain, templates=ctx.templates(loaded),
                           thread=claim.thread, message_id=claim.message_id, unsubscribe=links, now=now, footer=footer)
    # click and open tracking: HTML part only, off unless the sequence turns it on
    return track_message(rendered, loaded.sequence.tracking, claim.send_id, base, ctx.secret, keep={links.url})


async def deliver_all(ctx: EngineContext, pool: SmtpPool, claims: list[Claim], now: datetime, policy: RetryPolicy, *,
                      stopping: asyncio.Event | None = None) -> list[DeliveryResult]:
    """Delivers a batch: each mailbox works through its claims in as many lanes as it may hold
    connections (not one task per claim queueing on the mailbox's semaphore: hundreds of waiters
    made every release O(n)). Lanes do not wait for their delivery records; the batch does, so
    it returns only once every outcome is committed. Results come in the order of ``claims``."""
    queues: dict[str, deque[int]] = {}
    for i, claim in enumerate(claims):
        queues.setdefault(claim.mailbox, deque()).append(i)
    results: list[DeliveryResult | None] = [None] * len(claims)
    records: list[asyncio.Future[Any]] = []

    async def lane(queue: deque[int]) -> None:
        while queue:
            i = queue.popleft()
            results[i] = await deliver(ctx, pool, claims[i], now, policy, stopping=stopping, records=records)

    width = max(1, pool.connections_per_mailbox)
    lanes = [lane(q) for q in queues.values() for _ in range(min(width, len(q)))]
    try:
        await asyncio.gather(*lanes)
    finally:
        if records:  # committed before the batch is reported, even when a lane failed
            await asyncio.gather(*records, return_exceptions=True)
    for fut in records:
        failed = fut.exception()
        if failed is not None:
            raise failed
    return [r for r in results if r is not None]


async def deliver(ctx: EngineContext, pool: SmtpPool, claim: Claim, now: datetime, policy: RetryPolicy, *,
                  stopping: asyncio.Event | None = None,
                  records: list[asyncio.Future[Any]] | None = None) -> DeliveryResult:
    """Render, then ONE attempt. The send is marked ``sending`` only once a connection slot is ours
    (while MAIL and RCPT go out; DATA waits for the mark), so a crash while it queues leaves it
    ``claimed`` (requeued), not ``unknown``. When ``stopping`` is set before its turn, the claim is
    handed back unsent. ``records``: where a delivery's pending record goes (``deliver_all``)."""
    started = time.monotonic()
    try:
        rendered = render_claim(ctx, claim, now)
        payload = message_bytes(rendered)
    except RenderError as exc:
        reason = f"cannot render step {claim.step_index + 1}: {exc}"
        await ctx.recorder().write(lambda s: outcomes.block_unrenderable_in(s, claim.send_id, reason, now),
                                   send_id=claim.send_id)
        log.warning("blocked %s: %s", claim.prospect.email, reason,
                    extra=_fields(claim, "blocked", reason=reason))
        return DeliveryResult(claim, "blocked", reason)
    found = ctx.mailbox(claim.mailbox)
    assert found is not None  # render_claim checked it
    domain, mailbox = found
    auth = domain.auth_for(mailbox)
    credentials = ctx.credentials() if auth is not None else None
    if credentials is not None:
        held = await _token_ready(ctx, credentials, claim, domain.smtp_for(mailbox).username or mailbox.address, now)
        if held is not None:
            return held
    declined = "lost"

    async def begin() -> bool:
        nonlocal declined
        if stopping is not None and stopping.is_set():
            declined = "released"
            await ctx.recorder().write(lambda s: outcomes.release_claim_in(s, claim.send_id, now, ctx.worker),
                                       send_id=claim.send_id)
            return False
        # the lease is checked against the time that really passed since the claim, even in simulations
        at = now + timedelta(seconds=time.monotonic() - started)
        return await ctx.recorder().mark_sending(outcomes.Marking(claim.send_id, ctx.worker, at, rendered.subject,
                                                                   rendered.variant_id))

    try:
        # cancelled mid-transaction, the message may be out: the lease recovery makes it ``unknown``
        outcome = await pool.send(domain, mailbox, mailbox.address, claim.prospect.email, payload, begin=begin,
                                  credentials=credentials)
    except NotStarted:
        if declined == "released":
            return DeliveryResult(claim, "released", "stopping: handed back before sending")
        # the lease ran out, or the recipient was suppressed meanwhile: hand the claim back now if it
        # is still ours (a conditional write), so the next claim re-checks it without waiting for recovery
        await ctx.recorder().write(lambda s: outcomes.release_claim_in(s, claim.send_id, now, ctx.worker),
                                   send_id=claim.send_id)
        return DeliveryResult(claim, "lost", "not started: the lease ran out or the recipient was suppressed meanwhile")
    return await _record(ctx, claim, rendered, outcome, now, policy, records)


async def _token_ready(ctx: EngineContext, credentials: Credentials, claim: Claim, username: str,
                       now: datetime) -> DeliveryResult | None:
    """None when the mailbox has an access token; else the claim goes back unsent, with no attempt
    counted: a token server that is down pauses nothing (the token is retried with backoff), and
    a refused token has paused the mailbox through the rulebook (``TokenRefused``)."""
    found = ctx.mailbox(claim.mailbox)
    assert found is not None
    try:
        await credentials.login(claim.mailbox, username, found[0].auth_for(found[1]), None)
        return None
    except (TokenUnavailable, TokenRefusedError) as exc:
        status = "released" if isinstance(exc, TokenUnavailable) else "mailbox paused"
        detail = str(exc)
    except (CredentialsMissing, TokenError):
        return None  # the SMTP step reports it as the mailbox's auth failure
    await ctx.recorder().write(lambda s: outcomes.release_claim_in(s, claim.send_id, now, ctx.worker),
                               send_id=claim.send_id)
    log.warning("%s not sent from %s: %s", claim.prospect.email, claim.mailbox, detail,
                extra=_fields(claim, status, reason=detail))
    return DeliveryResult(claim, status, detail)


async def _record(ctx: EngineContext, claim: Claim, rendered: RenderedMessage, outcome: SendOutcome, now: datetime,
                  policy: RetryPolicy, records: list[asyncio.Future[Any]] | None = None) -> DeliveryResult:
    if outcome.kind == "delivered":
        delivered = outcomes.Delivered(rendered.subject, rendered.variant_id, rendered.references)
        known = None
        if claim.prospect_id:
            step_id = ctx.workspace.sequences[claim.sequence_name].sequence.steps[claim.step_index].id
            known = outcomes.SentSend(claim.send_id, claim.enrollment_id, claim.prospect_id, claim.sequence_name,
                                      step_id, claim.step_index, claim.mailbox, claim.message_id, delivered, now)
        if known is not None and records is not None:
            records.append(ctx.recorder().delivered_soon(claim.send_id, delivered, now, known=known))
        else:
            await ctx.recorder().delivered(claim.send_id, delivered, now, known=known)
        log.info("sent %s step %d to %s from %s", claim.sequence_name, claim.step_index + 1, claim.prospect.email,
                 claim.mailbox, extra=_fields(claim, "sent"))
        return DeliveryResult(claim, "delivered")
    seq = ctx.workspace.sequences[claim.sequence_name].sequence
    limit = ctx.settings.inbox.soft_bounce_limit
    status = await ctx.recorder().write(lambda s: outcomes.record_failure_in(
        s, claim.send_id, outcome, now, rng=ctx.rng, policy=policy, stop_on=list(seq.stop_on),
        soft_bounce_limit=limit), send_id=claim.send_id)
    log.warning("%s %s step %d to %s from %s: %s", status, claim.sequence_name, claim.step_index + 1,
                claim.prospect.email, claim.mailbox, outcome.describe(),
                extra=_fields(claim, status, reason=outcome.reason, code=outcome.code, status=outcome.status or None,
                              kind=outcome.kind))
    return DeliveryResult(claim, status, outcome.describe())
