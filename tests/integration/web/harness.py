"""A real uvicorn serving the link app on loopback (in its own thread and event loop), and test data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.spec.sequence import Tracking
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import Enrollment, EnrollmentState, Event, Prospect, Send, SendState, Suppression
from outbound.tokens import unsubscribe_links
from outbound.web.app import create_app
from outbound.web.server import bind, serve_in_background
from tests.fixtures.common import free_port, wait_for_port

SECRET = b"web-test-secret-0123456789abcdef"
HOST = "t.d0.test"


class ServerThread:
    """serve_in_background in a thread of its own, so clients in the test's loop talk to it over TCP."""

    def __init__(self, engine: Engine, tracking: Mapping[str, Tracking] | None = None, secret: bytes = SECRET) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port = int(self.sock.getsockname()[1])
        self.app = create_app(engine, secret, tracking=tracking)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            self.ready.set()
            await serve_in_background(self.app, "127.0.0.1", self.port, self.stop, sock=self.sock)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by close()
            self.error = exc
            self.ready.set()

    def start(self) -> ServerThread:
        self.thread.start()
        self.ready.wait(10)
        return self

    def close(self) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        assert not self.thread.is_alive(), "the link server did not stop"
        if self.error is not None:
            raise self.error


@dataclass
class Seeded:
    emails: list[str]
    send_ids: dict[str, int] = field(default_factory=dict)  # email -> send id of its sequence "seq"

    def local_url(self, email: str, base: str) -> str:
        """The https unsubscribe link of this address's send, pointed at the test server."""
        links = unsubscribe_links(self.send_ids[email], email, HOST, "m0@d0.test", SECRET)
        assert links.https_url.startswith(f"https://{HOST}/u/")
        return base + links.https_url.removeprefix(f"https://{HOST}")


def seed(engine: Engine, count: int, *, sequences: tuple[str, ...] = ("seq", "other"),
         sent_ago: timedelta = timedelta(hours=1), prefix: str = "person") -> Seeded:
    """``count`` prospects, each enrolled (active) in every sequence, with one sent step in the first."""
    now = utcnow()
    emails = [f"{prefix}{i}@example.test" for i in range(count)]
    with session_scope(engine) as s:
        prospects = [Prospect(email=e, first_name=f"P{i}", created_at=now, updated_at=now) for i, e in enumerate(emails)]
        s.add_all(prospects)
        s.flush()
        enrollments = [Enrollment(prospect_id=p.id, sequence_name=name, state=EnrollmentState.active, next_step=1,
                                  next_due_at=now + timedelta(days=2), created_at=now, updated_at=now)
                       for p in prospects for name in sequences if p.id is not None]
        s.add_all(enrollments)
        s.flush()
        first = [e for e in enrollments if e.sequence_name == sequences[0]]
        sends = [Send(enrollment_id=e.id, prospect_id=e.prospect_id, sequence_name=sequences[0], step_id="intro",
                      step_index=0, mailbox="m0@d0.test", to_address=p.email, to_domain="example.test",
                      state=SendState.sent, message_id=f"<m{p.id}@d0.test>", claimed_at=now - sent_ago,
                      sent_at=now - sent_ago) for e, p in zip(first, prospects, strict=True) if e.id is not None]
        s.add_all(sends)
        s.flush()
        ids = {send.to_address: send.id for send in sends if send.id is not None}
    return Seeded(emails, ids)


@dataclass(frozen=True)
class Counts:
    suppressed: int
    unsubscribed_events: int
    stopped: int
    active: int


def counts(engine: Engine) -> Counts:
    with session_scope(engine) as s:
        def n(query: object) -> int:
            return int(s.scalar(query) or 0)  # type: ignore[call-overload]
        return Counts(
            suppressed=n(select(func.count()).select_from(Suppression)),
            unsubscribed_events=n(select(func.count()).select_from(Event).where(col(Event.type) == ev.UNSUBSCRIBED)),
            stopped=n(select(func.count()).select_from(Enrollment).where(col(Enrollment.state) == EnrollmentState.stopped)),
            active=n(select(func.count()).select_from(Enrollment).where(col(Enrollment.state) == EnrollmentState.active)),
        )


def suppressed_values(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as s:
        return {r.value: r.reason for r in s.scalars(select(Suppression))}


def enrollment_states(engine: Engine, email: str) -> dict[str, str]:
    with session_scope(engine) as s:
        rows = s.exec(select(Enrollment.sequence_name, Enrollment.state).join(
            Prospect, col(Prospect.id) == col(Enrollment.prospect_id)).where(col(Prospect.email) == email))
        return {name: str(state) for name, state in rows}


def events(engine: Engine, kind: str) -> list[Event]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Event).where(col(Event.type) == kind).order_by(col(Event.id))))



@contextlib.contextmanager
def cli_server(root: Path, database_url: str, *, sequences: Mapping[str, dict[str, object]] | None = None
               ) -> Iterator[CliServer]:
    """``outbound serve`` as a subprocess (its own interpreter, so client and server use both cores)."""
    (root / "sequences").mkdir(parents=True, exist_ok=True)
    (root / "domains").mkdir(exist_ok=True)
    (root / "config.toml").write_text(f'[database]\nurl = "{database_url}"\n[sending]\nsigning_secret_env = "WEB_TEST_SECRET"\n')
    for name, body in (sequences or {}).items():
        (root / "sequences" / f"{name}.yaml").write_text(json.dumps(body))
    port = free_port()
    exe = Path(sys.executable).with_name("outbound")
    env = {**os.environ, "WEB_TEST_SECRET": SECRET.decode()}
    proc = subprocess.Popen([str(exe), "--config", str(root / "config.toml"), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if not wait_for_port(port, 20):
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"outbound serve did not start: {(out + err).decode(errors='replace')[-2000:]}")
        yield CliServer(proc, port)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        tail = proc.stderr.read().decode(errors="replace") if proc.stderr and not proc.stderr.closed else ""
        if tail.strip():
            print(f"outbound serve stderr:\n{tail[-3000:]}")


@dataclass
class CliServer:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"
