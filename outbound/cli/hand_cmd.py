"""Changes made by hand, the same functions the dashboard's buttons call: `mailboxes pause`,
`prospects stop|pause|resume|unsubscribe`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import typer

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.cli.engine_cmd import mailboxes_app
from outbound.cli.prospects_cmd import prospects_app
from outbound.spec.workspace import Workspace
from outbound.store.db import utcnow
from outbound.store.operator import PersonChanged, UnknownProspect, change_prospect, pause_senders, unsubscribe_by_hand

Reason = Annotated[str, typer.Option("--reason", help="why, kept with the change and shown by `status`")]
Email = Annotated[str, typer.Argument(metavar="EMAIL", help="the prospect's address")]


def known_sender(ws: Workspace, target: str) -> str | None:
    """Why ``target`` (ADDRESS or @DOMAIN) names no mailbox of the workspace, or None when it does."""
    wanted = target.strip().lower()
    if wanted.startswith("@"):
        return None if wanted[1:] in ws.domains else f"no sending domain {wanted[1:]!r} in domains/"
    return None if wanted in ws.mailboxes() else f"no mailbox {wanted!r} in domains/"


def mailboxes_pause(target: Annotated[str, typer.Argument(help="ADDRESS or @DOMAIN")], reason: Reason = "") -> None:
    """Pause a mailbox, or every mailbox of a domain: nothing is sent from it until `mailboxes resume`."""
    ws = runtime.workspace()
    problem = known_sender(ws, target)
    if problem:
        fail(problem)
    paused = pause_senders(runtime.open_engine(ws.config), target, reason, utcnow(), by="cli")
    if not paused:
        fail(f"{target} is paused already")
    console.print("paused: " + ", ".join(paused), highlight=False)


def _person(action: Literal["stop", "pause", "resume"]) -> Callable[[str, str], None]:
    def command(email: Email, reason: Reason = "") -> None:
        try:
            done = change_prospect(runtime.open_engine(), email, action, reason, utcnow(), by="cli")
        except UnknownProspect as exc:
            fail(str(exc))
        _print(done)

    command.__doc__ = {"stop": "Stop every live enrollment of a person, for good.",
                       "pause": "Pause a person's active enrollments until `prospects resume`.",
                       "resume": "Resume a person's paused enrollments (a hold for an unconfirmed delivery stays)."}[action]
    return command


def unsubscribe(email: Email) -> None:
    """Record that the person asked not to be mailed: suppressed and stopped, as by an unsubscribe link."""
    try:
        done = unsubscribe_by_hand(runtime.open_engine(), email, utcnow(), by="cli")
    except UnknownProspect as exc:
        fail(str(exc))
    _print(done)


def _print(done: PersonChanged) -> None:
    console.print(f"{done.email}: {done.outcome} ({done.moved} enrollment(s) changed)", highlight=False)
    for line in done.actions:
        console.print(f"  {line}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    mailboxes_app.command("pause")(mailboxes_pause)
    prospects_app.command("stop")(_person("stop"))
    prospects_app.command("pause")(_person("pause"))
    prospects_app.command("resume")(_person("resume"))
    prospects_app.command("unsubscribe")(unsubscribe)
