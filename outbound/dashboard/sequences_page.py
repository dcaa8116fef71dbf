"""/sequences: the funnel per sequence, per step and per variant, A/B results with their confidence,
what is queued and what is blocked and why."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.figures import WINDOWS
from outbound.dashboard.overview_page import window_figures
from outbound.dashboard.web import Page, guarded
from outbound.reports import html
from outbound.store.db import session_scope
from outbound.store.status_queries import QueueCount, StuckCount, queued, stuck


def _queue(page: Page) -> tuple[list[QueueCount], list[StuckCount]]:
    with session_scope(page.deps.engine) as session:
        return queued(session, page.deps.clock()), stuck(session)


async def sequences(page: Page) -> Response:
    found = await window_figures(page, "Sequences")
    if isinstance(found, Response):
        return found
    window, snap, fig = found
    queue, held = await page.db(_queue, page)
    funnels = [html.bar_chart(f"funnel-{i}", f"Funnel: {seq}", stages) for i, (seq, stages) in enumerate(fig.funnel.items())]
    return page.render("sequences.html", title="Sequences", window=window, windows=WINDOWS, snap=snap, fig=fig,
                       funnels=funnels, step_head=html.metrics_head("step"), step_rows=html.metrics_rows(fig.groups["step"]),
                       variant_head=html.metrics_head("variant"), variant_rows=html.metrics_rows(fig.groups["variant"]),
                       variants=fig.variants, reply_rate=html.reply_rate, queue=queue, held=held,
                       names=page.deps.sequences)


ROUTES = [Route("/sequences", guarded(sequences), methods=["GET"])]
