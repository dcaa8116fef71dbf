"""The engine context, built here and only here (every command and the daemon come through ``build_context``)."""

from __future__ import annotations

import os
import random

from sqlalchemy import Engine

from outbound.engine.context import EngineContext
from outbound.engine.oauth import sealer_from_env
from outbound.errors import ConfigError
from outbound.spec.workspace import Workspace
from outbound.store import mailboxes as mailbox_store

MIN_SECRET = 16


def signing_secret(env_name: str) -> bytes:
    """The link-signing secret from the environment; ConfigError (a message, no traceback) when unusable."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"set {env_name} to a long random string: it signs the unsubscribe links in every email")
    if len(value) < MIN_SECRET:
        raise ConfigError(f"{env_name} is too short: use at least {MIN_SECRET} random characters")
    return value.encode()


def build_context(ws: Workspace, engine: Engine, *, signs: bool = True, secret: bytes | None = None,
                  rng: random.Random | None = None) -> EngineContext:
    """The context of one process, with the workspace's mailboxes synced into the store.

    ``signs``: the process renders messages (send, run, preview), so the secret named by
    ``[sending] signing_secret_env`` is read now and a missing one fails before anything runs.
    Without it (poll, reconcile) the context has no key, and reading one is a ConfigError.
    ``secret`` is given only by the demo, whose links point at nothing.
    """
    if secret is None and signs:
        secret = signing_secret(ws.config.settings.sending.signing_secret_env)
    sealer = None
    if signs and any(d.auth_for(m) for d, m in ws.mailboxes().values()):  # a sender of OAuth2 mailboxes: now
        sealer = sealer_from_env(ws.config.settings.sending.token_key_env)
    mailbox_store.sync(engine, ws)
    return EngineContext(ws, engine, secret, rng=rng or random.Random(), token_sealer=sealer)
