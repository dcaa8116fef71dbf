"""The request plumbing every page shares: the session, CSRF, rendering, database threads, redirects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import anyio
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from outbound.dashboard.auth import Session, Sessions
from outbound.dashboard.deps import DashboardDeps
from outbound.dashboard.figures import Snapshot

log = logging.getLogger("outbound.dashboard")
T = TypeVar("T")
COOKIE = "outbound_session"
FLASH = "outbound_flash"
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "X-Robots-Tag": "noindex, nofollow",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'"}
NAV = (("/", "Overview"), ("/sequences", "Sequences"), ("/mailboxes", "Mailboxes"), ("/replies", "Replies"),
       ("/people", "People"), ("/sources", "Lead sources"))
MAX_FORM = 64 * 1024

_env = Environment(loader=PackageLoader("outbound.dashboard", "templates"), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _when(value: Any) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M}Z"


_env.filters["pct"] = _pct
_env.filters["when"] = _when
_env.filters["urldecode"] = unquote
_env.filters["svg"] = Markup  # only for the charts outbound.reports draws (every label escaped there)


class Page:
    """One request's view of the dashboard: the deps, the session, the CSRF token."""

    def __init__(self, request: Request, deps: DashboardDeps, sessions: Sessions, session: Session) -> None:
        self.request, self.deps, self.sessions, self.session = request, deps, sessions, session
        self.user = session.user
        self.by = f"dashboard:{session.user}"

    async def db(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        limiter = self.request.app.state.limiter
        return await anyio.to_thread.run_sync(partial(work, *args, **kwargs), limiter=limiter)

    async def figures(self) -> Snapshot | None:
        """The figures' snapshot (waiting a little for the first one; None: still being computed)."""
        return await anyio.to_thread.run_sync(self.deps.figures.get)

    def computing(self, title: str) -> Response:
        """The page while the first figures are computed: it reloads itself (no script needed)."""
        return self.render("computing.html", title=title, every=self.deps.figures.refresh_every())

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        flash = self.request.cookies.get(FLASH)
        body = _env.get_template(template).render(
            user=self.user, csrf=self.sessions.csrf(self.session), nav=NAV, here=self.request.url.path,
            flash=flash, refresh_every=self.deps.figures.refresh_every(), **context)
        response = HTMLResponse(body, status_code=status, headers=HEADERS)
        if flash:
            response.delete_cookie(FLASH, path="/")
        return response

    def back(self, to: str, said: str) -> Response:
        """303 to ``to`` (a path of ours) with a message shown once on the page."""
        response = RedirectResponse(safe_path(to), status_code=303, headers=HEADERS)
        response.set_cookie(FLASH, quote(said[:300]), max_age=60, httponly=True, samesite="strict", path="/",
                            secure=self.deps.secure_cookies)
        return response


def safe_path(to: str | None, default: str = "/") -> str:
    """Only a path on this site (never //host or a scheme): ``next`` must not send anyone elsewhere."""
    if not to:
        return default
    parts = urlsplit(to)
    if parts.scheme or parts.netloc or not to.startswith("/") or to.startswith("//") or "\\" in to:
        return default
    return to


def render_public(template: str, status: int = 200, **context: Any) -> Response:
    return HTMLResponse(_env.get_template(template).render(nav=(), user=None, **context), status_code=status,
                        headers=HEADERS)


Handler = Callable[[Page], Awaitable[Response]]


def guarded(handler: Handler, *, post: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A page behind the login: no valid session is a 303 to /login (a GET) or a 403 (a POST); a POST
    also needs the session's CSRF token in its form."""

    async def endpoint(request: Request) -> Response:
        deps: DashboardDeps = request.app.state.deps
        sessions: Sessions = request.app.state.sessions
        session = sessions.read(request.cookies.get(COOKIE), deps.clock().timestamp())
        if session is None:
            if post:
                return PlainTextResponse("not logged in", status_code=403, headers=HEADERS)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303, headers=HEADERS)
        page = Page(request, deps, sessions, session)
        if post:
            form = await read_form(request)
            if form is None:
                return PlainTextResponse("form too large", status_code=413, headers=HEADERS)
            if not sessions.csrf_ok(session, form.get("csrf")):
                log.warning("dashboard: POST %s refused: missing or wrong CSRF token", request.url.path)
                return PlainTextResponse("CSRF token missing or wrong: reload the page and try again",
                                         status_code=403, headers=HEADERS)
            request.state.form = form
        return await handler(page)

    return endpoint


async def read_form(request: Request) -> Mapping[str, str] | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM):
        return None
    form = await request.form(max_files=0, max_fields=50)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def form(page: Page) -> Mapping[str, str]:
    found: Mapping[str, str] = page.request.state.form
    return found
