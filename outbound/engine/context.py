"""What a tick needs: workspace, database, worker identity, signing key (built by ``outbound.app.context``)."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from dataclasses import dataclass, field

from sqlalchemy import Engine

from outbound.config import Settings
from outbound.core.sealing import Sealer
from outbound.engine.credentials import Credentials
from outbound.engine.oauth import TokenManager, sealer_from_env
from outbound.engine.recorder import Recorder
from outbound.errors import ConfigError
from outbound.render.templates import TemplateSource
from outbound.rulebook.facts import TokenRefused
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.spec.workspace import LoadedSequence, Workspace
from outbound.store.oauth_tokens import apply_refusal


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class EngineContext:
    workspace: Workspace
    engine: Engine
    signing_key: bytes | None  # None in a process that renders nothing (poll, reconcile)
    worker: str = field(default_factory=worker_id)
    rng: random.Random = field(default_factory=random.Random)
    _templates: dict[str, TemplateSource] = field(default_factory=dict)
    _mailboxes: dict[str, tuple[SendingDomain, Mailbox]] = field(default_factory=dict)
    _recorder: Recorder | None = None
    token_sealer: Sealer | None = None  # read from [sending] token_key_env when a mailbox uses OAuth2
    creds: Credentials | None = None

    @property
    def settings(self) -> Settings:
        return self.workspace.config.settings

    @property
    def secret(self) -> bytes:
        """The key that signs unsubscribe and tracking links; never a stand-in."""
        if self.signing_key is None:
            env = self.settings.sending.signing_secret_env
            raise ConfigError(f"set {env}: this command signs unsubscribe links, and was started without it")
        return self.signing_key

    def templates(self, loaded: LoadedSequence) -> TemplateSource:
        source = self._templates.get(loaded.sequence.name)
        if source is None:
            source = self._templates[loaded.sequence.name] = TemplateSource(loaded.folder)
        return source

    def mailbox(self, address: str) -> tuple[SendingDomain, Mailbox] | None:
        if not self._mailboxes:
            self._mailboxes = self.workspace.mailboxes()
        return self._mailboxes.get(address)

    def recorder(self) -> Recorder:
        """The group-commit writer of this process's per-send writes."""
        if self._recorder is None:
            self._recorder = Recorder(self.engine)
        return self._recorder

    def credentials(self) -> Credentials:
        """How the mailboxes log in (passwords, OAuth2 bearers); one per process, shared by SMTP and IMAP."""
        if self.creds is None:
            tokens, missing = None, ""
            if any(d.auth_for(m) for d, m in self.workspace.mailboxes().values()):
                try:
                    sealer = self.token_sealer or sealer_from_env(self.settings.sending.token_key_env)
                except ConfigError as exc:
                    missing = str(exc)
                else:
                    tokens = TokenManager(self.engine, sealer, self.worker, on_refused=self._token_refused)
            self.creds = Credentials(tokens, missing_key=missing)
        return self.creds

    async def _token_refused(self, fact: TokenRefused) -> None:
        await asyncio.to_thread(apply_refusal, self.engine, fact)
