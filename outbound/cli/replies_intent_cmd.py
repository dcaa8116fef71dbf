"""`outbound replies set-intent EVENT_ID INTENT`: correct a reply's intent (scores and reports use it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from outbound.cli import runtime
from outbound.cli.context import console, fail


def set_intent(
    event_id: Annotated[int, typer.Argument(metavar="EVENT_ID", help="the replied event's id")],
    intent: Annotated[str, typer.Argument(help="interested, meeting_request, information_request, not_interested, "
                                          "do_not_contact, wrong_person, left_company, later, out_of_office, other")],
) -> None:
    """Correct the intent of a reply; do_not_contact also suppresses the address as an unsubscribe does."""
    from outbound.scoring.intent_fix import IntentError
    from outbound.scoring.intent_fix import set_intent as correct

    ws = runtime.workspace()
    spec = runtime.scoring_spec(ws)
    try:
        done = correct(runtime.open_engine(ws.config), spec, event_id, intent.strip().lower(), datetime.now(UTC))
    except IntentError as exc:
        fail(str(exc))
    console.print(f"event {done.event_id}: intent {done.was or 'none'} -> {done.now}"
                  + (f" (score {done.score_delta:+g})" if done.score_delta else ""), highlight=False)
    for action in done.actions:
        console.print(f"  {action}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Adds ``replies set-intent``: to the ``replies`` group when one is registered already (register this
    module after the one that makes it), else to a ``replies`` group of its own."""
    group = next((g.typer_instance for g in app.registered_groups if g.name == "replies" and g.typer_instance), None)
    if group is None:
        group = typer.Typer(help="Replies across mailboxes.", no_args_is_help=True)
        app.add_typer(group, name="replies")
    group.command("set-intent")(set_intent)
