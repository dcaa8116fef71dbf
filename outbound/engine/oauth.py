"""OAuth2 access tokens of the mailboxes: kept in memory, refreshed before they expire, once for all daemons.

The refresh token grant goes through Authlib's httpx client (a maintained, standards-following
OAuth2 client that serves Google, Microsoft and any other server alike). A process refreshes a
mailbox's token under a lock of its own and, across daemons, under the row's refresh lease
(``outbound.store.oauth_tokens.take_refresh``): whoever loses the lease waits for the winner's
token instead of refreshing again. ``invalid_grant`` (revoked, password changed, consent
withdrawn) is final: the rulebook's ``TokenRefused`` fact pauses the mailbox. A timeout or a 5xx
is transient: retried with backoff, nothing paused. Tokens are never logged: only errors are.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import authlib.deprecate  # noqa: F401  (installs its "always" filter first, so the "ignore" below outranks it)
from sqlalchemy import Engine

from outbound.core.sealing import Sealer, SealError
from outbound.errors import ConfigError
from outbound.rulebook.facts import TokenRefused
from outbound.spec.auth import OAuth2
from outbound.store import oauth_tokens as store
from outbound.store.db import utcnow

log = logging.getLogger("outbound.oauth")
Secrets = Callable[[str], "str | None"]
# errors of the token endpoint that no retry cures (RFC 6749 5.2): the mailbox must be connected again
MIN_KEY = 16
PERMANENT = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


def sealer_from_env(env_name: str) -> Sealer:
    """The sealer of ``$env_name``; ConfigError (a message, no traceback) when unset or too short."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"set {env_name} to a long random string: it encrypts the OAuth2 refresh tokens of "
                          "the mailboxes in the database")
    if len(value) < MIN_KEY:
        raise ConfigError(f"{env_name} is too short: use at least {MIN_KEY} random characters")
    return Sealer(value.encode())


JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class ServiceAccount:
    """The fields of a service account's JSON key file that the JWT bearer grant (RFC 7523) needs."""

    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str | None
    token_uri: str | None


def service_account(auth: OAuth2, secrets: Secrets = os.environ.get) -> ServiceAccount:
    env = auth.service_account_key_env
    assert env is not None
    path = secrets(env)
    if not path:
        raise ClientMissing(f"the environment variable {env} (path of the service account key file) is not set")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return ServiceAccount(str(data["client_email"]), str(data["private_key"]), data.get("private_key_id"),
                              data.get("token_uri"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClientMissing(f"the service account key file named by {env} cannot be read "
                            f"({type(exc).__name__}: needs client_email and private_key)") from None


class TokenError(Exception):
    """No access token for a mailbox; the message says why (it never holds a token)."""


class TokenUnavailable(TokenError):
    """Transient: the token server did not answer, or answered 5xx; retried with backoff."""


class TokenRefusedError(TokenError):
    """Final until the mailbox is connected again (invalid_grant, never connected)."""


class ClientMissing(TokenError):
    """The OAuth client id (or secret) environment variable is not set."""


@dataclass(frozen=True)
class Bearer:
    username: str
    token: str = field(repr=False)
    generation: int
    expires_at: datetime


@functools.cache
def _authlib() -> Any:
    """Authlib's httpx client module, imported on first use (most commands never need it)."""
    from authlib.deprecate import AuthlibDeprecationWarning  # installs an "always" filter for its notices

    # its deprecation notices (httpx2, joserfc) are for Authlib's maintainers, not our users' terminals
    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    from authlib.integrations import httpx_client
    return httpx_client


def oauth_error_type() -> type[Exception]:
    """Authlib's error for an OAuth2 error answer (``error``, ``description``)."""
    return _authlib().OAuthError  # type: ignore[no-any-return]


def oauth_client(auth: OAuth2, secrets: Secrets = os.environ.get, **kwargs: Any) -> Any:
    """Authlib's client for the mailbox's OAuth client (id and secret from their environment variables)."""
    if auth.client_id_env is None:
        raise ClientMissing("the auth block names no client_id_env")
    client_id = secrets(auth.client_id_env)
    if not client_id:
        raise ClientMissing(f"the environment variable {auth.client_id_env} (OAuth client id) is not set")
    secret = secrets(auth.client_secret_env) if auth.client_secret_env else None
    if auth.client_secret_env and not secret:
        raise ClientMissing(f"the environment variable {auth.client_secret_env} (OAuth client secret) is not set")
    method = "client_secret_post" if secret else "none"
    return _authlib().AsyncOAuth2Client(client_id, secret, scope=" ".join(auth.scope_list), token_endpoint_auth_method=method,
                             timeout=kwargs.pop("timeout", 15.0), **kwargs)


def is_token_failure(exc: BaseException) -> bool:
    """An error of a token request (an OAuth2 error answer, HTTP, a malformed answer), not a bug."""
    import httpx

    return isinstance(exc, (oauth_error_type(), httpx.HTTPError, ValueError, KeyError))


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(what went wrong in words, final?) of a failed token request."""
    import httpx

    if isinstance(exc, oauth_error_type()):
        error = str(getattr(exc, "error", None) or "error")
        description = getattr(exc, "description", None)
        text = f"{error}: {description}" if description else error
        return text[:300], error in PERMANENT
    if isinstance(exc, httpx.HTTPStatusError):
        return f"the token server answered HTTP {exc.response.status_code}", False
    if isinstance(exc, httpx.TimeoutException):
        return "the token server did not answer in time", False
    if isinstance(exc, httpx.HTTPError):
        return f"cannot reach the token server: {type(exc).__name__}", False
    return f"unexpected answer from the token server: {type(exc).__name__}", False


@dataclass
class _Backoff:
    failures: int
    until: datetime


class TokenManager:
    """Access tokens of the OAuth2 mailboxes of one process."""

    def __init__(self, engine: Engine, sealer: Sealer, worker: str, *, secrets: Secrets = os.environ.get,
                 clock: Callable[[], datetime] = utcnow,
                 on_refused: Callable[[TokenRefused], Awaitable[None]] | None = None,
                 margin: timedelta = timedelta(minutes=5), lease: timedelta = timedelta(seconds=30),
                 backoff_max: float = 300.0, http_timeout: float = 15.0) -> None:
        self.engine = engine
        self.sealer = sealer
        self.worker = worker
        self.secrets = secrets
        self.clock = clock
        self.on_refused = on_refused
        self.margin = margin
        self.lease = lease
        self.backoff_max = backoff_max
        self.http_timeout = http_timeout
        self.refreshes = 0  # token requests this process made (tests count them)
        self._cache: dict[str, Bearer] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._backoff: dict[str, _Backoff] = {}

    def _fresh(self, bearer: Bearer | None, now: datetime) -> bool:
        return bearer is not None and bearer.expires_at - self.margin > now

    async def bearer(self, address: str, username: str, auth: OAuth2, *, stale: Bearer | None = None) -> Bearer:
        """A valid access token of ``address``. ``stale``: the server refused this one, so a newer one
        is needed (refreshed once, by whichever daemon gets there first)."""
        cached = self._cache.get(address)
        if stale is None and cached is not None and self._fresh(cached, self.clock()):
            return cached
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            cached = self._cache.get(address)
            newer = cached is not None and (stale is None or cached.generation > stale.generation)
            if newer and self._fresh(cached, self.clock()):
                assert cached is not None
                return cached
            if auth.service_account_key_env:
                return await self._delegated(address, username, auth, stale)
            return await self._obtain(address, username, auth, stale)

    async def _delegated(self, address: str, username: str, auth: OAuth2, stale: Bearer | None) -> Bearer:
        """A service account with domain-wide delegation signs in as the mailbox (the JWT bearer grant,
        through Authlib's assertion client): nothing stored, each process asks for its own token."""
        now = self.clock()
        held = self._backoff.get(address)
        if held is not None and held.until > now:
            raise TokenUnavailable(f"no token for {address} now; next try at {held.until:%H:%M:%S}Z")
        account = service_account(auth, self.secrets)
        token_uri = account.token_uri or auth.token_endpoint
        header = {"alg": "RS256", **({"kid": account.private_key_id} if account.private_key_id else {})}
        try:
            async with _authlib().AsyncAssertionClient(
                    token_uri, account.client_email, address, audience=token_uri, scope=" ".join(auth.scope_list),
                    key=account.private_key, header=header, timeout=self.http_timeout) as client:
                self.refreshes += 1
                token = await client.refresh_token()
        except Exception as exc:
            if not is_token_failure(exc):
                raise
            return await self._failed(address, exc, now, 0, stored=False)
        access = str(token.get("access_token") or "")
        if not access:
            return await self._failed(address, ValueError("no access_token"), now, 0, stored=False)
        generation = (stale.generation if stale else 0) + 1
        bearer = Bearer(username, access, generation, now + timedelta(seconds=int(token.get("expires_in") or 3600)))
        self._backoff.pop(address, None)
        self._cache[address] = bearer
        return bearer

    async def _obtain(self, address: str, username: str, auth: OAuth2, stale: Bearer | None) -> Bearer:
        waited = timedelta(0)
        step = 0.1
        while True:
            now = self.clock()
            row = await asyncio.to_thread(store.get, self.engine, address)
            if row is None or row.refused_at is not None:
                what = "not connected yet" if row is None else str(row.failure)
                await self._refused(TokenRefused(address, what, now, generation=row.generation if row else 0))
                raise TokenRefusedError(f"no token for {address} ({what}): run `outbound mailboxes connect {address}`")
            if (row.sealed_access and row.access_expires_at is not None and row.access_expires_at - self.margin > now
                    and (stale is None or row.generation > stale.generation)):
                bearer = Bearer(username, self._open(row.sealed_access), row.generation, row.access_expires_at)
                self._cache[address] = bearer
                return bearer
            held = self._backoff.get(address)
            if held is not None and held.until > now:
                raise TokenUnavailable(f"the token of {address} cannot be refreshed now ({row.failure}); "
                                       f"next try at {held.until:%H:%M:%S}Z")
            won = await asyncio.to_thread(store.take_refresh, self.engine, address, self.worker, now, now + self.lease,
                                          older_than=row.generation)
            if won:
                return await self._refresh(address, username, auth, row.sealed_refresh, row.generation)
            # another daemon is refreshing it: its result lands in the row
            if waited >= self.lease:
                raise TokenUnavailable(f"another daemon's refresh of the token of {address} did not finish")
            await asyncio.sleep(step)
            waited += timedelta(seconds=step)
            step = min(step * 2, 1.0)

    def _open(self, sealed: str) -> str:
        try:
            return self.sealer.open(sealed)
        except SealError as exc:
            raise TokenRefusedError(str(exc)) from None

    async def _refresh(self, address: str, username: str, auth: OAuth2, sealed_refresh: str,
                       generation: int) -> Bearer:
        refresh_token = self._open(sealed_refresh)
        now = self.clock()
        try:
            async with oauth_client(auth, self.secrets, timeout=self.http_timeout) as client:
                self.refreshes += 1
                token = await client.refresh_token(auth.token_endpoint, refresh_token=refresh_token)
        except ClientMissing:
            await asyncio.to_thread(store.record_failure, self.engine, address, self.worker, "OAuth client not set",
                                    now, refused=False)
            raise
        except Exception as exc:
            if not is_token_failure(exc):
                raise
            return await self._failed(address, exc, now, generation)
        access = str(token.get("access_token") or "")
        if not access:
            return await self._failed(address, ValueError("no access_token"), now, generation)
        expires_at = now + timedelta(seconds=int(token.get("expires_in") or 3600))
        rotated = token.get("refresh_token")
        sealed_new = self.sealer.seal(str(rotated)) if rotated and rotated != refresh_token else None
        await asyncio.to_thread(store.store_refreshed, self.engine, address, self.worker, now,
                                sealed_access=self.sealer.seal(access), expires_at=expires_at,
                                sealed_refresh=sealed_new)
        self._backoff.pop(address, None)
        bearer = Bearer(username, access, generation + 1, expires_at)
        self._cache[address] = bearer
        log.info("refreshed the OAuth2 token of %s (valid until %s)", address, f"{expires_at:%H:%M:%S}Z")
        return bearer

    async def _refused(self, fact: TokenRefused) -> None:
        if self.on_refused is not None:
            await self.on_refused(fact)

    async def _failed(self, address: str, exc: BaseException, now: datetime, generation: int, *,
                      stored: bool = True) -> Bearer:
        what, final = describe_error(exc)
        if stored:
            await asyncio.to_thread(store.record_failure, self.engine, address, self.worker, what, now, refused=final)
        self._cache.pop(address, None)
        if final:
            log.warning("the OAuth2 token of %s was refused: %s", address, what)
            source = "refresh" if stored else "service_account"
            await self._refused(TokenRefused(address, what, now, source, generation))
            raise TokenRefusedError(f"the token of {address} was refused ({what}): run "
                                    f"`outbound mailboxes connect {address}`")
        held = self._backoff.get(address)
        failures = (held.failures if held else 0) + 1
        delay = min(self.backoff_max, 2.0 ** (failures - 1)) * (0.5 + 0.5 * random.random())
        self._backoff[address] = _Backoff(failures, now + timedelta(seconds=delay))
        log.warning("cannot refresh the OAuth2 token of %s (%s); retrying in %.0f s", address, what, delay)
        raise TokenUnavailable(f"the token of {address} cannot be refreshed now: {what}")

    def forget(self, address: str) -> None:
        self._cache.pop(address, None)
