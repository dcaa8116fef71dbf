"""Composition of the CLI: the root app, the global --config option, and each command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from outbound.cli import context

app = typer.Typer(
    name="outbound",
    help="Cold email sequencing and deliverability engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    config: Annotated[
        Path | None, typer.Option("--config", help="config.toml to use (default: $OUTBOUND_CONFIG or ./config.toml)")
    ] = None,
) -> None:
    context.set_config_path(config)


def _register_all() -> None:
    # Each module adds its own commands; the import order is the order of `outbound --help`.
    from outbound.cli import (
        accounts_cmd,
        audience_cmd,
        classify_cmd,
        dashboard_cmd,
        db_cmd,
        domains_cmd,
        engine_cmd,
        hand_cmd,
        inbox_cmd,
        mailboxes_cmd,
        prospects_cmd,
        replies_cmd,
        replies_intent_cmd,
        scoring_cmd,
        serve_cmd,
        workspace_cmd,
    )

    for module in (workspace_cmd, engine_cmd, mailboxes_cmd, db_cmd, prospects_cmd, audience_cmd, domains_cmd, inbox_cmd,
                   replies_cmd, replies_intent_cmd, classify_cmd, scoring_cmd, accounts_cmd, serve_cmd, hand_cmd, dashboard_cmd):
        module.register(app)


_register_all()


def main() -> None:
    app()


if __name__ == "__main__":  # `python -m outbound.cli.app` (the domains check tests run it so)
    main()
