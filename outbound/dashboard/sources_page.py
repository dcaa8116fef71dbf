"""/sources: per lead source, prospects -> contacted -> replied -> positive -> qualified -> meeting,
each rate with its Wilson 95 % interval (a source of 12 is not read like one of 1,200), cost per step."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.web import Page, guarded

WINDOWS = {"30d": "Last 30 days", "all": "All time"}


async def sources(page: Page) -> Response:
    window = page.request.query_params.get("window", "all")
    window = window if window in WINDOWS else "all"
    snap = await page.figures()
    if snap is None:
        return page.computing("Lead sources")
    fig = snap.windows[window]
    return page.render("sources.html", title="Lead sources", window=window, windows=WINDOWS, snap=snap,
                       rows=fig.lead_funnel, sources=fig.sources)


ROUTES = [Route("/sources", guarded(sources), methods=["GET"])]
