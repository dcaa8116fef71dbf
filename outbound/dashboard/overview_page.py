"""/ : today and the last 7/30 days at a glance, per-domain and per-mailbox health, what is paused and why."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.figures import DEFAULT_WINDOW, WINDOWS, Snapshot, WindowFigures
from outbound.dashboard.web import Page, guarded
from outbound.reports import html
from outbound.reports.queries import COLUMNS
from outbound.store.db import session_scope
from outbound.store.status_queries import stuck


def window_of(page: Page, windows: Mapping[str, str] = WINDOWS, default: str = DEFAULT_WINDOW) -> str:
    wanted = page.request.query_params.get("window", default)
    return wanted if wanted in windows else default


async def window_figures(page: Page, title: str, windows: Mapping[str, str] = WINDOWS,
                         default: str = DEFAULT_WINDOW) -> tuple[str, Snapshot, WindowFigures] | Response:
    """The window the page asks for and its figures, or the page saying they are being computed."""
    window = window_of(page, windows, default)
    snap = await page.figures()
    if snap is None:
        return page.computing(title)
    return window, snap, snap.windows[window]


def _stuck(page: Page) -> list[tuple[str, str, int]]:
    with session_scope(page.deps.engine) as session:
        return [(s.state, s.reason or "no reason given", s.count) for s in stuck(session)]


async def overview(page: Page) -> Response:
    found = await window_figures(page, "Overview")
    if isinstance(found, Response):
        return found
    window, snap, fig = found
    boxes = await page.db(page.deps.mailboxes)
    held = await page.db(_stuck, page)
    charts = [html.stacked_bars("daily-sends", "Sends per day (UTC), stacked by mailbox", fig.daily_sends),
              html.line_chart("bounce-rate", "Bounce rate per day per domain", fig.bounce_daily, percent=True,
                              threshold=page.deps.bounce_pause)]
    return page.render("overview.html", title="Overview", window=window, windows=WINDOWS, snap=snap, fig=fig,
                       headline=html.headline(fig.total, (("meetings", "meetings booked", str(fig.meetings)),)), charts=charts,
                       domain_head=html.metrics_head("domain", COLUMNS),
                       domain_rows=html.metrics_rows(fig.groups["domain"], COLUMNS),
                       mailbox_rows=html.metrics_rows(fig.groups["mailbox"], COLUMNS),
                       mailbox_head=html.metrics_head("mailbox", COLUMNS),
                       paused=[b for b in boxes if b.state == "paused"], held=held)


ROUTES = [Route("/", guarded(overview), methods=["GET"])]
