"""The link server's app (one-click unsubscribe, click and open links) for a workspace: ``outbound serve``
runs it alone, ``outbound run`` inside the daemon."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.applications import Starlette

from outbound.core.link_base import base_path
from outbound.spec.workspace import Workspace
from outbound.web.app import create_app


def link_app(ws: Workspace, engine: Engine, secret: bytes) -> Starlette:
    """Each sequence's tracking flags decide whether its clicks and opens are recorded; the links
    are answered under the path of ``tracking_base_url`` too."""
    base = ws.config.settings.sending.tracking_base_url
    return create_app(engine, secret, tracking={name: s.sequence.tracking for name, s in ws.sequences.items()},
                      prefix=base_path(base) if base else "")
