"""SMTP delivery over pooled, reused connections per mailbox (aiosmtplib).

``send()`` makes exactly ONE attempt and returns a ``SendOutcome``; retrying is the engine's job
(``outbound.rulebook.retry``). The DATA phase is driven by hand instead of ``SMTP.data()`` so the
code knows whether the payload was already written when a connection dies: from then on the
server may have accepted the message and the outcome is ``ambiguous``, never ``temporary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPException,
    SMTPResponse,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from outbound.core.outcome import SendOutcome, Stage, local_outcome
from outbound.engine.credentials import Credentials, CredentialsMissing
from outbound.engine.oauth import Bearer, TokenError, TokenRefusedError, TokenUnavailable
from outbound.engine.smtp_outcome import classify_smtp_reply
from outbound.spec.auth import OAuth2
from outbound.spec.domain import Mailbox, SendingDomain, SmtpServer

Secrets = Callable[[str], str | None]
Begin = Callable[[], Awaitable[bool]]

_LEADING_DOT = re.compile(rb"(?m)^\.")


def crlf(message: bytes) -> bytes:
    """The message as it travels: CRLF line endings, ending in CRLF (its SIZE, RFC 1870)."""
    if b"\r" in message:
        message = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    message = message.replace(b"\n", b"\r\n")  # bytes.replace: several times faster than a regex, per send
    return message if message.endswith(b"\r\n") else message + b"\r\n"


def wire_payload(message: bytes) -> bytes:
    """The DATA payload: CRLF line endings, dot-stuffed, ending in the lone dot."""
    message = crlf(message)
    if message.startswith(b".") or b"\n." in message:
        message = _LEADING_DOT.sub(b"..", message)
    return message + b".\r\n"


class NotStarted(Exception):
    """The ``begin`` hook declined the send (lease lost, shutting down): nothing was sent."""


class _SetupFailed(Exception):
    def __init__(self, outcome: SendOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


_BAD_ENVELOPE = re.compile(r"[\x00-\x20\x7f<>]")
# A session whose last transaction ended cleanly, used again within this many seconds, is used as it
# is: an RSET before every message would be one more round trip per send (a dropped session still
# shows at MAIL, before anything was sent, and is then opened again).
TRUSTED_IDLE = 5.0


def envelope_address(address: str) -> bytes:
    """``<address>`` as it goes in MAIL FROM and RCPT TO; ValueError for anything that could break
    the command line (control characters, spaces, angle brackets)."""
    if not address or _BAD_ENVELOPE.search(address):
        raise ValueError(f"{address!r} cannot be an envelope address")
    return f"<{address}>".encode()


@dataclass
class _Conn:
    smtp: aiosmtplib.SMTP
    sent: int = 0
    last_used: float = 0.0
    clean: bool = False  # the last transaction ended with the server's reply to the message: no envelope is open


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def setup_failure(exc: BaseException, stage: Stage) -> SendOutcome:
    """Map an error raised while connecting, upgrading to TLS or logging in (nothing was sent yet)."""
    tls_err = _ssl_cause(exc)
    if tls_err is not None:
        reason = "tls_certificate" if isinstance(tls_err, ssl.SSLCertVerificationError) else "tls_error"
        return local_outcome("config_error", reason, f"TLS failed: {tls_err}", stage)
    if isinstance(exc, SMTPResponseException) and 200 <= exc.code < 600:  # a real reply (greeting, EHLO, STARTTLS, AUTH)
        return classify_smtp_reply(exc.code, exc.message, stage=stage)
    if isinstance(exc, SMTPTimeoutError):
        return local_outcome("temporary", "timeout", str(exc), stage)
    if isinstance(exc, SMTPConnectError):
        refused = isinstance(exc.__cause__, ConnectionRefusedError)
        return local_outcome("temporary", "connection_refused" if refused else "connection_failed", str(exc), stage)
    if isinstance(exc, (SMTPServerDisconnected, OSError, SMTPResponseException)):
        return local_outcome("temporary", "disconnected", str(exc) or type(exc).__name__, stage)
    return local_outcome("config_error", "smtp_error", str(exc), stage)


class MailboxTransport:
    """The SMTP connections of one mailbox: at most ``max_connections`` sessions, reused across sends."""

    def __init__(self, server: SmtpServer, address: str, *, secrets: Secrets = os.environ.get,
                 max_connections: int = 1, tls_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None, max_messages_per_connection: int = 100,
                 max_idle: float = 120.0, auth: OAuth2 | None = None,
                 credentials: Credentials | None = None) -> None:
        if max_connections < 1 or max_messages_per_connection < 1:
            raise ValueError("max_connections and max_messages_per_connection must be at least 1")
        self.server = server
        self.address = address
        self.username = server.username or address
        self.connections_opened = 0  # sessions opened so far (reuse shows as fewer sessions than sends)
        self._secrets = secrets
        self._tls_context = tls_context
        self._local_hostname = local_hostname or address.rsplit("@", 1)[-1]
        self._max_messages = max_messages_per_connection
        self._max_idle = max_idle
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Conn] = []
        self._password: str | None = None
        self._closed = False
        self.auth = auth  # OAuth2: XOAUTH2 with a bearer token from ``credentials``
        self.credentials = credentials
        self._tokens_seen: set[str] = set()  # bearer tokens used, scrubbed from every outcome

    async def send(self, envelope_from: str, recipient: str, message_bytes: bytes, *,
                   begin: Begin | None = None) -> SendOutcome:
        """One delivery attempt of one message to one recipient.

        ``begin`` starts once a connection slot is ours: the engine marks the send as under way
        there, so a send queued behind others is never marked early (a crash while it waits must
        not turn it into ``unknown``). It runs while the session opens and MAIL and RCPT go out,
        which deliver nothing, and the DATA command waits for it: the mark is durable before the
        server can accept the message, as before, but its commit no longer adds to every send's
        latency. False (or any outcome reached while it was pending) raises ``NotStarted``.
        """
        async with self._slots:
            started = asyncio.ensure_future(begin()) if begin is not None else None
            conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            try:
                try:
                    conn = await self._ready(conn)
                except _SetupFailed as failed:
                    await _go_ahead(started)
                    return self._scrub(failed.outcome)
                outcome = await self._attempt(conn, envelope_from, recipient, message_bytes, started)
                if (reused and outcome.kind == "temporary" and outcome.stage == "mail" and outcome.code is None
                        and not conn.smtp.is_connected):
                    # the reused session was dropped while idle (no reply, not a 421: the server did not
                    # ask us to go away); nothing was sent: once more, on a new one
                    try:
                        conn = await self._open()
                    except _SetupFailed as failed:
                        await _go_ahead(started)
                        return self._scrub(failed.outcome)
                    outcome = await self._attempt(conn, envelope_from, recipient, message_bytes, started)
                await _go_ahead(started)  # an outcome before DATA (a refused RCPT) also waits for the mark
            except BaseException:  # declined, cancelled, or the mark failed: the session is not reused
                if started is not None and not started.done():
                    started.cancel()
                if conn is not None:
                    conn.smtp.close()
                raise
            conn.sent += 1
            conn.last_used = time.monotonic()
            if self._closed or not conn.smtp.is_connected or outcome.kind == "ambiguous":
                conn.smtp.close()
            else:
                self._idle.append(conn)
            return self._scrub(outcome)

    async def _attempt(self, conn: _Conn, envelope_from: str, recipient: str, message_bytes: bytes,
                       started: asyncio.Future[bool] | None = None) -> SendOutcome:
        try:
            return await self._transaction(conn, envelope_from, recipient, message_bytes, started)
        except BaseException:
            conn.smtp.close()  # cancelled mid-session: the session state is unknown
            raise

    async def close(self) -> None:
        """QUIT the idle sessions; sessions in use close when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(SMTPException, OSError):
                await conn.smtp.quit(timeout=min(5.0, self.server.timeout))
            conn.smtp.close()

    async def _ready(self, conn: _Conn | None) -> _Conn:
        """A healthy session: the idle one if it ended cleanly moments ago or RSET still works, else a fresh one."""
        if conn is not None:
            idle = time.monotonic() - conn.last_used
            fresh = idle < self._max_idle and conn.sent < self._max_messages
            if fresh and conn.smtp.is_connected and conn.clean and idle < TRUSTED_IDLE:
                return conn
            if fresh and conn.smtp.is_connected:
                try:
                    await conn.smtp.rset()  # health check, and clears a half-done envelope
                    return conn
                except (SMTPException, OSError):
                    pass  # the server closed it meanwhile: reconnect, nothing was sent
            conn.smtp.close()
        return await self._open()

    async def _bearer(self, stale: Bearer | None = None) -> Bearer:
        """The access token to log in with; nothing sent yet if there is none (_SetupFailed)."""
        assert self.auth is not None
        if self.credentials is None:
            raise _SetupFailed(local_outcome("config_error", "oauth_unavailable",
                                             "OAuth2 tokens are not available in this process", "auth"))
        try:
            login = await self.credentials.login(self.address, self.username, self.auth, None, stale=stale)
        except TokenUnavailable as exc:
            raise _SetupFailed(local_outcome("temporary", "token_unavailable", str(exc), "auth")) from None
        except TokenRefusedError as exc:
            raise _SetupFailed(local_outcome("auth_failure", "token_refused", str(exc), "auth")) from None
        except (CredentialsMissing, TokenError) as exc:
            raise _SetupFailed(local_outcome("auth_failure", "oauth_client_missing", str(exc), "auth")) from None
        assert isinstance(login, Bearer)
        self._tokens_seen.add(login.token)
        return login

    async def _xoauth2(self, smtp: aiosmtplib.SMTP) -> None:
        """AUTH XOAUTH2; a refused token is refreshed once and tried again, then the refusal stands
        (an auth failure: the rulebook pauses the mailbox)."""
        bearer = await self._bearer()
        try:
            await smtp.auth_xoauth2(self.username, bearer.token)
            return
        except SMTPAuthenticationError:
            pass
        fresh = await self._bearer(stale=bearer)
        await smtp.auth_xoauth2(self.username, fresh.token)

    async def _open(self) -> _Conn:
        self._closed = False
        password = None
        env = self.server.password_env if self.auth is None else None
        if self.auth is not None:
            await self._bearer()  # fails before connecting when there is no token to be had
        if env:
            password = self._secrets(env)
            if not password:
                raise _SetupFailed(local_outcome(
                    "auth_failure", "password_missing",
                    f"the environment variable {env} (password of {self.username}) is not set", "auth"))
            self._password = password
        s = self.server
        smtp = aiosmtplib.SMTP(hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.tls == "implicit",
                               start_tls=False, tls_context=self._tls_context, local_hostname=self._local_hostname)
        stage: Stage = "connect"
        try:
            await smtp.connect()
            self.connections_opened += 1
            await smtp.ehlo()  # now, so a refused or stalled EHLO counts as a connect failure
            if s.tls == "starttls":
                stage = "tls"
                if not smtp.supports_extension("starttls"):
                    raise _SetupFailed(local_outcome(
                        "config_error", "starttls_unsupported",
                        f"{s.host}:{s.port} does not offer STARTTLS (set tls: implicit or none)", stage))
                await smtp.starttls()
                await smtp.ehlo()  # extensions must be learnt again over TLS (RFC 3207)
            if password is not None or self.auth is not None:
                stage = "auth"
                if not smtp.supports_extension("auth"):
                    raise _SetupFailed(local_outcome(
                        "config_error", "auth_unsupported", f"{s.host}:{s.port} does not offer AUTH", stage))
                if self.auth is not None:
                    await self._xoauth2(smtp)
                else:
                    assert password is not None
                    await smtp.login(self.username, password)
        except _SetupFailed:
            smtp.close()
            raise
        except SMTPAuthenticationError as exc:
            smtp.close()
            raise _SetupFailed(classify_smtp_reply(exc.code, exc.message, stage="auth")) from None
        except (SMTPException, OSError, ValueError) as exc:
            smtp.close()
            raise _SetupFailed(setup_failure(exc, stage)) from None
        except BaseException:  # cancelled: do not leak the socket
            smtp.close()
            raise
        return _Conn(smtp, last_used=time.monotonic())

    async def _transaction(self, conn: _Conn, envelope_from: str, recipient: str,
                           message_bytes: bytes, started: asyncio.Future[bool] | None = None) -> SendOutcome:
        smtp = conn.smtp
        conn.clean = False
        normalized = crlf(message_bytes)
        payload = wire_payload(normalized)
        options: list[bytes] = []
        if smtp.supports_extension("size"):
            options.append(b"SIZE=%d" % len(normalized))
        if smtp.supports_extension("8bitmime") and not payload.isascii():
            options.append(b"BODY=8BITMIME")
        if not (envelope_from + recipient).isascii():
            if not smtp.supports_extension("smtputf8"):
                return local_outcome("soft_bounce", "smtputf8_unsupported",
                                     "the server cannot take a non-ASCII address (no SMTPUTF8)", "local")
            options.append(b"SMTPUTF8")
        # checked before MAIL, so a bad address never leaves an envelope open
        try:
            sender = envelope_address(envelope_from)
        except ValueError as exc:
            return local_outcome("config_error", "invalid_sender", f"invalid envelope sender: {exc}", "local")
        try:
            rcpt = envelope_address(recipient)
        except ValueError as exc:
            return local_outcome("hard_bounce", "invalid_address", f"invalid recipient address: {exc}", "local")
        # MAIL and RCPT by hand, like DATA: the addresses are checked above (aiosmtplib would parse
        # them again on every command)
        stage: Stage = "mail"
        try:
            reply = await smtp.execute_command(b"MAIL", b"FROM:" + sender, *options)
            if reply.code != 250:
                conn.clean = True  # a refused MAIL opens no envelope
                return classify_smtp_reply(reply.code, reply.message, stage="mail")
            stage = "rcpt"
            reply = await smtp.execute_command(b"RCPT", b"TO:" + rcpt)
            if reply.code not in (250, 251):
                return classify_smtp_reply(reply.code, reply.message, stage="rcpt")
            stage = "data"
            await _go_ahead(started)  # nothing can be accepted before the send is durably ``sending``
            reply = await smtp.execute_command(b"DATA")
            if reply.code != 354:
                return classify_smtp_reply(reply.code, reply.message, stage="data")
            stage = "message"
            reply = await self._write_payload(smtp, payload)
        except SMTPResponseException as exc:
            if 200 <= exc.code < 600:
                return classify_smtp_reply(exc.code, exc.message, stage=stage)
            return self._lost(smtp, stage, exc)
        except (SMTPException, OSError) as exc:  # disconnects and timeouts
            return self._lost(smtp, stage, exc)
        conn.clean = True  # the server's reply to the message ends the transaction, whatever it says
        return classify_smtp_reply(reply.code, reply.message, stage="message")

    async def _write_payload(self, smtp: aiosmtplib.SMTP, payload: bytes) -> SMTPResponse:
        protocol = smtp.protocol
        if protocol is None:
            raise SMTPServerDisconnected("connection lost before the message was sent")
        protocol.write(payload)
        return await protocol.read_response(timeout=self.server.timeout)

    @staticmethod
    def _lost(smtp: aiosmtplib.SMTP, stage: Stage, exc: Exception) -> SendOutcome:
        smtp.close()
        text = str(exc) or type(exc).__name__
        if stage == "message":
            # The payload went out; the server may have queued it before the reply was lost.
            return local_outcome("ambiguous", "no_reply_after_data", text, stage)
        reason = "timeout" if isinstance(exc, (SMTPTimeoutError, TimeoutError)) else "disconnected"
        return local_outcome("temporary", reason, text, stage)

    def _scrub(self, outcome: SendOutcome) -> SendOutcome:
        # Defence in depth: a server echoing the credentials must not leak them into logs.
        text = outcome.text
        for secret in (self._password, *self._tokens_seen):
            if secret and secret in text:
                text = text.replace(secret, "[redacted]")
        return outcome if text == outcome.text else replace(outcome, text=text)


async def _go_ahead(started: asyncio.Future[bool] | None) -> None:
    """Waits for the ``begin`` of a send; NotStarted when it declined."""
    if started is not None and not await started:
        raise NotStarted("the send was not started")


class SmtpPool:
    """One ``MailboxTransport`` per mailbox address, created on first use."""

    def __init__(self, *, secrets: Secrets = os.environ.get, max_connections_per_mailbox: int = 1,
                 tls_context: ssl.SSLContext | None = None, local_hostname: str | None = None,
                 max_messages_per_connection: int = 100, max_idle: float = 120.0) -> None:
        self._secrets = secrets
        self._max_connections = max_connections_per_mailbox
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._max_messages = max_messages_per_connection
        self._max_idle = max_idle
        self._transports: dict[str, MailboxTransport] = {}

    @property
    def secrets(self) -> Secrets:
        """Where the passwords come from (the environment, unless a test gives its own)."""
        return self._secrets

    @property
    def connections_per_mailbox(self) -> int:
        """How many SMTP sessions one mailbox may hold at once (its delivery lanes)."""
        return self._max_connections

    async def transport(self, domain: SendingDomain, mailbox: Mailbox,
                        credentials: Credentials | None = None) -> MailboxTransport:
        server = domain.smtp_for(mailbox)
        auth = domain.auth_for(mailbox)
        current = self._transports.get(mailbox.address)
        if current is not None and current.server == server and current.auth == auth:
            if credentials is not None:
                current.credentials = credentials
            return current
        if current is not None:  # the domain file changed: drop the sessions of the old settings
            await current.close()
        # a provider's published limit of concurrent SMTP sessions per mailbox (Microsoft 365: 3) holds
        limit = auth.provider_limits.max_connections if auth is not None else None
        fresh = MailboxTransport(server, mailbox.address, secrets=self._secrets,
                                 max_connections=min(self._max_connections, limit or self._max_connections),
                                 tls_context=self._tls_context, local_hostname=self._local_hostname or domain.domain,
                                 max_messages_per_connection=self._max_messages, max_idle=self._max_idle,
                                 auth=auth, credentials=credentials)
        self._transports[mailbox.address] = fresh
        return fresh

    async def send(self, domain: SendingDomain, mailbox: Mailbox, envelope_from: str, recipient: str,
                   message_bytes: bytes, *, begin: Begin | None = None,
                   credentials: Credentials | None = None) -> SendOutcome:
        transport = await self.transport(domain, mailbox, credentials)
        return await transport.send(envelope_from, recipient, message_bytes, begin=begin)

    async def close_all(self) -> None:
        transports, self._transports = list(self._transports.values()), {}
        for t in transports:
            await t.close()
