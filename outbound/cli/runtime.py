"""Loading what commands share (config, workspace, database, engine context) with user errors turned into messages."""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from outbound.app.context import build_context
from outbound.app.workspace import load_workspace
from outbound.cli.context import config_path, fail
from outbound.config import DATABASE_ENV, LoadedConfig, load_config
from outbound.engine.context import EngineContext
from outbound.errors import OutboundError
from outbound.spec.workspace import Workspace
from outbound.store.db import open_store

if TYPE_CHECKING:
    from outbound.scoring.spec import ScoringSpec


def config() -> LoadedConfig:
    try:
        return load_config(config_path())
    except OutboundError as exc:
        fail(str(exc))


def workspace(*, code: int = 1) -> Workspace:
    """``code``: the exit status for a workspace that does not load (``send --once`` uses 2)."""
    try:
        return load_workspace(config_path())
    except OutboundError as exc:
        fail(f"the workspace has problems (run `outbound validate`):\n{exc}", code=code)


def scoring_spec(ws: Workspace) -> ScoringSpec:
    """The workspace's scoring.yaml, checked against its sequences (imported here: most commands need none)."""
    from outbound.scoring.spec import load_scoring

    try:
        return load_scoring(ws.config.root, set(ws.sequences))
    except OutboundError as exc:
        fail(str(exc))


def open_engine(cfg: LoadedConfig | None = None, *, code: int = 1) -> Engine:
    cfg = cfg or config()
    url = cfg.database_url
    try:
        make_url(url)  # a malformed URL (bad port...) raises ValueError deep inside SQLAlchemy otherwise
    except (ArgumentError, ValueError) as exc:
        fail(f"the database URL {_where(cfg)} is not valid: {exc}", code=code)
    try:
        return open_store(url)
    except OutboundError as exc:
        fail(str(exc), code=code)


def context(ws: Workspace, *, signs: bool = True, rng: random.Random | None = None, code: int = 1) -> EngineContext:
    """The command's engine context (``signs``: it renders messages, so the signing secret must be set)."""
    engine = open_engine(ws.config, code=code)
    try:
        return build_context(ws, engine, signs=signs, rng=rng)
    except OutboundError as exc:
        fail(str(exc), code=code)


def _where(cfg: LoadedConfig) -> str:
    if os.environ.get(DATABASE_ENV):
        return f"in ${DATABASE_ENV}"
    return f"in {cfg.path or 'the default config'} [database].url"
