"""/people: search, one person's timeline with stop / pause / resume / unsubscribe, an account's
contacts and their state (the functions of `outbound prospects stop|pause|resume|unsubscribe`)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.web import Page, form, guarded
from outbound.store.operator import UnknownProspect, change_prospect, unsubscribe_by_hand
from outbound.store.people import people, person

PAGE_SIZE = 100
ACTIONS: dict[str, Literal["stop", "pause", "resume"]] = {"stop": "stop", "pause": "pause", "resume": "resume"}


async def search(page: Page) -> Response:
    q = (page.request.query_params.get("q") or "").strip()[:200]
    rows = await page.db(people, page.deps.engine, search=q or None, limit=PAGE_SIZE + 1)
    return page.render("people.html", title="People", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, q=q,
                       page_size=PAGE_SIZE)


async def one(page: Page) -> Response:
    email = page.request.path_params["email"]
    found = await page.db(person, page.deps.engine, email)
    if found is None:
        return page.render("missing.html", status=404, title="Not found", what=f"No prospect {email}.")
    return page.render("person.html", title=found.prospect.email, p=found, timeline=found.timeline[-200:][::-1])


async def account(page: Page) -> Response:
    domain = page.request.path_params["domain"].strip().lower()
    rows = await page.db(people, page.deps.engine, account=domain, limit=500)
    return page.render("account.html", title=domain, domain=domain, rows=rows)


async def change(page: Page) -> Response:
    email = page.request.path_params["email"]
    data = form(page)
    action = data.get("action") or ""
    reason = (data.get("reason") or "").strip()[:300]
    here = f"/people/{quote(email)}"
    try:
        if action == "unsubscribe":
            done = await page.db(unsubscribe_by_hand, page.deps.engine, email, page.deps.clock(), page.by)
        elif action in ACTIONS:
            done = await page.db(change_prospect, page.deps.engine, email, ACTIONS[action], reason, page.deps.clock(),
                                 page.by)
        else:
            return page.back(here, f"unknown action {action[:30]!r}")
    except UnknownProspect as exc:
        return page.back("/people", str(exc))
    page.deps.figures.invalidate()
    return page.back(here, f"{done.email}: {done.outcome} ({done.moved} enrollment(s) changed)")


ROUTES = [Route("/people", guarded(search), methods=["GET"]),
          Route("/people/{email}", guarded(one), methods=["GET"]),
          Route("/people/{email}/change", guarded(change, post=True), methods=["POST"]),
          Route("/accounts/{domain}", guarded(account), methods=["GET"])]
