"""/login and /logout: a password per user, a signed session cookie, failed logins rate-limited."""

from __future__ import annotations

import logging

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outbound.dashboard.auth import LoginLimiter, Session, Sessions
from outbound.dashboard.deps import DashboardDeps
from outbound.dashboard.web import COOKIE, HEADERS, Page, guarded, read_form, render_public, safe_path

log = logging.getLogger("outbound.dashboard")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_form(request: Request) -> Response:
    return render_public("login.html", next=safe_path(request.query_params.get("next")), error=None)


async def login(request: Request) -> Response:
    deps: DashboardDeps = request.app.state.deps
    sessions: Sessions = request.app.state.sessions
    limiter: LoginLimiter = request.app.state.login_limiter
    now = deps.clock().timestamp()
    client = _client(request)
    form = await read_form(request) or {}
    target = safe_path(form.get("next"))
    wait = limiter.retry_after(client, now)
    if wait is not None:
        log.warning("dashboard: login from %s refused: too many failed attempts", client)
        response = render_public("login.html", status=429, next=target,
                                 error=f"Too many failed logins. Try again in {wait} seconds.")
        response.headers["Retry-After"] = str(wait)
        return response
    user = (form.get("user") or "").strip()
    session = await _check(sessions, user, form.get("password") or "", now)
    if session is None:
        limiter.failed(client, now)
        # a password typed into the user field must not reach the log: only a known user's name is named
        who = user if user in sessions.users else "an unknown user"
        log.warning("dashboard: failed login for %s from %s", who, client)
        return render_public("login.html", status=401, next=target, error="Wrong user name or password.")
    limiter.succeeded(client)
    log.info("dashboard: %s logged in from %s", user, client)
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    response.set_cookie(COOKIE, session.token, max_age=int(session.expires - now), httponly=True, samesite="strict",
                        secure=deps.secure_cookies, path="/")
    return response


async def _check(sessions: Sessions, user: str, password: str, now: float) -> Session | None:
    return await anyio.to_thread.run_sync(sessions.login, user, password, now)  # scrypt takes ~50 ms: off the loop


async def logout(page: Page) -> Response:
    log.info("dashboard: %s logged out", page.user)
    response = RedirectResponse("/login", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path="/")
    return response


ROUTES = [Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
          Route("/logout", guarded(logout, post=True), methods=["POST"])]
