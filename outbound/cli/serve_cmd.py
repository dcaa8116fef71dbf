"""`outbound serve`: the link server (one-click unsubscribe, optional click and open tracking)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.errors import OutboundError


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on (put a TLS reverse proxy in front)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=0, max=65535)] = 8080,
) -> None:
    """Serve unsubscribe links (RFC 8058 one-click), and click and open links of sequences that track them."""
    from outbound.app.context import signing_secret
    from outbound.app.links import link_app
    from outbound.web.server import bind, serve_in_background

    ws = runtime.workspace()
    try:
        secret = signing_secret(ws.config.settings.sending.signing_secret_env)
        sock = bind(host, port)
    except OutboundError as exc:
        fail(str(exc))
    app = link_app(ws, runtime.open_engine(ws.config), secret)
    bound = sock.getsockname()
    console.print(f"link server on http://{host}:{bound[1]} (unsubscribe /u/..., clicks /c/..., opens /o/..., "
                  "health /health); Ctrl-C stops it", highlight=False)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_in_background(app, host, bound[1], stop, sock=sock)

    asyncio.run(main())
