"""A thin IMAP client over aioimaplib 2.0.3 that smooths over its sharp edges.

What it handles (each verified against Dovecot, see /work/shared/test-servers/RECIPE.md §6):

* ``login()`` returns NO instead of raising: we raise :class:`ImapAuthError` (without the password).
* A dropped connection leaves aioimaplib "SELECTED" and every later call hanging: ``conn_lost_cb``
  and an untagged ``BYE`` set :attr:`ImapClient.lost`, and every call races against it.
* Some calls (``uid store``, ``idle``) have no timeout at all: every call gets one here.
* Dovecot does not rescan the Maildir on SEARCH alone: :meth:`uids_after` sends NOOP first.
* ``UID n:*`` always matches the highest UID, even one below n: results are filtered.
* Message bytes arrive as ``bytearray`` elements of ``Response.lines``.
* Implicit TLS goes through ``IMAP4(ssl_context=...)`` (``IMAP4_SSL`` drops ``conn_lost_cb``);
  STARTTLS, which aioimaplib lacks, is done with ``loop.start_tls`` on the open transport.

Folders are opened with EXAMINE (read-only) and bodies fetched with ``BODY.PEEK[]``: nothing is
ever marked, moved or deleted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aioimaplib

T = TypeVar("T")
TlsMode = Literal["starttls", "implicit", "none"]

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS$")
_FETCH_START = re.compile(rb"^\d+ FETCH \(")
_FETCH_UID = re.compile(rb"UID (\d+)")
_CONTROL = re.compile(r"[\x00\r\n]")


class ImapError(Exception):
    """Any IMAP failure; the message is safe to log (it never holds a password)."""


class ImapConfigError(ImapError):
    """The mailbox's IMAP settings cannot work (missing password, unsupported TLS mode...)."""


class ImapAuthError(ImapError):
    """The server refused the login."""


class ImapConnectionError(ImapError):
    """The connection could not be opened, or the server closed it (BYE, reset)."""


class ImapTimeout(ImapError):
    """The server did not answer in time."""


class ImapCommandError(ImapError):
    """The server answered NO/BAD to a command."""


class _SaslCommand(aioimaplib.Command):  # type: ignore[misc]
    """A SASL AUTHENTICATE whose server challenge (an error report) gets the empty response."""

    def __init__(self, *args: Any, answer: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answer = answer

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if result == "Pending" and bytes(line).startswith(b"+"):
            self._answer()
            return
        super().append_to_resp(line, result)


@dataclass(frozen=True)
class FolderState:
    """What EXAMINE told us about a folder."""

    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int


def encode_folder(name: str) -> str:
    """A folder name as an IMAP argument: modified UTF-7 (RFC 3501 5.1.3), then quoted."""
    if _CONTROL.search(name):
        raise ImapConfigError(f"folder name {name!r} holds a control character")
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            b64 = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return str(aioimaplib.quoted("".join(out)))


def parse_search(lines: Iterable[bytes | bytearray]) -> list[int]:
    """UIDs from a UID SEARCH response (aioimaplib strips the SEARCH keyword; the last line is the
    completion text)."""
    found: list[int] = []
    items = list(lines)
    for line in items[:-1]:
        tokens = bytes(line).split()
        if tokens and all(t.isdigit() for t in tokens):
            found.extend(int(t) for t in tokens)
    return found


def parse_fetch(lines: Iterable[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """(uid, body) pairs from a ``UID FETCH ... (UID BODY.PEEK[])`` response. The UID may come
    before the literal (Dovecot) or after it, in the closing line (other servers)."""
    out: list[tuple[int, bytes]] = []
    uid: int | None = None
    body: bytes | None = None

    def close() -> None:
        if uid is not None and body is not None:
            out.append((uid, body))

    for line in lines:
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        if _FETCH_START.match(line):
            close()
            uid, body = None, None
        found = _FETCH_UID.search(line)
        if found and uid is None:
            uid = int(found.group(1))
    close()
    return out


def parse_examine(name: str, lines: Iterable[bytes | bytearray]) -> FolderState:
    validity: int | None = None
    uidnext: int | None = None
    exists = 0
    for raw in lines:
        line = bytes(raw)
        if m := _UIDVALIDITY.search(line):
            validity = int(m.group(1))
        elif m := _UIDNEXT.search(line):
            uidnext = int(m.group(1))
        elif m := _EXISTS.match(line):
            exists = int(m.group(1))
    if validity is None:
        raise ImapCommandError(f"the server sent no UIDVALIDITY for {name}")
    return FolderState(name, validity, uidnext, exists)


@functools.cache
def _default_context() -> ssl.SSLContext:
    """System CAs and hostname checks; built once (loading the CA store costs milliseconds)."""
    return ssl.create_default_context()


def _text(resp: Any) -> str:
    """The server's completion text, for error messages."""
    lines = getattr(resp, "lines", None) or [b""]
    return bytes(lines[-1]).decode(errors="replace").strip()[:200]


class ImapClient:
    """One IMAP connection. Create with :meth:`connect`; always :meth:`close` (or use ``async with``)."""

    def __init__(self, imap: aioimaplib.IMAP4, where: str, timeout: float, lost: asyncio.Event) -> None:
        self._imap = imap
        self.where = where
        self.timeout = timeout
        self.lost = lost
        self.selected: str | None = None

    # ------------------------------------------------------------ connection

    @classmethod
    async def connect(cls, host: str, port: int, tls: TlsMode = "implicit", *, timeout: float = 30.0,
                      ssl_context: ssl.SSLContext | None = None) -> ImapClient:
        where = f"{host}:{port}"
        lost = asyncio.Event()

        def on_lost(exc: Exception | None) -> None:
            lost.set()

        ctx = (ssl_context or _default_context()) if tls != "none" else None
        imap = aioimaplib.IMAP4(host=host, port=port, timeout=timeout, conn_lost_cb=on_lost,
                                ssl_context=ctx if tls == "implicit" else None)
        client = cls(imap, where, timeout, lost)
        try:
            await client._guard(imap.wait_hello_from_server(), "greeting")
            if tls == "starttls" and ctx is not None:
                await client._starttls(host, ctx)
        except BaseException:
            client.close()
            raise
        return client

    async def _starttls(self, host: str, ctx: ssl.SSLContext) -> None:
        proto = self._imap.protocol
        if "STARTTLS" not in proto.capabilities:
            raise ImapConfigError(f"{self.where} does not offer STARTTLS (set tls: implicit or none)")
        cmd = aioimaplib.Command("STARTTLS", proto.new_tag(), loop=proto.loop)
        resp = await self._guard(proto.execute(cmd), "STARTTLS")
        if resp.result != "OK":
            raise ImapCommandError(f"STARTTLS refused by {self.where}: {_text(resp)}")
        # upgrade the same transport in place; the protocol object keeps parsing as before
        loop = asyncio.get_running_loop()
        transport = await self._guard(loop.start_tls(proto.transport, proto, ctx, server_hostname=host), "TLS handshake")
        if transport is None:
            raise ImapConnectionError(f"TLS handshake with {self.where} failed")
        proto.transport = transport
        # capabilities may change after TLS (RFC 3501 6.2.1): ask again
        await self._guard(proto.capability(), "CAPABILITY")

    async def __aenter__(self) -> ImapClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.logout()

    async def logout(self) -> None:
        """Polite LOGOUT when the connection is healthy; always closes."""
        if not self.lost.is_set() and not self._imap.has_pending_idle():
            with contextlib.suppress(ImapError):
                await self._guard(self._imap.logout(), "LOGOUT", timeout=min(self.timeout, 5.0))
        self.close()

    def close(self) -> None:
        """Drop the connection and aioimaplib's helper tasks (idempotent, never raises)."""
        imap = self._imap
        with contextlib.suppress(Exception):
            imap._client_task.cancel()
        transport = getattr(imap.protocol, "transport", None)
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()
        if imap._idle_waiter is not None:
            imap._idle_waiter.cancel()
        for task in [*imap.tasks, *imap.protocol.tasks]:
            task.cancel()
        self.lost.set()

    async def _guard(self, aw: Awaitable[T], what: str, timeout: float | None = None) -> T:
        """Await one aioimaplib call with a timeout, failing fast if the connection is lost."""
        if self.lost.is_set():
            raise ImapConnectionError(f"connection to {self.where} lost")
        task = asyncio.ensure_future(aw)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, timeout=timeout or self.timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            lost.cancel()
        if task not in done:
            task.cancel()
            if lost in done:
                raise ImapConnectionError(f"connection to {self.where} lost during {what}")
            raise ImapTimeout(f"{self.where} did not answer {what} within {timeout or self.timeout:g} s")
        try:
            return task.result()
        except ImapError:
            raise
        except (TimeoutError, aioimaplib.CommandTimeout):
            raise ImapTimeout(f"{self.where} did not answer {what} in time") from None
        except (OSError, EOFError) as exc:
            raise ImapConnectionError(f"cannot talk to {self.where} ({what}): {exc}") from None
        except aioimaplib.AioImapException as exc:
            raise ImapCommandError(f"{what} on {self.where} failed: {exc}") from None

    # ------------------------------------------------------------ commands

    async def login(self, user: str, password: str) -> None:
        if _CONTROL.search(user) or _CONTROL.search(password):
            raise ImapConfigError("the IMAP user name or password holds a control character")
        if "LOGINDISABLED" in self._imap.protocol.capabilities:
            raise ImapConfigError(f"{self.where} refuses LOGIN on this connection (use tls: implicit or starttls)")
        resp = await self._guard(self._imap.login(aioimaplib.quoted(user), password), "LOGIN")
        if resp.result != "OK":
            raise ImapAuthError(f"login as {user} on {self.where} refused: {_text(resp)}")

    async def xoauth2(self, user: str, token: str) -> None:
        """AUTHENTICATE XOAUTH2 with a bearer token (Google, Microsoft, Dovecot's oauth2 passdb). A refusal
        comes as a challenge carrying the error, answered with an empty line (as RFC 7628 asks) so the
        server ends the exchange with NO at once; aioimaplib's own ``xoauth2`` would wait it out."""
        if _CONTROL.search(user) or _CONTROL.search(token):
            raise ImapConfigError("the IMAP user name or token holds a control character")
        proto = self._imap.protocol
        sasl = base64.b64encode(f"user={user}\1auth=Bearer {token}\1\1".encode()).decode("ascii")
        cmd = _SaslCommand("AUTHENTICATE", proto.new_tag(), "XOAUTH2", sasl, loop=proto.loop,
                           answer=lambda: proto.transport.write(b"\r\n"))
        resp = await self._guard(proto.execute(cmd, scrub=sasl), "AUTHENTICATE XOAUTH2")
        if resp.result != "OK":
            raise ImapAuthError(f"XOAUTH2 as {user} on {self.where} refused: {_text(resp)}")
        proto.state = aioimaplib.AUTH

    @property
    def supports_idle(self) -> bool:
        return "IDLE" in self._imap.protocol.capabilities

    async def examine(self, folder: str) -> FolderState | None:
        """Open ``folder`` read-only; None when it does not exist (or cannot be opened)."""
        resp = await self._guard(self._imap.protocol.simple_command("EXAMINE", encode_folder(folder)), f"EXAMINE {folder}")
        if resp.result != "OK":
            self.selected = None
            return None
        # aioimaplib only counts SELECT as "selected"; EXAMINE opens the folder the same way
        self._imap.protocol.state = aioimaplib.SELECTED
        self.selected = folder
        return parse_examine(folder, resp.lines)

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` in the open folder, ascending."""
        await self._guard(self._imap.noop(), "NOOP")
        resp = await self._guard(self._imap.uid_search(f"UID {last_uid + 1}:*", charset=None), "UID SEARCH")
        if resp.result != "OK":
            raise ImapCommandError(f"UID SEARCH on {self.where} failed: {_text(resp)}")
        # "n:*" matches the highest UID even when it is below n
        return sorted(u for u in set(parse_search(resp.lines)) if u > last_uid)

    async def search_header(self, header: str, value: str) -> list[int]:
        if _CONTROL.search(header + value) or not re.fullmatch(r"[A-Za-z0-9-]+", header):
            raise ValueError("header search terms cannot hold control characters")
        resp = await self._guard(self._imap.uid_search("HEADER", header, aioimaplib.quoted(value), charset=None),
                                 "UID SEARCH HEADER")
        if resp.result != "OK":
            raise ImapCommandError(f"UID SEARCH on {self.where} failed: {_text(resp)}")
        return sorted(set(parse_search(resp.lines)))

    async def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """Full raw messages for ``uids`` without setting \\Seen; missing UIDs are left out."""
        if not uids:
            return []
        resp = await self._guard(self._imap.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])"),
                                 "UID FETCH", timeout=self.timeout * 4)
        if resp.result != "OK":
            raise ImapCommandError(f"UID FETCH on {self.where} failed: {_text(resp)}")
        wanted = set(uids)
        return sorted((uid, raw) for uid, raw in parse_fetch(resp.lines) if uid in wanted)

    async def append(self, folder: str, raw: bytes, flags: str | None = None) -> None:
        """APPEND; a folder the server says to create first (RFC 3501 [TRYCREATE], a new account's
        Sent) is created, and the APPEND tried once more."""
        resp = await self._guard(self._imap.append(raw, mailbox=encode_folder(folder), flags=flags), "APPEND")
        if resp.result != "OK" and "[TRYCREATE]" in _text(resp).upper():
            created = await self._guard(self._imap.create(encode_folder(folder)), "CREATE")
            if created.result != "OK":
                raise ImapCommandError(f"CREATE {folder} on {self.where} failed: {_text(created)}")
            resp = await self._guard(self._imap.append(raw, mailbox=encode_folder(folder), flags=flags), "APPEND")
        if resp.result != "OK":
            raise ImapCommandError(f"APPEND to {folder} on {self.where} failed: {_text(resp)}")

    async def idle(self, timeout: float, stop: asyncio.Event | None = None) -> bool:
        """IDLE in the open folder until the server reports a change (True), ``timeout`` passes or
        ``stop`` is set (False). A BYE or lost connection raises :class:`ImapConnectionError`."""
        imap = self._imap
        while not imap.protocol.idle_queue.empty():  # pushes left over from an earlier IDLE
            imap.protocol.idle_queue.get_nowait()
        started = await self._guard(imap.idle_start(timeout=timeout + 60), "IDLE")
        changed = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        stop_wait = asyncio.ensure_future(stop.wait()) if stop is not None else None
        helpers: list[asyncio.Future[Any]] = [] if stop_wait is None else [stop_wait]
        try:
            while not changed:
                left = deadline - loop.time()
                if left <= 0:
                    break
                push_task = asyncio.ensure_future(imap.wait_server_push(timeout=left))
                lost_task = asyncio.ensure_future(self.lost.wait())
                helpers += [push_task, lost_task]
                waiters = {push_task, lost_task} | ({stop_wait} if stop_wait is not None else set())
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                lost_task.cancel()
                if push_task not in done:
                    push_task.cancel()
                    if lost_task in done:
                        raise ImapConnectionError(f"connection to {self.where} lost while idling")
                    break  # stop was set
                try:
                    push = push_task.result()
                except TimeoutError:
                    break
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                for line in push:
                    text = bytes(line)
                    if text.startswith(b"BYE"):
                        self.lost.set()
                        self.close()
                        raise ImapConnectionError(f"{self.where} closed the connection: {text.decode(errors='replace')}")
                    if text.endswith(b" EXISTS"):
                        changed = True
        finally:
            for helper in helpers:  # also when this task is cancelled mid-wait
                helper.cancel()
            if not self.lost.is_set():
                imap.idle_done()
                try:
                    await self._guard(asyncio.shield(started), "IDLE DONE", timeout=min(self.timeout, 10.0))
                except ImapError:
                    self.close()
                    raise
            else:
                started.cancel()
        return changed
