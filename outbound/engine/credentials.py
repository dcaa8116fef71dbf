"""The one credentials provider of SMTP and IMAP: a password from the environment, or an OAuth2 bearer.

Both the sender (``outbound.engine.smtp``) and the poller and Sent-folder search
(``outbound.inbox.poller``) ask it, so a mailbox logs in the same way everywhere, and a token
that a server refuses is refreshed once for both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from outbound.engine.oauth import Bearer, Secrets, TokenManager
from outbound.rulebook.facts import TokenRefused
from outbound.spec.auth import OAuth2
from outbound.store.db import utcnow


class CredentialsMissing(Exception):
    """What the mailbox logs in with is not set (an environment variable, the token key)."""


@dataclass(frozen=True)
class Password:
    username: str
    password: str = field(repr=False)


Login = Password | Bearer


class Credentials:
    def __init__(self, tokens: TokenManager | None = None, *, secrets: Secrets = os.environ.get,
                 missing_key: str = "") -> None:
        self.tokens = tokens
        self.secrets = secrets
        self._missing_key = missing_key  # why there is no token manager (no token key)

    async def login(self, address: str, username: str, auth: OAuth2 | None, password_env: str | None, *,
                    stale: Bearer | None = None) -> Login | None:
        """How ``address`` logs in now; None: without AUTH. TokenError / CredentialsMissing say why not."""
        if auth is not None:
            if self.tokens is None:
                raise CredentialsMissing(self._missing_key or "OAuth2 tokens are not available in this process")
            return await self.tokens.bearer(address, username, auth, stale=stale)
        if password_env:
            password = self.secrets(password_env)
            if not password:
                raise CredentialsMissing(f"the environment variable {password_env} (password of {username}) is not set")
            return Password(username, password)
        return None

    async def refused(self, address: str, error: str, source: str, generation: int,
                      at: datetime | None = None) -> None:
        """A server refused a freshly refreshed token too: the rulebook's ``TokenRefused`` (a pause)."""
        tokens = self.tokens
        if tokens is not None and tokens.on_refused is not None:
            tokens.forget(address)
            await tokens.on_refused(TokenRefused(address, error, at or utcnow(), source, generation))

