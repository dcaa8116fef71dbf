"""Seeding the real store for the scoring tests: prospects, enrollments and events."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import col

from outbound.prospects.values import ProspectData
from outbound.spec.sequence import Sequence
from outbound.store.db import session_scope
from outbound.store.enrollments import enroll
from outbound.store.prospects import upsert_prospects
from outbound.store.tables import Event, Prospect
from tests.integration.engine.workspace import three_step_sequence


def sequence(name: str) -> Sequence:
    return Sequence.model_validate(three_step_sequence(name))


def add_people(engine: Engine, emails: list[str], *, domain_of: dict[str, str] | None = None,
               source: str = "list", seq: Sequence | None = None, now: datetime | None = None) -> dict[str, int]:
    upsert_prospects(engine, [ProspectData(email=e, first_name="X", source=source,
                                           company_domain=(domain_of or {}).get(e)) for e in emails])
    with session_scope(engine) as s:
        ids = {e: int(i) for e, i in s.execute(select(col(Prospect.email), col(Prospect.id)).where(
            col(Prospect.email).in_(emails)))}
    if seq is not None:
        enroll(engine, seq, list(ids.values()), now=now)
    return ids


def add_events(engine: Engine, rows: list[dict[str, Any]]) -> list[int]:
    with session_scope(engine) as s:
        events = [Event(**r) for r in rows]
        s.add_all(events)
        s.flush()
        return [e.id for e in events if e.id is not None]


@dataclass
class Hook:
    """A webhook receiver on loopback: fails the first ``fail_first`` calls with HTTP 500."""

    secret: bytes
    fail_first: int = 1
    calls: list[tuple[int, dict[str, Any], bool]] = field(default_factory=list)  # (status, body, signature ok)
    url: str = ""


@contextmanager
def webhook_server(hook: Hook) -> Iterator[Hook]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(hook.secret, body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, self.headers.get("X-Outbound-Signature", ""))
            status = 500 if len(hook.calls) < hook.fail_first else (200 if ok else 401)
            hook.calls.append((status, json.loads(body), ok))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
