"""Servers that misbehave on purpose, on loopback, each in a thread with its own event loop (so the
same server serves an in-process engine and a daemon subprocess).

* :class:`FaultySmtp`: a small SMTP server (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP,
  QUIT) whose faults are scripted (``script``) or drawn at random (``rate``): drop the connection
  after the greeting, stall, answer 421/451/452/550, or drop the connection after the message data
  arrived (the message is then kept or not, as a real server might have queued it or not).
* :class:`ImapCutProxy`: a TCP proxy in front of Dovecot that cuts the connection after N bytes of
  a ``UID FETCH`` response, ``cuts`` times.
* :class:`DnsFault`: a UDP DNS front that forwards to NSD, answers SERVFAIL, or drops queries (a
  timeout), switchable at run time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import re
import socket
import threading
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import dns.message
import dns.rcode

from tests.fixtures.common import free_port

Stage = str  # greeting | mail | rcpt | data | message
_MSGID = re.compile(rb"(?im)^message-id:\s*(<[^>\r\n]+>)")


@dataclass(frozen=True)
class Fault:
    """What the server does at ``stage`` instead of its normal reply."""

    stage: Stage
    kind: str  # drop | stall | reply | drop_after_data
    reply: str = ""  # for kind=reply: "451 4.3.0 ..."
    seconds: float = 0.0  # for kind=stall
    keep: bool = False  # for drop_after_data: was the message queued before the connection died

    @property
    def label(self) -> str:
        return self.reply[:3] if self.kind == "reply" else self.kind


RANDOM_FAULTS: tuple[Fault, ...] = (
    Fault("greeting", "drop"),
    Fault("greeting", "reply", "421 4.3.2 Service shutting down, closing connection"),
    Fault("mail", "reply", "421 4.7.0 Too many connections, try again later"),
    Fault("rcpt", "stall"),
    Fault("message", "stall"),
    Fault("rcpt", "reply", "451 4.3.0 <{a}>: Temporary local problem"),
    Fault("rcpt", "reply", "452 4.2.2 <{a}>: Mailbox full, try again later"),
    Fault("rcpt", "reply", "550 5.1.1 <{a}>: Recipient address rejected: User unknown"),
    Fault("message", "drop_after_data", keep=True),
    Fault("message", "drop_after_data", keep=False),
    Fault("message", "reply", "451 4.3.0 Error: queue file write error"),
)


@dataclass
class Received:
    mail_from: str
    rcpt: str
    data: bytes
    message_id: str


@dataclass
class FaultySmtp:
    """Start with :meth:`start`; ``delivered`` holds what the server accepted (or kept after a drop)."""

    rate: float = 0.0  # chance of a random fault per session stage that can have one
    seed: int = 1
    stall_seconds: float = 1.5
    faults: tuple[Fault, ...] = RANDOM_FAULTS
    auth: dict[str, str] = field(default_factory=dict)  # user -> password; AUTH required when non-empty
    script: list[Fault] = field(default_factory=list)  # consumed first, in order, by stage
    # True: a message is left ambiguous (dropped or stalled after DATA) at most once per Message-ID
    ambiguous_once: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    delivered: list[Received] = field(default_factory=list)
    ambiguous: list[Received] = field(default_factory=list)  # dropped after DATA (kept or not)
    injected: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    auth_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(init=False)
    _loop: _LoopThread | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # ---------------------------------------------------------------- control

    def start(self) -> FaultySmtp:
        self.port = self.port or free_port()
        self._loop = _LoopThread()
        self._loop.call(asyncio.start_server(self._session, self.host, self.port))
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def __enter__(self) -> FaultySmtp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def message_ids(self) -> list[str]:
        with self.lock:
            return [r.message_id for r in self.delivered]

    def _fault(self, stage: Stage) -> Fault | None:
        with self.lock:
            for i, f in enumerate(self.script):
                if f.stage == stage:
                    return self.script.pop(i)
            if self.rate and self._rng.random() < self.rate:
                choices = [f for f in self.faults if f.stage == stage]
                if choices:
                    return self._rng.choice(choices)
        return None

    def _count(self, fault: Fault) -> None:
        with self.lock:
            self.injected[fault.label] += 1

    # ---------------------------------------------------------------- protocol

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            self.connections += 1
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _apply(self, fault: Fault | None, writer: asyncio.StreamWriter, rcpt: str = "") -> bool:
        """Applies ``fault``; True when the session must end now."""
        if fault is None:
            return False
        self._count(fault)
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds or self.stall_seconds)
            return False  # then carries on: the client has usually given up by now
        if fault.kind == "drop":
            writer.transport.abort()
            return True
        await _say(writer, fault.reply.format(a=rcpt))
        return fault.reply.startswith("421")

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await self._apply(self._fault("greeting"), writer):
            return
        await _say(writer, "220 faulty.test ESMTP")
        authed = not self.auth
        mail_from, rcpt = "", ""
        while True:
            line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb in ("EHLO", "HELO"):
                lines = ["250-faulty.test", "250-SIZE 10485760", "250-8BITMIME", "250-PIPELINING"]
                if self.auth:
                    lines.append("250-AUTH PLAIN LOGIN")
                await _say(writer, "\r\n".join([*lines, "250 SMTPUTF8"]))
            elif verb == "AUTH":
                authed = await self._auth(arg, reader, writer)
            elif verb in ("RSET", "NOOP"):
                mail_from, rcpt = "", ""
                await _say(writer, "250 2.0.0 OK")
            elif verb == "QUIT":
                await _say(writer, "221 2.0.0 Bye")
                return
            elif verb == "MAIL":
                if not authed:
                    await _say(writer, "530 5.7.0 Authentication required")
                    continue
                if await self._apply(self._fault("mail"), writer):
                    return
                if writer.is_closing():
                    return
                mail_from = _address(arg)
                await _say(writer, "250 2.1.0 OK")
            elif verb == "RCPT":
                addr = _address(arg)
                fault = self._fault("rcpt")
                if fault is not None and fault.kind == "reply":
                    if await self._apply(fault, writer, addr):
                        return
                    continue
                if await self._apply(fault, writer, addr):
                    return
                rcpt = addr
                await _say(writer, "250 2.1.5 OK")
            elif verb == "DATA":
                if not rcpt:
                    await _say(writer, "503 5.5.1 Error: need RCPT command")
                    continue
                await _say(writer, "354 End data with <CR><LF>.<CR><LF>")
                data = await _read_data(reader)
                got = Received(mail_from, rcpt, data, _message_id(data))
                fault = self._fault("message")
                if fault is not None and fault.kind in ("drop_after_data", "stall") and self.ambiguous_once:
                    with self.lock:
                        if got.message_id in {a.message_id for a in self.ambiguous}:
                            fault = None
                if fault is not None and fault.kind == "drop_after_data":
                    self._count(fault)
                    with self.lock:
                        self.ambiguous.append(got)
                        if fault.keep:
                            self.delivered.append(got)
                    writer.transport.abort()
                    return
                if fault is not None and fault.kind == "stall":
                    # queued, but the reply comes after the client gave up: its outcome is unknown
                    self._count(fault)
                    with self.lock:
                        self.delivered.append(got)
                        self.ambiguous.append(got)
                    await asyncio.sleep(fault.seconds or self.stall_seconds)
                    await _say(writer, "250 2.0.0 OK: queued (late)")
                    mail_from, rcpt = "", ""
                    continue
                if fault is not None and fault.kind == "reply":
                    if await self._apply(fault, writer, rcpt):
                        return
                    mail_from, rcpt = "", ""
                    continue
                if await self._apply(fault, writer):
                    return
                with self.lock:
                    self.delivered.append(got)
                await _say(writer, "250 2.0.0 OK: queued")
                mail_from, rcpt = "", ""
            else:
                await _say(writer, "502 5.5.2 Error: command not recognized")

    async def _auth(self, arg: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        if mech == "PLAIN":
            blob = parts[1] if len(parts) > 1 else await _ask(reader, writer, "334 ")
            fields = _b64(blob).split("\0")
            user, pw = (fields[1], fields[2]) if len(fields) == 3 else ("", "")
        elif mech == "LOGIN":
            user = _b64(parts[1]) if len(parts) > 1 else _b64(await _ask(reader, writer, "334 VXNlcm5hbWU6"))
            pw = _b64(await _ask(reader, writer, "334 UGFzc3dvcmQ6"))
        else:
            await _say(writer, "504 5.5.4 Unrecognized authentication type")
            return False
        if self.auth.get(user) == pw:
            await _say(writer, "235 2.7.0 Authentication successful")
            return True
        with self.lock:
            self.auth_failures += 1
        await _say(writer, "535 5.7.8 Error: authentication failed")
        return False


async def _say(writer: asyncio.StreamWriter, text: str) -> None:
    writer.write(text.encode() + b"\r\n")
    await writer.drain()


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, prompt: str) -> str:
    await _say(writer, prompt)
    return (await reader.readline()).decode("ascii", "replace").strip()


def _b64(text: str) -> str:
    try:
        return base64.b64decode(text).decode("utf-8", "replace")
    except ValueError:
        return ""


def _address(arg: str) -> str:
    m = re.search(r"<([^>]*)>", arg)
    return m.group(1) if m else ""


async def _read_data(reader: asyncio.StreamReader) -> bytes:
    lines: list[bytes] = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("eof in DATA")
        if line in (b".\r\n", b".\n"):
            return b"".join(lines)
        lines.append(line[1:] if line.startswith(b"..") else line)


def _message_id(data: bytes) -> str:
    m = _MSGID.search(data.split(b"\r\n\r\n", 1)[0])
    return m.group(1).decode() if m else ""


class _LoopThread:
    """An event loop in a daemon thread; ``call`` runs a coroutine on it and returns its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[asyncio.Server] = []

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        result = asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)
        if isinstance(result, asyncio.Server):
            self.servers.append(result)
        return result

    def stop(self) -> None:
        async def close() -> None:
            for srv in self.servers:
                srv.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


# -------------------------------------------------------------------- IMAP


@dataclass
class ImapCutProxy:
    """Forwards to ``upstream``; while ``cuts`` > 0, a ``UID FETCH`` response is cut after
    ``after_bytes`` bytes (both sides closed, no BYE), and ``cuts`` goes down by one."""

    upstream_port: int
    after_bytes: int = 300
    cuts: int = 0
    upstream_host: str = "127.0.0.1"
    port: int = 0
    made: int = 0  # cuts done
    _loop: _LoopThread | None = None

    def start(self) -> ImapCutProxy:
        self.port = self.port or free_port()
        self._loop = _LoopThread()
        self._loop.call(asyncio.start_server(self._client, "127.0.0.1", self.port))
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    async def _client(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            s_reader, s_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            c_writer.close()
            return
        fetching = asyncio.Event()

        async def up() -> None:
            while data := await c_reader.read(65536):
                if b"UID FETCH" in data.upper() or b" FETCH " in data.upper():
                    fetching.set()
                s_writer.write(data)
                await s_writer.drain()

        async def down() -> None:
            sent = 0
            while data := await s_reader.read(65536):
                if fetching.is_set() and self.cuts > 0:
                    room = self.after_bytes - sent
                    if len(data) >= room:
                        c_writer.write(data[:max(room, 0)])
                        await c_writer.drain()
                        self.cuts -= 1
                        self.made += 1
                        raise ConnectionAbortedError("cut")
                    sent += len(data)
                c_writer.write(data)
                await c_writer.drain()

        tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        for w in (c_writer, s_writer):
            with contextlib.suppress(Exception):
                w.transport.abort()


# -------------------------------------------------------------------- DNS


@dataclass
class DnsFault:
    """A UDP DNS front: ``mode`` "forward" (to NSD at ``upstream_port``), "servfail" or "drop"."""

    upstream_port: int | None = None
    mode: str = "servfail"
    port: int = 0
    answered: Counter[str] = field(default_factory=Counter)
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DnsFault:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", self.port))
        self.port = self._sock.getsockname()[1]
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            reply = self._reply(data)
            if reply is not None:
                with contextlib.suppress(OSError):
                    self._sock.sendto(reply, peer)

    def _reply(self, data: bytes) -> bytes | None:
        mode = self.mode
        self.answered[mode] += 1
        if mode == "drop":
            return None
        if mode == "forward" and self.upstream_port is not None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(data, ("127.0.0.1", self.upstream_port))
                try:
                    return s.recv(65535)
                except OSError:
                    return None
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        resp = dns.message.make_response(query)
        resp.set_rcode(dns.rcode.SERVFAIL)
        return bytes(resp.to_wire())

