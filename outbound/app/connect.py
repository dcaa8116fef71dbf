"""``outbound mailboxes connect ADDRESS``: obtain a mailbox's refresh token and store it sealed.

Three ways, all through Authlib's OAuth2 client: the authorization code flow with PKCE and a
loopback redirect (a person at a terminal with a browser), the device-code flow (RFC 8628, a
machine without a browser), or a refresh token obtained elsewhere (``--refresh-token-env``), which
is checked by one refresh before it is stored. No token is ever printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine

from outbound.core.sealing import Sealer
from outbound.engine.oauth import describe_error, oauth_client, oauth_error_type, sealer_from_env
from outbound.errors import ConfigError, OutboundError
from outbound.spec.auth import OAuth2
from outbound.spec.workspace import Workspace
from outbound.store import oauth_tokens
from outbound.store.db import utcnow

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
Say = Callable[[str], None]


class ConnectError(OutboundError):
    """The flow did not give a usable refresh token; the message says why and what to do."""


@dataclass(frozen=True)
class Connected:
    address: str
    provider: str
    expires_at: datetime | None


def mailbox_auth(ws: Workspace, address: str) -> OAuth2:
    found = ws.mailboxes().get(address.strip().lower())
    if found is None:
        raise ConnectError(f"no mailbox {address} in {ws.config.domains_dir}")
    auth = found[0].auth_for(found[1])
    if auth is None:
        raise ConnectError(f"{address} logs in with a password (add auth: {{type: oauth2, provider: ...}} to its "
                           "domain file to connect it with OAuth2)")
    if auth.service_account_key_env:
        raise ConnectError(f"{address} signs in through a service account with domain-wide delegation "
                           f"(${auth.service_account_key_env}): there is nothing to connect")
    return auth


def _store(engine: Engine, sealer: Sealer, address: str, auth: OAuth2, token: dict[str, Any],
           refresh_token: str | None = None) -> Connected:
    refresh = str(token.get("refresh_token") or refresh_token or "")
    if not refresh:
        raise ConnectError("the authorization server gave no refresh token (Microsoft: ask for the offline_access "
                           "scope; Google: the consent screen must be shown again, which connect asks for)")
    now = utcnow()
    access = token.get("access_token")
    expires = now + timedelta(seconds=int(token.get("expires_in") or 3600)) if access else None
    oauth_tokens.save_connected(engine, address, auth.provider, sealer.seal(refresh), now,
                                sealed_access=sealer.seal(str(access)) if access else None, expires_at=expires)
    return Connected(address, auth.provider, expires)


def _extra(auth: OAuth2, address: str) -> dict[str, str]:
    """Provider-specific parameters of the authorization request."""
    extra = {"login_hint": address}
    if auth.provider == "google":  # a refresh token only comes with offline access and a fresh consent
        extra |= {"access_type": "offline", "prompt": "consent"}
    return extra


async def _wait_for_redirect(port: int, timeout: float, ready: Callable[[int], None]) -> dict[str, str]:
    """Serves one request on 127.0.0.1:port (0: any free port) and returns its query parameters."""
    got: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.split()
            query = {k: v[0] for k, v in parse_qs(urlsplit(parts[1]).query).items()} if len(parts) > 1 else {}
            if not ("code" in query or "error" in query):
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = (b"outbound: the mailbox is connected; you can close this window." if "code" in query
                    else b"outbound: the authorization was refused; see the terminal.")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            if not got.done():
                got.set_result(query)
        except (TimeoutError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                await writer.drain()
                writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        ready(int(server.sockets[0].getsockname()[1]))
        return await asyncio.wait_for(got, timeout)
    except TimeoutError:
        raise ConnectError(f"no answer from the browser within {timeout:g} s; run connect again") from None
    finally:
        server.close()


async def connect_code(ws: Workspace, engine: Engine, address: str, *, say: Say,
                       open_browser: Callable[[str], object] | None = None, port: int = 0,
                       timeout: float = 300) -> Connected:
    """The authorization code flow with PKCE and a loopback redirect."""
    auth = mailbox_auth(ws, address)
    sealer = sealer_from_env(ws.config.settings.sending.token_key_env)
    if not auth.authorize_endpoint:
        raise ConnectError(f"{address}: the auth block names no authorize_url (use --device or --refresh-token-env)")
    verifier = os.urandom(40).hex()
    with _client_errors():
        client = oauth_client(auth, code_challenge_method="S256")
    async with client:
        redirect: dict[str, str] = {}
        query: dict[str, str] = {}

        def ready(bound: int) -> None:
            client.redirect_uri = redirect["uri"] = f"http://127.0.0.1:{bound}/"
            url, state = client.create_authorization_url(auth.authorize_endpoint, code_verifier=verifier,
                                                         **_extra(auth, address))
            redirect["state"] = state
            say(f"Open this address in a browser and sign in as {address}:\n{url}")
            if open_browser is not None:
                with contextlib.suppress(Exception):
                    open_browser(url)

        query = await _wait_for_redirect(port, timeout, ready)
        if "error" in query:
            raise ConnectError(f"the authorization was refused: {query['error']} {query.get('error_description', '')}"
                               .strip())
        if query.get("state") != redirect["state"]:
            raise ConnectError("the answer does not belong to this request (state mismatch); run connect again")
        with _token_errors():
            token = await client.fetch_token(auth.token_endpoint, code=query["code"], code_verifier=verifier,
                                             redirect_uri=redirect["uri"])
    return _store(engine, sealer, address, auth, dict(token))


async def connect_device(ws: Workspace, engine: Engine, address: str, *, say: Say, timeout: float = 900) -> Connected:
    """The device-code flow (RFC 8628): a code to enter on another device's browser."""
    auth = mailbox_auth(ws, address)
    sealer = sealer_from_env(ws.config.settings.sending.token_key_env)
    if not auth.device_endpoint:
        raise ConnectError(f"{address}: the auth block names no device_authorization_url")
    with _client_errors():
        client = oauth_client(auth)
    async with client:
        with _token_errors():
            # Authlib's request(): a plain POST without a bearer (there is none yet)
            resp = await client.request("POST", auth.device_endpoint, withhold_token=True,
                                        data={"client_id": client.client_id, "scope": " ".join(auth.scope_list)})
            if resp.status_code != 200:
                raise ConnectError(f"the device authorization endpoint answered HTTP {resp.status_code}: "
                                   f"{resp.text[:200]}")
            grant = resp.json()
        uri = grant.get("verification_uri_complete") or grant.get("verification_uri") or grant.get("verification_url")
        say(f"On any device, open {uri} and enter the code {grant['user_code']} (sign in as {address}).")
        interval = float(grant.get("interval") or 5)
        deadline = time.monotonic() + min(timeout, float(grant.get("expires_in") or timeout))
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            try:
                token = await client.fetch_token(auth.token_endpoint, grant_type=DEVICE_GRANT,
                                                 device_code=grant["device_code"])
            except Exception as exc:
                if not isinstance(exc, oauth_error_type()):
                    raise ConnectError(describe_error(exc)[0]) from None
                error = getattr(exc, "error", None)
                if error == "authorization_pending":
                    continue
                if error == "slow_down":
                    interval += 5
                    continue
                raise ConnectError(f"the device code was not accepted: {describe_error(exc)[0]}") from None
            return _store(engine, sealer, address, auth, dict(token))
    raise ConnectError("the code was not entered in time; run connect --device again")


async def connect_refresh_token(ws: Workspace, engine: Engine, address: str, env_name: str) -> Connected:
    """A refresh token obtained elsewhere, from ``$env_name``; one refresh proves it works before it is stored."""
    auth = mailbox_auth(ws, address)
    sealer = sealer_from_env(ws.config.settings.sending.token_key_env)
    refresh = os.environ.get(env_name)
    if not refresh:
        raise ConnectError(f"the environment variable {env_name} (a refresh token of {address}) is not set")
    with _client_errors():
        client = oauth_client(auth)
    async with client:
        with _token_errors():
            token = await client.refresh_token(auth.token_endpoint, refresh_token=refresh)
    return _store(engine, sealer, address, auth, dict(token), refresh_token=refresh)


@contextlib.contextmanager
def _client_errors() -> Any:
    try:
        yield
    except Exception as exc:  # ClientMissing: the id or secret variable is not set
        if isinstance(exc, OutboundError):
            raise
        raise ConfigError(str(exc)) from None


@contextlib.contextmanager
def _token_errors() -> Any:
    try:
        yield
    except ConnectError:
        raise
    except Exception as exc:
        raise ConnectError(f"the token server refused: {describe_error(exc)[0]}") from None
