"""The link server's app (one-click unsubscribe, click and open links) for a workspace: ``outbound serve``
runs it alone, ``outbound run`` inside the daemon."""

from __future__ import annotations

import os

from sqlalchemy import Engine
from starlette.applications import Starlette

from outbound.core.link_base import base_path
from outbound.scoring.outcomes_in import Accepted
from outbound.scoring.spec import load_scoring
from outbound.spec.workspace import Workspace
from outbound.web.app import create_app
from outbound.web.crm_events import SECRET_ENV, EventsIntake


def link_app(ws: Workspace, engine: Engine, secret: bytes) -> Starlette:
    """Each sequence's tracking flags decide whether its clicks and opens are recorded; the links
    are answered under the path of ``tracking_base_url`` too."""
    base = ws.config.settings.sending.tracking_base_url
    return create_app(engine, secret, tracking={name: s.sequence.tracking for name, s in ws.sequences.items()},
                      prefix=base_path(base) if base else "", events=events_intake(ws))


def events_intake(ws: Workspace) -> EventsIntake | None:
    """``POST /events`` exists once its HMAC key is in the environment; it takes scoring.yaml's own types too."""
    key = os.environ.get(SECRET_ENV, "")
    if not key:
        return None
    spec = load_scoring(ws.config.root)
    return EventsIntake(key.encode(), Accepted.of(spec.catalogue, spec.custom_types))
