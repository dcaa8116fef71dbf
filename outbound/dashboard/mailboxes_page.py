"""/mailboxes: cap use, warm-up day, next send, token state, pause reasons; pause and resume buttons
(the functions of `outbound mailboxes pause|resume`, each change an event naming who)."""

from __future__ import annotations

from collections import defaultdict

from starlette.responses import Response
from starlette.routing import Route

from outbound.dashboard.deps import MailboxView
from outbound.dashboard.web import Page, form, guarded
from outbound.store.domain_health import latest_checks
from outbound.store.operator import pause_senders, resume_senders


async def mailboxes(page: Page) -> Response:
    boxes = await page.db(page.deps.mailboxes)
    by_domain: dict[str, list[MailboxView]] = defaultdict(list)
    for box in boxes:
        by_domain[box.domain].append(box)
    checks = await page.db(latest_checks, page.deps.engine, by_domain)
    snap = await page.figures()  # the rates only: the states and caps are read live
    week = snap.windows["7d"].groups if snap is not None else {"mailbox": {}, "domain": {}}
    return page.render("mailboxes.html", title="Mailboxes and domains", domains=dict(sorted(by_domain.items())),
                       by_mailbox=week["mailbox"], by_domain=week["domain"], snap=snap, checks=checks)


async def _known(page: Page, target: str) -> bool:
    boxes = await page.db(page.deps.mailboxes)
    return target in {b.address for b in boxes} or target in {"@" + b.domain for b in boxes}


async def pause(page: Page) -> Response:
    data = form(page)
    target = (data.get("target") or "").strip().lower()
    if not await _known(page, target):
        return page.back("/mailboxes", f"{target or 'nothing'}: not a mailbox or domain of this workspace")
    reason = (data.get("reason") or "").strip()[:300]
    done = await page.db(pause_senders, page.deps.engine, target, reason, page.deps.clock(), page.by)
    page.deps.figures.invalidate()
    return page.back("/mailboxes", f"paused {', '.join(done)}" if done else f"{target} was paused already")


async def resume(page: Page) -> Response:
    target = (form(page).get("target") or "").strip().lower()
    if not await _known(page, target):
        return page.back("/mailboxes", f"{target or 'nothing'}: not a mailbox or domain of this workspace")
    done = await page.db(resume_senders, page.deps.engine, target, page.deps.clock(), page.by)
    page.deps.figures.invalidate()
    return page.back("/mailboxes", f"resumed {', '.join(done)}" if done else f"{target} was not paused")


ROUTES = [Route("/mailboxes", guarded(mailboxes), methods=["GET"]),
          Route("/mailboxes/pause", guarded(pause, post=True), methods=["POST"]),
          Route("/mailboxes/resume", guarded(resume, post=True), methods=["POST"])]
