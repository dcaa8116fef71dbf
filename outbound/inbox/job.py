"""The inbox job: fetch new mail from every mailbox, classify -> match -> apply, then settle
``unknown`` sends against the Sent folders.

``poll_job(ctx, once=True)`` is ``outbound poll --once``: one pass over every mailbox with IMAP.
``once=False`` is the daemon's periodic slot: the same pass, but only over the mailboxes whose
poll lease this worker wins, so several daemons share the mailboxes without polling one twice.
A lease lasts ``[daemon] poll_lease`` and is renewed while the pass runs, so a pass never outlives
it and a dead daemon's mailboxes are taken over at most ``poll_lease`` after it died.
Handling is idempotent anyway (events are keyed by Message-ID), so an overlap costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from outbound.core import events as ev
from outbound.core.logline import counted, fields
from outbound.engine.context import EngineContext
from outbound.inbox.classify import classify
from outbound.inbox.forward import ForwardRetries, forward_reply, retry_forwards
from outbound.inbox.handling import Handled, PolicyFor, handle_inbound
from outbound.inbox.imap import ImapError
from outbound.inbox.match import read_inbound
from outbound.inbox.poller import FetchedMessage, PollerOptions, Secrets, mailboxes_with_imap, poll_once
from outbound.inbox.reconcile import find_in_sent
from outbound.rulebook.facts import Policy
from outbound.store import outcomes
from outbound.store.db import utcnow
from outbound.store.replies import reply_by_key
from outbound.store.tables import Send
from outbound.store.watermarks import DbWatermarkStore, acquire_poll_leases, release_poll_leases

log = logging.getLogger("outbound.inbox")
RECONCILE_GRACE = timedelta(minutes=2)
"""An unknown send younger than this may still be on its way into the Sent folder."""


@dataclass
class MailboxSummary:
    mailbox: str
    status: str = "ok"  # ok | failed | skipped | leased
    fetched: int = 0
    matched: int = 0
    unmatched: int = 0
    own: int = 0
    duplicates: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, handled: Handled) -> None:
        if handled.duplicate:
            self.duplicates += 1
            return
        if handled.via == "own":
            self.own += 1
            return
        self.kinds[handled.kind] += 1
        if handled.matched:
            self.matched += 1
        else:
            self.unmatched += 1


@dataclass
class ReconcileSummary:
    checked: int = 0
    sent: int = 0
    requeued: int = 0
    waiting: int = 0  # unknown, but younger than the grace period
    failures: list[str] = field(default_factory=list)


@dataclass
class PollSummary:
    mailboxes: dict[str, MailboxSummary] = field(default_factory=dict)
    reconcile: ReconcileSummary = field(default_factory=ReconcileSummary)
    handled: list[tuple[str, Handled]] = field(default_factory=list)  # (mailbox, result), in order
    forwards: ForwardRetries = field(default_factory=ForwardRetries)  # forwards tried again this pass

    @property
    def fetched(self) -> int:
        return sum(m.fetched for m in self.mailboxes.values())

    @property
    def failed(self) -> list[MailboxSummary]:
        return [m for m in self.mailboxes.values() if m.status == "failed"]


def rules_for(ctx: EngineContext) -> PolicyFor:
    """A sequence's stop rules plus the [inbox] settings; a sequence no longer in the workspace
    gets the default stop rules."""
    inbox = ctx.settings.inbox

    def get(sequence_name: str) -> Policy:
        loaded = ctx.workspace.sequences.get(sequence_name)
        base = Policy(soft_bounce_limit=inbox.soft_bounce_limit, auto_reply_pause=inbox.auto_reply_pause,
                      import_referrals=inbox.import_referrals)
        if loaded is None:
            return base
        seq = loaded.sequence
        referrals = seq.referral_sequence if seq.referral_sequence in ctx.workspace.sequences else None
        return Policy(stop_on=frozenset(str(s) for s in seq.stop_on), stop_account_on_reply=seq.stop_account_on_reply,
                     soft_bounce_limit=base.soft_bounce_limit, auto_reply_pause=base.auto_reply_pause,
                     import_referrals=base.import_referrals, referral_sequence=referrals)

    return get


def process_message(ctx: EngineContext, fetched: FetchedMessage, rules: PolicyFor, now: datetime) -> Handled:
    """classify -> match -> effects for one message (blocking: run it in a thread)."""
    classification = classify(fetched.raw, mailbox=fetched.mailbox)
    return handle_inbound(ctx.engine, read_inbound(fetched, classification), rules, now)


async def forward_if_wanted(ctx: EngineContext, fetched: FetchedMessage, handled: Handled, now: datetime) -> str | None:
    """A reply of ``[inbox] forward_intents`` goes to ``forward_to`` once: polled again, it is not
    forwarded again; a forward refused or cut short is tried again by ``retry_forwards``."""
    if not ctx.settings.inbox.forward_to or handled.event != ev.REPLIED or not handled.key:
        return None
    reply = await asyncio.to_thread(reply_by_key, ctx.engine, handled.key)
    if reply is None:
        return None
    try:
        return await forward_reply(ctx, reply, fetched.raw, now)
    except Exception as exc:  # a forward must never cost the poll its pass (the reply is recorded)
        log.warning("could not forward reply %d, trying again in a later pass: %s", reply.id, exc)
        return "retry"


async def poll_job(ctx: EngineContext, *, once: bool, secrets: Secrets = os.environ.get,
                   options: PollerOptions | None = None, clock: Callable[[], datetime] = utcnow,
                   grace: timedelta = RECONCILE_GRACE) -> PollSummary:
    opts = _with_credentials(ctx, options or PollerOptions())
    summary = PollSummary()
    with_imap = mailboxes_with_imap(ctx.workspace.domains.values())
    for address in sorted(ctx.workspace.mailboxes()):
        summary.mailboxes[address] = MailboxSummary(address)
    for address in set(summary.mailboxes) - {mb.address for mb in with_imap}:
        summary.mailboxes[address].status = "skipped"
        summary.mailboxes[address].failures.append("no IMAP server configured")
    leased: list[str] = []
    lease = ctx.settings.daemon.poll_lease
    if not once:
        now = clock()
        leased = await asyncio.to_thread(acquire_poll_leases, ctx.engine, [mb.address for mb in with_imap],
                                         ctx.worker, now, now + lease)
        for mb in with_imap:
            if mb.address not in leased:
                summary.mailboxes[mb.address].status = "leased"
                summary.mailboxes[mb.address].failures.append("polled by another daemon (lease held)")
        with_imap = [mb for mb in with_imap if mb.address in leased]
    rules = rules_for(ctx)

    async def handler(msg: FetchedMessage) -> None:
        handled = await asyncio.to_thread(process_message, ctx, msg, rules, clock())
        await forward_if_wanted(ctx, msg, handled, clock())
        summary.mailboxes[msg.mailbox].add(handled)
        summary.handled.append((msg.mailbox, handled))

    stop = asyncio.Event()
    renewer = asyncio.create_task(_renew_leases(ctx, leased, lease, clock, stop)) if leased else None
    try:
        report = await poll_once(with_imap, DbWatermarkStore(ctx.engine, clock), handler, secrets, opts)
    finally:
        stop.set()
        try:
            if renewer is not None:
                await renewer  # not cancelled: a renewal in flight must not land after the release
        finally:
            if leased:
                await asyncio.to_thread(release_poll_leases, ctx.engine, leased, ctx.worker)
    for result in report.results:
        box = summary.mailboxes[result.mailbox]
        box.fetched = result.fetched
        if result.status != "ok":
            box.status = result.status
        box.failures.extend(f"{f.folder}: {f.reason}" for f in result.folders if f.status != "ok")
        if result.status == "failed" and not result.folders:
            box.failures.append(result.reason)
    summary.reconcile = await reconcile_unknown(ctx, clock(), grace=grace, secrets=secrets, options=opts)
    if ctx.settings.inbox.forward_to:
        summary.forwards = await retry_forwards(ctx, clock())
    return summary


def _with_credentials(ctx: EngineContext, options: PollerOptions) -> PollerOptions:
    """The options with the context's credentials (OAuth2 bearers), unless the caller gave its own."""
    return options if options.credentials is not None else replace(options, credentials=ctx.credentials())


async def _renew_leases(ctx: EngineContext, addresses: list[str], lease: timedelta, clock: Callable[[], datetime],
                        stop: asyncio.Event) -> None:
    """Extends this worker's poll leases every third of ``lease`` until ``stop``: a pass may take
    longer than the lease (a slow server, more mailboxes than ``max_parallel``) and keeps its
    mailboxes, while a dead daemon renews nothing, so its mailboxes are free ``lease`` later at most.
    A renewal that fails is retried at the next beat; losing a lease only risks an overlap, which
    costs nothing (handling is idempotent)."""
    every = lease.total_seconds() / 3
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return
        now = clock()
        try:
            kept = await asyncio.to_thread(acquire_poll_leases, ctx.engine, addresses, ctx.worker, now, now + lease)
        except Exception as exc:  # a database hiccup must not fail the pass
            log.warning("cannot renew the poll leases of %d mailbox(es), retrying in %g s: %s", len(addresses),
                        every, exc)
            continue
        lost = sorted(set(addresses) - set(kept))
        if lost:
            log.warning("poll lease taken over by another daemon while polling: %s", ", ".join(lost))


async def daemon_poll(ctx: EngineContext) -> None:
    """The daemon's poll slot (``Daemon(extra_jobs={"poll": (partial(daemon_poll, ctx), poll_interval)})``):
    one leased pass, logged in one line, plus a warning per failing mailbox."""
    summary = await poll_job(ctx, once=False)
    kinds: Counter[str] = Counter()
    for box in summary.mailboxes.values():
        kinds.update(box.kinds)
        if box.status == "failed":
            log.warning("poll %s failed: %s", box.mailbox, "; ".join(box.failures),
                        extra=fields(job="poll", mailbox=box.mailbox, outcome="failed", reasons=list(box.failures)))
    r = summary.reconcile
    if summary.fetched or r.checked or r.failures:
        log.info("poll: %d fetched (%s); unknown sends: %d sent, %d requeued, %d waiting", summary.fetched,
                 counted(kinds), r.sent, r.requeued, r.waiting,
                 extra=fields(job="poll", fetched=summary.fetched, counts=dict(kinds), reconciled_sent=r.sent,
                              reconciled_requeued=r.requeued, reconciled_waiting=r.waiting))
    for failure in r.failures:
        log.warning("reconcile: %s", failure)
    f = summary.forwards
    if f.sent or f.retrying or f.failed:
        log.info("forwards tried again: %d sent, %d to retry, %d given up", f.sent, f.retrying, f.failed,
                 extra=fields(job="poll", forwards_sent=f.sent, forwards_retrying=f.retrying, forwards_failed=f.failed))


async def reconcile_unknown(ctx: EngineContext, now: datetime, *, grace: timedelta = RECONCILE_GRACE,
                            secrets: Secrets = os.environ.get, options: PollerOptions | None = None) -> ReconcileSummary:
    """Settles ``unknown`` sends older than ``grace``: in the mailbox's Sent folder -> sent,
    not there -> sent again later. A mailbox whose Sent folder cannot be searched keeps its sends
    unknown (never resent on a guess)."""
    summary = ReconcileSummary()
    options = _with_credentials(ctx, options or PollerOptions())
    sends = await asyncio.to_thread(outcomes.unknown_sends, ctx.engine)
    due = [s for s in sends if s.claimed_at <= now - grace]
    summary.waiting = len(sends) - len(due)
    groups: dict[str, list[Send]] = defaultdict(list)
    for send in due:
        groups[send.mailbox].append(send)

    async def settle(address: str, group: list[Send]) -> None:
        found = ctx.mailbox(address)
        server = found[0].imap_for(found[1]) if found else None
        if found is None or server is None:
            what = "is no longer in domains/" if found is None else "has no IMAP server configured"
            summary.failures.append(f"{address} {what}: {len(group)} unknown send(s) left for `outbound reconcile` "
                                    "or a manual decision")
            return
        mailbox = found[1].model_copy(update={"imap": server, "auth": found[0].auth_for(found[1])})
        try:
            present = await find_in_sent(mailbox, [s.message_id for s in group if s.message_id], secrets=secrets,
                                         options=options)
        except ImapError as exc:
            summary.failures.append(f"{address}: cannot search the Sent folder, {len(group)} send(s) stay unknown: {exc}")
            return
        for send in group:
            assert send.id is not None
            in_sent = send.message_id is not None and send.message_id in present
            await asyncio.to_thread(outcomes.reconcile, ctx.engine, send.id, in_sent, now)
            summary.checked += 1
            if in_sent:
                summary.sent += 1
            else:
                summary.requeued += 1

    await asyncio.gather(*(settle(address, group) for address, group in sorted(groups.items())))
    return summary
