"""The dashboard's ASGI app: the pages, the login, one stylesheet; no script, no external asset."""

from __future__ import annotations

from importlib import resources

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outbound.dashboard import (
    login_page,
    mailboxes_page,
    overview_page,
    people_page,
    replies_page,
    sequences_page,
    sources_page,
)
from outbound.dashboard.auth import LoginLimiter, Sessions
from outbound.dashboard.deps import DashboardDeps
from outbound.dashboard.web import HEADERS
from outbound.reports.html import CSS as REPORT_CSS

PAGES = (login_page, overview_page, sequences_page, mailboxes_page, replies_page, people_page, sources_page)
_CSS = REPORT_CSS + "\n" + resources.files("outbound.dashboard").joinpath("static/dashboard.css").read_text("utf-8")


async def stylesheet(request: Request) -> Response:
    return Response(_CSS, media_type="text/css", headers={**HEADERS, "Cache-Control": "max-age=300"})


def create_dashboard(deps: DashboardDeps, *, login_attempts: int = 5, login_window: float = 300.0) -> Starlette:
    if not deps.users:
        raise ValueError("no dashboard user has a password")
    routes: list[BaseRoute] = [Route("/static/dashboard.css", stylesheet, methods=["GET"])]
    for module in PAGES:
        routes += module.ROUTES
    app = Starlette(routes=routes)
    app.state.deps = deps
    app.state.sessions = Sessions(deps.secret, deps.users, deps.session_hours)
    app.state.login_limiter = LoginLimiter(login_attempts, login_window)
    app.state.limiter = anyio.CapacityLimiter(deps.db_threads)
    deps.figures.start()  # the first figures are computed while the first person logs in
    return app
