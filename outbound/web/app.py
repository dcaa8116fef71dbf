"""The link server (Starlette): one-click unsubscribe, optional click redirect and open pixel, health.

Every link carries a signed token (outbound.tokens); anything forged, truncated or altered is a
404 that touches nothing. A GET of an unsubscribe link only shows a confirmation page, because
mail security scanners follow links; the POST (RFC 8058 one-click, or the page's button)
suppresses the address and stops its enrollments before the response goes out. Database work
runs in worker threads, at most ``db_threads`` at once so bursts queue instead of exhausting the
connection pool.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import TypeVar

import anyio
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from outbound.render.tracking import verify_click, verify_open
from outbound.spec.sequence import Tracking
from outbound.store.db import ping, utcnow
from outbound.store.links import SendInfo, find_send, record_click, record_open, record_unsubscribe
from outbound.tokens import verify_unsubscribe
from outbound.web import pages
from outbound.web.crm_events import MAX_EVENTS_BODY, EventsIntake, handle
from outbound.web.machine import classify_fetch
from outbound.web.oneclick import MAX_BODY, one_click_requested

log = logging.getLogger("outbound.web")
T = TypeVar("T")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1x1 transparent GIF
_HEADERS = {"Cache-Control": "no-store, max-age=0", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
            "X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = {**_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}


class _LinkServer:
    def __init__(self, engine: Engine, secret: bytes, tracking: Mapping[str, Tracking] | None,
                 clock: Callable[[], datetime], db_threads: int, events: EventsIntake | None = None) -> None:
        if not secret:
            raise ValueError("the signing secret is empty")
        self.engine, self.secret, self.tracking, self.clock = engine, secret, tracking, clock
        self.events = events
        self.limiter = anyio.CapacityLimiter(db_threads)

    async def db(self, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(work, limiter=self.limiter)

    def enabled(self, send: SendInfo, kind: str) -> bool:
        """Tracking is per sequence; with no workspace given, a valid signed link is proof enough."""
        if self.tracking is None:
            return True
        flags = self.tracking.get(send.sequence_name)
        return bool(flags and getattr(flags, kind))

    # ------------------------------------------------------------ routes

    async def crm_events(self, request: Request) -> Response:
        if self.events is None:  # no key configured: the endpoint does not exist
            return JSONResponse({"error": "not found"}, status_code=404, headers=_HEADERS)
        body = await _read_body(request, MAX_EVENTS_BODY)
        if body is None:
            return JSONResponse({"error": f"body larger than {MAX_EVENTS_BODY} bytes"}, status_code=413, headers=_HEADERS)
        intake, signature = self.events, request.headers.get("x-outbound-signature")
        status, answer = await self.db(partial(handle, self.engine, intake, body, signature, self.clock()))
        return JSONResponse(answer, status_code=status, headers=_HEADERS)

    async def health(self, request: Request) -> Response:
        try:
            await self.db(partial(ping, self.engine))
        except SQLAlchemyError:
            return JSONResponse({"status": "database unavailable"}, status_code=503, headers=_HEADERS)
        return JSONResponse({"status": "ok"}, headers=_HEADERS)

    async def unsubscribe_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = verify_unsubscribe(token, self.secret)
        if found is None:
            return _not_found()
        return HTMLResponse(pages.confirm_page(found[1], f"/u/{token}"), headers=_PAGE_HEADERS)

    async def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = verify_unsubscribe(token, self.secret)
        if found is None:
            return _not_found()
        body = await _read_body(request)
        if body is None or not one_click_requested(request.headers.get("content-type"), body):
            return HTMLResponse(pages.bad_request_page(f"/u/{token}"), status_code=400, headers=_PAGE_HEADERS)
        send_id, address = found
        via = "one-click POST" if "text/html" not in request.headers.get("accept", "") else "confirmation page"
        try:
            result = await self.db(partial(record_unsubscribe, self.engine, send_id, address, self.clock(), via=via))
        except SQLAlchemyError as exc:
            log.error("cannot record an unsubscribe for send %s: %s", send_id, type(exc).__name__)
            return HTMLResponse(pages.unavailable_page(), status_code=503, headers={**_PAGE_HEADERS, "Retry-After": "60"})
        log.info("unsubscribe via link for send %s: %s", send_id, result.reason)
        return HTMLResponse(pages.done_page(address), headers=_PAGE_HEADERS)

    async def click(self, request: Request) -> Response:
        found = verify_click(request.path_params["token"], self.secret)
        if found is None:
            return _not_found()
        send_id, url = found
        await self._track(request, send_id, "clicks", url)
        return RedirectResponse(url, status_code=302, headers=_HEADERS)

    async def open(self, request: Request) -> Response:
        send_id = verify_open(request.path_params["token"], self.secret)
        if send_id is None:
            return _not_found()
        await self._track(request, send_id, "opens", None)
        return Response(PIXEL, media_type="image/gif", headers=_HEADERS)

    async def _track(self, request: Request, send_id: int | str, kind: str, url: str | None) -> None:
        """Records an open or a click; a failure is logged, never shown (the person still gets through)."""
        now = self.clock()
        agent = request.headers.get("user-agent")
        try:
            send = await self.db(partial(find_send, self.engine, send_id))
            if send is None or not self.enabled(send, kind):
                return
            verdict = classify_fetch(user_agent=agent, ip=request.client.host if request.client else None,
                                     method=request.method, sent_at=send.sent_at, now=now)
            if url is None:
                await self.db(partial(record_open, self.engine, send, verdict, now, agent))
            else:
                await self.db(partial(record_click, self.engine, send, url, verdict, now, agent))
        except SQLAlchemyError as exc:
            log.error("cannot record a %s for send %s: %s", kind, send_id, type(exc).__name__)


def _not_found() -> Response:
    return HTMLResponse(pages.not_found_page(), status_code=404, headers=_PAGE_HEADERS)


async def _read_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (any one-click form), so it is never buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(engine: Engine, secret: bytes, *, tracking: Mapping[str, Tracking] | None = None,
               clock: Callable[[], datetime] = utcnow, db_threads: int = 8, prefix: str = "",
               events: EventsIntake | None = None) -> Starlette:
    """The ASGI app. ``tracking`` maps sequence names to their Tracking flags: clicks and opens of a
    sequence without the flag are redirected or served but not recorded (None: record every valid link).
    ``db_threads`` caps concurrent database work; keep it within the engine's connection pool.
    ``prefix``: the path of ``tracking_base_url``; the links are answered under it and at the root,
    so a proxy may pass the path on or strip it. ``events``: the key and types of ``POST /events`` (None: no
    such endpoint)."""
    server = _LinkServer(engine, secret, tracking, clock, db_threads, events)
    links: list[BaseRoute] = [
        Route("/u/{token}", server.unsubscribe_page, methods=["GET"]),
        Route("/u/{token}", server.unsubscribe, methods=["POST"]),
        Route("/c/{token}", server.click, methods=["GET"]),
        Route("/o/{token}.gif", server.open, methods=["GET"]),
    ]
    routes: list[BaseRoute] = [Route("/health", server.health, methods=["GET"]),
                               Route("/events", server.crm_events, methods=["POST"]), *links]
    if prefix.strip("/"):
        routes.append(Mount("/" + prefix.strip("/"), routes=links))
    return Starlette(routes=routes)
