"""Database commands."""

from __future__ import annotations

import typer

from outbound.cli.context import console
from outbound.cli.runtime import open_engine
from outbound.store.db import current_revision, redact

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply migrations up to the newest schema (also done automatically on start)."""
    engine = open_engine()
    console.print(f"{redact(str(engine.url))}: schema at revision {current_revision(engine)}", highlight=False, markup=False)
