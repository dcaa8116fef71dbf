"""Inbox commands: `outbound poll --once` (fetch and act on replies, bounces, complaints) and
`outbound reconcile` (settle sends whose delivery is unknown against the Sent folders).

IMAP passwords come from the environment variables the domain files name (imap.password_env).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.cli.tables import show
from outbound.engine.context import EngineContext

if TYPE_CHECKING:
    from outbound.inbox.job import ReconcileSummary


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app."""
    app.command("poll")(poll)
    app.command("reconcile")(reconcile)


def _context() -> EngineContext:
    return runtime.context(runtime.workspace(), signs=False)  # nothing is rendered: no signing secret needed


def poll(
    once: Annotated[bool, typer.Option("--once", help="one pass over every mailbox, then exit")] = False,
) -> None:
    """Fetch new mail from every mailbox's IMAP folders and act on it: stop on replies, pause on
    out-of-office, suppress bounces, unsubscribes and complaints; then settle unknown sends."""
    from outbound.inbox.job import poll_job

    if not once:
        fail("use `outbound poll --once` for one pass; `outbound run` polls continuously")
    ctx = _context()
    if not ctx.workspace.mailboxes():
        fail("no mailboxes in domains/: nothing to poll")
    summary = asyncio.run(poll_job(ctx, once=True))
    table = Table(*[Column(h, no_wrap=True) for h in ("mailbox", "status", "fetched", "matched", "unmatched")], "kinds",
                  "notes", title="Inbox poll")
    for box in summary.mailboxes.values():
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(box.kinds.items())) or "-"
        notes = [*box.failures]
        if box.own:
            notes.append(f"{box.own} own message(s) ignored")
        if box.duplicates:
            notes.append(f"{box.duplicates} already recorded")
        colour = {"ok": "green", "failed": "red"}.get(box.status, "yellow")
        table.add_row(box.mailbox, f"[{colour}]{box.status}[/]", str(box.fetched), str(box.matched),
                      str(box.unmatched), kinds, escape("; ".join(notes)))
    show(table)
    _print_reconcile(summary.reconcile)
    if summary.failed:
        raise typer.Exit(1)


def reconcile() -> None:
    """Settle sends left 'unknown' by an interrupted SMTP transaction: found in the mailbox's Sent
    folder -> sent; not found -> queued to go again. Unsearchable mailboxes keep them unknown."""
    from outbound.inbox.job import reconcile_unknown
    from outbound.store.db import utcnow

    ctx = _context()
    result = asyncio.run(reconcile_unknown(ctx, utcnow(), grace=timedelta(0)))
    _print_reconcile(result, always=True)
    if result.failures:
        raise typer.Exit(1)


def _print_reconcile(result: ReconcileSummary, always: bool = False) -> None:
    if not always and not (result.checked or result.failures or result.waiting):
        return
    console.print(f"unknown sends: {result.checked} checked, {result.sent} found in Sent (now sent), "
                  f"{result.requeued} not found (queued again), {result.waiting} too recent to judge",
                  highlight=False)
    for failure in result.failures:
        console.print(f"[red]cannot settle[/] {failure}", highlight=False)
