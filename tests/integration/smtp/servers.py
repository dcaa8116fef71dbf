"""Test servers for the SMTP edge: a session-counting aiosmtpd, a scripted raw SMTP server, a TLS cert."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.fixtures.common import free_port
from tests.fixtures.smtp_sink import SmtpSink, _Handler


class CountingController(Controller):
    """aiosmtpd calls factory() once per accepted connection: count them."""

    sessions = 0

    def factory(self) -> Any:
        self.sessions += 1
        return super().factory()  # type: ignore[no-untyped-call]


def _authenticator(sink: SmtpSink) -> Any:
    """Like the shared sink's, but a refusal is answered with 535.

    The shared fixture returns ``AuthResult(success=False)``, whose ``handled`` defaults to True,
    so aiosmtpd sends no reply at all and the client can only time out.
    """
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and sink.auth.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False)

    return check


@contextmanager
def counting_sink(**smtp_kwargs: Any) -> Iterator[tuple[SmtpSink, CountingController]]:
    """The shared sink's handler behind a controller that counts sessions (plus TLS/idle options)."""
    sink = SmtpSink("127.0.0.1", free_port())
    ctl = CountingController(_Handler(sink), hostname=sink.host, port=sink.port, server_hostname="sink.test",
                             authenticator=_authenticator(sink), auth_require_tls=False, **smtp_kwargs)
    ctl.start()
    ctl.sessions = 0  # start() opened one probe connection of its own
    try:
        yield sink, ctl
    finally:
        ctl.stop()


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only this cert) for 127.0.0.1 / localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@dataclass
class RawSmtp:
    """Just enough SMTP, in the test's own event loop, to misbehave on cue.

    ``script`` maps a step (greeting, ehlo, mail, rcpt, data, data_end, rset) to a reply line,
    "close" (drop the connection without a reply; "close once": the first time only), "stall" (never answer) or a reply line ending
    in " +close" (answer, then drop the connection). ``commands`` lists the verbs received.
    """

    script: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    received: list[bytes] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def __aenter__(self) -> RawSmtp:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _act(self, step: str, default: str, writer: asyncio.StreamWriter) -> bool:
        """Answer one step; False when the session is over."""
        action = self.script.get(step, default)
        if action == "stall":
            await self._stop.wait()
            return False
        if action in ("close", "close once"):
            if action == "close once":
                del self.script[step]
            writer.close()
            return False
        reply, _, then = action.partition(" +")
        writer.write(reply.encode() + b"\r\n")
        await writer.drain()
        if action.startswith("421") or then == "close":
            writer.close()
            return False
        return True

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            if not await self._act("greeting", "220 raw.test ESMTP", writer):
                return
            while line := await reader.readline():
                verb = line[:4].upper()
                self.commands.append(verb.decode(errors="replace"))
                if verb == b"EHLO":
                    ok = await self._act("ehlo", "250-raw.test\r\n250 8BITMIME", writer)
                elif verb == b"DATA":
                    ok = await self._act("data", "354 go ahead", writer)
                    if ok:
                        self.received.append(await reader.readuntil(b"\r\n.\r\n"))
                        ok = await self._act("data_end", "250 2.0.0 queued", writer)
                elif verb == b"QUIT":
                    await self._act("quit", "221 bye", writer)
                    ok = False
                else:
                    default = {b"MAIL": "250 2.1.0 ok", b"RCPT": "250 2.1.5 ok", b"RSET": "250 ok", b"NOOP": "250 ok"}
                    ok = await self._act(verb.decode().lower(), default.get(verb, "502 5.5.2 unknown"), writer)
                if not ok:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
