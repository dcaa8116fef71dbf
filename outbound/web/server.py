"""Running the link server with uvicorn inside a process that owns its signals (the daemon, `outbound serve`).

We bind the listening socket ourselves: a port already in use becomes a clear ConfigError instead
of uvicorn's ``sys.exit(1)``, and uvicorn's own signal capture is switched off so SIGTERM reaches
the host process, which sets ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from outbound.errors import ConfigError

log = logging.getLogger("outbound.web")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handlers: the host process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # the name older uvicorn releases use
        return None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port), or ConfigError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


async def serve_in_background(app: ASGIApp, host: str, port: int, stop: asyncio.Event, *,
                              sock: socket.socket | None = None, grace: int = 5, name: str = "link server") -> None:
    """Serves ``app`` on host:port until ``stop`` is set, then lets open requests finish (``grace`` s).

    Run it as a task beside the daemon: ``asyncio.create_task(serve_in_background(app, h, p, stop))``.
    Pass ``sock`` (from ``bind``) to bind before starting, e.g. to learn the port of ``port=0``.
    """
    listener = sock or bind(host, port)
    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None, server_header=False,
                            timeout_graceful_shutdown=grace, backlog=1024)
    server = _EmbeddedServer(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    stopping = asyncio.create_task(stop.wait())
    where = listener.getsockname()
    log.info("%s listening on %s:%s", name, where[0], where[1])
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        try:
            await serving
        finally:
            listener.close()
            log.info("%s stopped", name)
