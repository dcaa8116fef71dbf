"""/replies: the unified inbox (by intent, open or all), a reply's thread, the answer box (sent as
`outbound replies answer` sends it), intent correction, mark done."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.deps import ActionRefused
from outbound.dashboard.web import Page, form, guarded
from outbound.store import replies as store

PAGE_SIZE = 100
NO_INTENT = "none"


async def inbox(page: Page) -> Response:
    query = page.request.query_params
    intent = (query.get("intent") or "").strip().lower()
    show = query.get("show", "open")
    wanted = None if not intent else "" if intent == NO_INTENT else intent
    rows = await page.db(store.list_replies, page.deps.engine, intent=wanted, open_only=show != "all",
                         limit=PAGE_SIZE + 1)
    return page.render("replies.html", title="Replies", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE,
                       intent=intent, show=show, intents=page.deps.intents, page_size=PAGE_SIZE)


async def _reply(page: Page) -> store.Reply | None:
    try:
        reply_id = int(page.request.path_params["reply_id"])
    except ValueError:
        return None
    return await page.db(store.get_reply, page.deps.engine, reply_id)


async def reply(page: Page) -> Response:
    found = await _reply(page)
    if found is None:
        return page.render("missing.html", status=404, title="Not found", what="This reply does not exist.")
    thread = await page.db(store.thread, page.deps.engine, found)
    return page.render("reply.html", title=f"Reply from {found.email}", reply=found, thread=thread,
                       intents=page.deps.intents)


async def _act(page: Page, act: Callable[[int, str, str], str], value: str, failed: str) -> Response:
    """One of the actions on a reply (answer, intent), then back to the reply saying what it did or why not."""
    found = await _reply(page)
    if found is None:
        return page.back("/replies", "no such reply")
    try:
        said = await page.db(act, found.id, value, page.by)
    except ActionRefused as exc:
        return page.back(f"/replies/{found.id}", f"{failed}: {exc}")
    page.deps.figures.invalidate()
    return page.back(f"/replies/{found.id}", said)


async def answer(page: Page) -> Response:
    body = (form(page).get("body") or "").replace("\r\n", "\n")
    return await _act(page, page.deps.actions.answer, body, "not sent")


async def set_intent(page: Page) -> Response:
    intent = (form(page).get("intent") or "").strip().lower()
    return await _act(page, page.deps.actions.set_intent, intent, "not changed")


async def done(page: Page) -> Response:
    found = await _reply(page)
    if found is None:
        return page.back("/replies", "no such reply")
    marked = await page.db(store.mark_handled, page.deps.engine, found, "done", page.deps.clock(), page.by)
    return page.back("/replies", f"reply from {found.email} marked done" if marked
                     else f"reply from {found.email} was handled already")


ROUTES = [Route("/replies", guarded(inbox), methods=["GET"]),
          Route("/replies/{reply_id}", guarded(reply), methods=["GET"]),
          Route("/replies/{reply_id}/answer", guarded(answer, post=True), methods=["POST"]),
          Route("/replies/{reply_id}/intent", guarded(set_intent, post=True), methods=["POST"]),
          Route("/replies/{reply_id}/done", guarded(done, post=True), methods=["POST"])]
