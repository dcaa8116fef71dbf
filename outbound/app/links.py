"""The link server's app (one-click unsubscribe, click and open links) for a workspace: ``outbound serve``
runs it alone, ``outbound run`` inside the daemon."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.applications import Starlette

from outbound.spec.workspace import Workspace
from outbound.web.app import create_app


def link_app(ws: Workspace, engine: Engine, secret: bytes) -> Starlette:
    """Each sequence's tracking flags decide whether its clicks and opens are recorded."""
    return create_app(engine, secret, tracking={name: s.sequence.tracking for name, s in ws.sequences.items()})
