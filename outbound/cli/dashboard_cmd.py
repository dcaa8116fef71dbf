"""`outbound dashboard`: the team's web dashboard; `outbound dashboard hash-password`: a password's hash
to put in a user's environment variable instead of the password."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import typer

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.errors import OutboundError

dashboard_app = typer.Typer(help="The team's web dashboard.", invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboard_app, name="dashboard")


@dashboard_app.callback()
def dashboard(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on ([dashboard] host, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port ([dashboard] port, 8788)", min=0, max=65535)] = None,
) -> None:
    """Serve the dashboard: overview, sequences, mailboxes, replies, people, lead sources (log in first)."""
    if ctx.invoked_subcommand is not None:
        return
    from outbound.app.context import build_context
    from outbound.app.dashboard import build_dashboard
    from outbound.web.server import bind, serve_in_background

    ws = runtime.workspace()
    cfg = ws.config.settings.dashboard
    host, port = host or cfg.host, cfg.port if port is None else port
    spec = runtime.scoring_spec(ws)
    try:
        engine = runtime.open_engine(ws.config)
        app = build_dashboard(build_context(ws, engine), spec)
        sock = bind(host, port)
    except OutboundError as exc:
        fail(str(exc))
    bound = sock.getsockname()[1]
    console.print(f"dashboard on http://{host}:{bound} (users: {', '.join(sorted(cfg.users))}); Ctrl-C stops it",
                  highlight=False)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_in_background(app, host, bound, stop, sock=sock, name="dashboard")

    asyncio.run(main())


@dashboard_app.command("hash-password")
def hash_password_cmd() -> None:
    """Read a password (typed twice, or one line on standard input) and print its scrypt hash."""
    from outbound.dashboard.auth import hash_password

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 10:
        fail("use a password of at least 10 characters")
    print(hash_password(password))
