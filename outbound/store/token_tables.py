"""The OAuth2 token of each mailbox (migration 0005): sealed tokens, expiry, refresh lease, failures.

Tokens are stored sealed (``outbound.core.sealing``), never in clear. The access token is shared
through the row so that several daemons refresh a mailbox's token once, not once each: the one
that wins the refresh lease (a conditional UPDATE) refreshes, the others wait for its result.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class OAuthToken(SQLModel, table=True):
    __tablename__ = "oauth_tokens"
    mailbox: str = Field(primary_key=True)
    provider: str
    sealed_refresh: str                          # the refresh token, sealed
    sealed_access: str | None = None             # the current access token, sealed
    access_expires_at: datetime | None = None
    generation: int = 0                          # bumped by every refresh: who holds an older one refreshes
    connected_at: datetime
    refreshed_at: datetime | None = None
    refresh_owner: str | None = None             # the worker refreshing it now
    refresh_until: datetime | None = None        # ... until then at most
    failing_since: datetime | None = None        # the first of the refresh failures since the last success
    failure: str | None = None                   # the last failure, in words (never a token)
    refused_at: datetime | None = None           # invalid_grant: nothing more is tried until it is connected again
