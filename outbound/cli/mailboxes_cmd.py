"""``outbound mailboxes connect`` and ``mailboxes list`` (the group itself, with ``resume``, is in engine_cmd)."""

from __future__ import annotations

import asyncio
import json
import webbrowser
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.cli.engine_cmd import mailboxes_app
from outbound.cli.tables import show
from outbound.errors import OutboundError
from outbound.spec.auth import Limits
from outbound.store.db import utcnow


def register(app: typer.Typer) -> None:
    mailboxes_app.command("connect")(connect)
    mailboxes_app.command("list")(list_mailboxes)


def connect(
    address: Annotated[str, typer.Argument(help="the mailbox to connect (its domain file has auth: oauth2)")],
    device: Annotated[bool, typer.Option("--device", help="device-code flow: enter a code on another device")] = False,
    refresh_token_env: Annotated[str | None, typer.Option(
        "--refresh-token-env", metavar="VAR", help="store a refresh token obtained elsewhere, read from $VAR")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="print the sign-in address only")] = False,
    port: Annotated[int, typer.Option(help="loopback port of the redirect (0: any free port)")] = 0,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the sign-in")] = 300,
) -> None:
    """Connect an OAuth2 mailbox (Google Workspace, Microsoft 365, ...): sign in once, the refresh token is
    stored encrypted (key: $OUTBOUND_TOKEN_KEY)."""
    from outbound.app import connect as flows

    ws = runtime.workspace()
    engine = runtime.open_engine(ws.config)

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    address = address.strip().lower()
    try:
        if refresh_token_env:
            done = asyncio.run(flows.connect_refresh_token(ws, engine, address, refresh_token_env))
        elif device:
            done = asyncio.run(flows.connect_device(ws, engine, address, say=say, timeout=timeout))
        else:
            done = asyncio.run(flows.connect_code(ws, engine, address, say=say, port=port, timeout=timeout,
                                                  open_browser=None if no_browser else webbrowser.open))
    except OutboundError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted: the mailbox was not connected")
    console.print(f"connected {escape(done.address)} ({done.provider}); the refresh token is stored encrypted. "
                  f"If it was paused: `outbound mailboxes resume {escape(done.address)}`", highlight=False)


def _limits(limits: dict[str, int | None]) -> str:
    return Limits(limits.get("max_connections"), limits.get("per_minute"), limits.get("per_day")).describe() \
        if limits else "—"


def list_mailboxes(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Each mailbox: how it logs in, its OAuth2 token state and its provider's limits."""
    from outbound.app.mailbox_list import mailbox_rows

    ws = runtime.workspace()
    try:
        rows = mailbox_rows(ws, runtime.open_engine(ws.config), utcnow())
    except OutboundError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return
    if not rows:
        err_console.print("no mailboxes in domains/", highlight=False)
        return
    table = Table(Column("mailbox", no_wrap=True), Column("auth", no_wrap=True), "token", "limits", "state")
    for r in rows:
        auth = f"oauth2 ({r.provider})" if r.auth == "oauth2" else r.auth
        token = (f"{r.token}: {r.token_detail}" if r.token_detail else r.token) if r.token else "—"
        state = f"paused: {r.pause_reason}" if r.paused else "active"
        table.add_row(escape(r.address), auth, escape(token), _limits(r.limits), escape(state))
    show(table)
    if any(r.token in ("never connected", "refused") for r in rows):
        console.print("connect a mailbox with `outbound mailboxes connect ADDRESS` (`--device` without a browser)",
                      highlight=False, markup=False)
