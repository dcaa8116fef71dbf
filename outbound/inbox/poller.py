"""Fetch new mail from every mailbox's IMAP folders, incrementally and without losing a message.

Per (mailbox, folder) a :class:`Watermark` holds the folder's UIDVALIDITY and the highest UID the
handler has finished with. The watermark advances only after the handler returned, so a crash or
restart re-delivers at most the message in flight; a UIDVALIDITY change (the folder was recreated)
rescans the folder from UID 1. The handler must therefore be idempotent on
(mailbox, folder, uidvalidity, uid) or on the Message-ID.

Two entry points: :func:`poll_once` (one pass over all mailboxes, ``outbound poll --once``) and
:func:`run_poller` (the daemon: one task per mailbox, IDLE where offered, reconnect with backoff).
Mail is only read (EXAMINE + BODY.PEEK): never marked, moved or deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from outbound.core.watermark import Watermark
from outbound.engine.credentials import Credentials, CredentialsMissing
from outbound.engine.oauth import Bearer, TokenError
from outbound.inbox.imap import ImapAuthError, ImapClient, ImapConfigError, ImapError
from outbound.spec.domain import Mailbox, SendingDomain

log = logging.getLogger(__name__)

Secrets = Callable[[str], "str | None"]


class WatermarkStore(Protocol):
    async def get(self, mailbox: str, folder: str) -> Watermark | None: ...

    async def set(self, mailbox: str, folder: str, watermark: Watermark) -> None: ...


class InMemoryWatermarkStore:
    """For tests and ``poll --once`` dry runs; the database-backed store lives in outbound.store."""

    def __init__(self) -> None:
        self.marks: dict[tuple[str, str], Watermark] = {}

    async def get(self, mailbox: str, folder: str) -> Watermark | None:
        return self.marks.get((mailbox, folder))

    async def set(self, mailbox: str, folder: str, watermark: Watermark) -> None:
        self.marks[(mailbox, folder)] = watermark


@dataclass(frozen=True)
class FetchedMessage:
    mailbox: str
    folder: str
    uidvalidity: int
    uid: int
    raw: bytes = field(repr=False)

    @property
    def key(self) -> tuple[str, str, int, int]:
        """Unique per stored message: the idempotency key for consumers."""
        return (self.mailbox, self.folder, self.uidvalidity, self.uid)


Handler = Callable[[FetchedMessage], Awaitable[None]]


@dataclass(frozen=True)
class PollerOptions:
    command_timeout: float = 30.0
    mailbox_timeout: float = 300.0
    """poll_once: the most one mailbox's whole session may take."""
    poll_interval: float = 60.0
    """daemon: every folder is re-checked this often (IDLE wakes the first folder sooner)."""
    use_idle: bool = True
    fetch_batch: int = 20
    max_parallel: int = 64
    """poll_once: sessions open at the same time."""
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    shutdown_grace: float = 10.0
    ssl_context: ssl.SSLContext | None = None
    credentials: Credentials | None = None
    """how OAuth2 mailboxes log in (their bearer tokens); passwords come from ``secrets``."""


@dataclass(frozen=True)
class FolderResult:
    folder: str
    status: Literal["ok", "missing", "failed"]
    fetched: int
    reason: str


@dataclass(frozen=True)
class MailboxResult:
    mailbox: str
    status: Literal["ok", "failed", "skipped"]
    fetched: int
    reason: str
    folders: tuple[FolderResult, ...] = ()


@dataclass(frozen=True)
class PollReport:
    results: tuple[MailboxResult, ...]

    @property
    def fetched(self) -> int:
        return sum(r.fetched for r in self.results)

    @property
    def failed(self) -> tuple[MailboxResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")

    def result(self, mailbox: str) -> MailboxResult:
        for r in self.results:
            if r.mailbox == mailbox:
                return r
        raise KeyError(mailbox)


def mailboxes_with_imap(domains: Iterable[SendingDomain]) -> list[Mailbox]:
    """Every mailbox of ``domains`` with its IMAP server resolved (the mailbox's own, else the
    domain's default); mailboxes with neither are left out."""
    out: list[Mailbox] = []
    for domain in domains:
        for mb in domain.mailboxes:
            server = domain.imap_for(mb)
            auth = domain.auth_for(mb)
            if server is not None:
                out.append(mb if mb.imap is server and mb.auth is auth
                           else mb.model_copy(update={"imap": server, "auth": auth}))
    return out


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float | None = None) -> float:
    """Seconds to wait before reconnect number ``attempt`` (1-based): doubling, capped, with
    jitter in [50 %, 100 %] so hundreds of mailboxes on one dead server do not retry in step."""
    base = min(maximum, initial * 2.0 ** max(0, attempt - 1))
    return base * (0.5 + 0.5 * (random.random() if jitter is None else jitter))


async def open_session(mailbox: Mailbox, secrets: Secrets, options: PollerOptions) -> ImapClient:
    """Connect and log in; :class:`ImapConfigError` for settings that cannot work."""
    server = mailbox.imap
    if server is None:
        raise ImapConfigError(f"{mailbox.address} has no IMAP server configured")
    if mailbox.auth is not None:
        return await _open_oauth2(mailbox, options)
    if not server.password_env:
        raise ImapConfigError(f"{mailbox.address}: imap.password_env is not set")
    password = secrets(server.password_env)
    if not password:
        raise ImapConfigError(f"{mailbox.address}: environment variable {server.password_env} is empty or unset")
    client = await ImapClient.connect(server.host, server.port, server.tls, timeout=options.command_timeout,
                                      ssl_context=options.ssl_context)
    try:
        await client.login(server.username or mailbox.address, password)
    except BaseException:
        client.close()
        raise
    return client


async def _open_oauth2(mailbox: Mailbox, options: PollerOptions) -> ImapClient:
    """XOAUTH2; a refused token is refreshed once and tried again, then the mailbox is paused (the
    rulebook's ``TokenRefused``)."""
    server, credentials = mailbox.imap, options.credentials
    assert server is not None
    if credentials is None:
        raise ImapConfigError(f"{mailbox.address}: OAuth2 tokens are not available in this process")
    user = server.username or mailbox.address

    async def bearer(stale: Bearer | None = None) -> Bearer:
        try:
            login = await credentials.login(mailbox.address, user, mailbox.auth, None, stale=stale)
        except (TokenError, CredentialsMissing) as exc:
            raise ImapConfigError(f"{mailbox.address}: {exc}") from None
        assert isinstance(login, Bearer)
        return login

    token = await bearer()
    client = await ImapClient.connect(server.host, server.port, server.tls, timeout=options.command_timeout,
                                      ssl_context=options.ssl_context)
    try:
        try:
            await client.xoauth2(user, token.token)
        except ImapAuthError:
            fresh = await bearer(stale=token)
            client.close()  # a new session: some servers drop the one an AUTHENTICATE failed on
            client = await ImapClient.connect(server.host, server.port, server.tls, timeout=options.command_timeout,
                                              ssl_context=options.ssl_context)
            try:
                await client.xoauth2(user, fresh.token)
            except ImapAuthError as exc:
                await credentials.refused(mailbox.address, "the IMAP server refused a freshly refreshed token",
                                          "imap", fresh.generation)
                raise ImapAuthError(str(exc)) from None
    except BaseException:
        client.close()
        raise
    return client


async def sync_folder(client: ImapClient, mailbox: str, folder: str, store: WatermarkStore, handler: Handler,
                      batch: int = 20, stop: asyncio.Event | None = None) -> FolderResult:
    """Hand every message above the folder's watermark to ``handler``, advancing it after each.
    IMAP errors propagate (the connection is suspect); a handler error ends this folder's pass."""
    state = await client.examine(folder)
    if state is None:
        return FolderResult(folder, "missing", 0, f"folder {folder!r} does not exist")
    mark = await store.get(mailbox, folder)
    last = mark.last_uid if mark is not None and mark.uidvalidity == state.uidvalidity else 0
    if mark is not None and mark.uidvalidity != state.uidvalidity:
        log.info("%s/%s: UIDVALIDITY changed %s -> %s, rescanning", mailbox, folder, mark.uidvalidity, state.uidvalidity)
    if state.uidnext is not None and state.uidnext <= last + 1:
        uids: list[int] = []
    else:
        uids = await client.uids_after(last)
    fetched = 0
    for start in range(0, len(uids), batch):
        chunk = uids[start:start + batch]
        for uid, raw in await client.fetch(chunk):
            if stop is not None and stop.is_set():
                return FolderResult(folder, "ok", fetched, "stopped")
            try:
                await handler(FetchedMessage(mailbox, folder, state.uidvalidity, uid, raw))
            except Exception as exc:
                log.warning("%s/%s: handler failed on uid %s: %r", mailbox, folder, uid, exc)
                return FolderResult(folder, "failed", fetched, f"handler failed on uid {uid}: {exc!r}")
            fetched += 1
            last = uid
            await store.set(mailbox, folder, Watermark(state.uidvalidity, uid))
        # UIDs expunged between SEARCH and FETCH: nothing to hand over, safe to step past
        if chunk[-1] > last:
            last = chunk[-1]
            await store.set(mailbox, folder, Watermark(state.uidvalidity, last))
    if mark is None or mark.uidvalidity != state.uidvalidity:
        await store.set(mailbox, folder, Watermark(state.uidvalidity, last))
    return FolderResult(folder, "ok", fetched, "")


def _folders(mailbox: Mailbox) -> list[str]:
    assert mailbox.imap is not None
    return list(dict.fromkeys(mailbox.imap.folders))


async def _poll_mailbox(mailbox: Mailbox, store: WatermarkStore, handler: Handler, secrets: Secrets,
                        options: PollerOptions) -> MailboxResult:
    client = await open_session(mailbox, secrets, options)
    try:
        results = [await sync_folder(client, mailbox.address, f, store, handler, options.fetch_batch)
                   for f in _folders(mailbox)]
    except BaseException:
        client.close()  # errors and timeouts: the connection is suspect, no polite LOGOUT
        raise
    await client.logout()
    failed = [r for r in results if r.status == "failed"]
    return MailboxResult(mailbox.address, "failed" if failed else "ok", sum(r.fetched for r in results),
                         "; ".join(r.reason for r in failed), tuple(results))


async def poll_once(mailboxes: Sequence[Mailbox], store: WatermarkStore, handler: Handler,
                    secrets: Secrets = os.environ.get, options: PollerOptions | None = None) -> PollReport:
    """One pass over every mailbox in parallel; a slow or broken server only fails its own mailbox."""
    opts = options or PollerOptions()
    gate = asyncio.Semaphore(opts.max_parallel)

    async def one(mb: Mailbox) -> MailboxResult:
        if mb.imap is None:
            return MailboxResult(mb.address, "skipped", 0, "no IMAP server configured")
        async with gate:
            try:
                return await asyncio.wait_for(_poll_mailbox(mb, store, handler, secrets, opts), opts.mailbox_timeout)
            except TimeoutError:
                reason = f"no result within {opts.mailbox_timeout:g} s"
            except ImapError as exc:
                reason = str(exc)
        log.warning("%s: %s", mb.address, reason)
        return MailboxResult(mb.address, "failed", 0, reason)

    return PollReport(tuple(await asyncio.gather(*(one(mb) for mb in mailboxes))))


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _mailbox_loop(mailbox: Mailbox, store: WatermarkStore, handler: Handler, stop: asyncio.Event,
                        secrets: Secrets, options: PollerOptions) -> None:
    """The daemon's task for one mailbox: sync, wait (IDLE or sleep), repeat; reconnect on errors."""
    folders = _folders(mailbox)
    # the first folder is IDLEd on, so sync it last: it is then already open
    order = folders[1:] + folders[:1]
    reported: set[str] = set()
    attempt = 0
    while not stop.is_set():
        client: ImapClient | None = None
        clean = False
        try:
            client = await open_session(mailbox, secrets, options)
            while not stop.is_set():
                results = [await sync_folder(client, mailbox.address, f, store, handler, options.fetch_batch, stop)
                           for f in order]
                attempt = 0  # a full round worked: the next failure starts the backoff afresh
                for r in results:
                    if r.status == "missing" and r.folder not in reported:
                        reported.add(r.folder)
                        log.warning("%s: %s (ignored)", mailbox.address, r.reason)
                idle_ok = results[-1].status != "missing" and options.use_idle and client.supports_idle
                if stop.is_set():
                    break
                if idle_ok:
                    await client.idle(options.poll_interval, stop)
                else:
                    await _sleep(stop, options.poll_interval)
            clean = True
        except ImapError as exc:
            attempt += 1
            log.warning("%s: %s", mailbox.address, exc)
        except Exception:
            attempt += 1
            log.exception("%s: unexpected error in the IMAP poller", mailbox.address)
        finally:
            if client is not None and clean:
                await client.logout()
            elif client is not None:
                client.close()
        if not stop.is_set() and attempt:
            await _sleep(stop, backoff_delay(attempt, options.backoff_initial, options.backoff_max))


async def run_poller(mailboxes: Sequence[Mailbox], store: WatermarkStore, handler: Handler, stop: asyncio.Event,
                     secrets: Secrets = os.environ.get, options: PollerOptions | None = None) -> None:
    """Poll until ``stop`` is set, one task per mailbox with IMAP; then let in-flight handlers
    finish (up to ``shutdown_grace``) and cancel what is left."""
    opts = options or PollerOptions()
    tasks = [asyncio.create_task(_mailbox_loop(mb, store, handler, stop, secrets, opts), name=f"imap:{mb.address}")
             for mb in mailboxes if mb.imap is not None]
    try:
        await stop.wait()
        if tasks:
            await asyncio.wait(tasks, timeout=opts.shutdown_grace)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
