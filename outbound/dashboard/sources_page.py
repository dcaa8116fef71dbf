"""/sources: per lead source, prospects -> contacted -> replied -> positive -> qualified -> meeting,
each rate with its Wilson 95 % interval (a source of 12 is not read like one of 1,200), cost per step."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.overview_page import window_figures
from outbound.dashboard.web import Page, guarded

WINDOWS = {"30d": "Last 30 days", "all": "All time"}


async def sources(page: Page) -> Response:
    found = await window_figures(page, "Lead sources", WINDOWS, "all")
    if isinstance(found, Response):
        return found
    window, snap, fig = found
    return page.render("sources.html", title="Lead sources", window=window, windows=WINDOWS, snap=snap,
                       rows=fig.lead_funnel, sources=fig.sources)


ROUTES = [Route("/sources", guarded(sources), methods=["GET"])]
