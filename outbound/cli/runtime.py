"""Loading what commands share (config, workspace, database) with user errors turned into messages."""

from __future__ import annotations

from sqlalchemy import Engine

from outbound.cli.context import config_path, fail
from outbound.config import LoadedConfig, load_config
from outbound.errors import OutboundError
from outbound.spec.workspace import Workspace, load_workspace
from outbound.store.db import open_store


def config() -> LoadedConfig:
    try:
        return load_config(config_path())
    except OutboundError as exc:
        fail(str(exc))


def workspace() -> Workspace:
    try:
        return load_workspace(config_path())
    except OutboundError as exc:
        fail(f"the workspace has problems (run `outbound validate`):\n{exc}")


def open_engine(cfg: LoadedConfig | None = None) -> Engine:
    cfg = cfg or config()
    try:
        return open_store(cfg.database_url)
    except OutboundError as exc:
        fail(str(exc))
