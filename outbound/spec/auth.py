"""Mailbox auth in the domain files: OAuth2 (XOAUTH2 over SMTP and IMAP) and the providers' presets.

``auth: {type: oauth2, provider: google | microsoft | custom, ...}`` on a mailbox, or on its domain
as the default of its mailboxes. Secrets stay in environment variables (``client_id_env``,
``client_secret_env``); the refresh token is stored encrypted in the database by
``outbound mailboxes connect``. A preset fills the servers, the Sent folder, the scopes, the
endpoints and the provider's published per-mailbox limits; every value can be overridden.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from outbound.spec.sequence import Strict

Provider = Literal["google", "microsoft", "custom"]
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TENANT = re.compile(r"^[A-Za-z0-9.-]+$")


@dataclass(frozen=True)
class Limits:
    """A provider's published per-mailbox sending limits (None: no published limit)."""

    max_connections: int | None = None   # concurrent SMTP sessions
    per_minute: int | None = None        # messages a minute
    per_day: int | None = None           # messages a day: the ceiling of daily_cap

    def describe(self) -> str:
        parts = [f"{self.max_connections} SMTP connections" if self.max_connections else "",
                 f"{self.per_minute}/min" if self.per_minute else "", f"{self.per_day}/day" if self.per_day else ""]
        return ", ".join(p for p in parts if p) or "none published"


@dataclass(frozen=True)
class Preset:
    label: str
    smtp: tuple[str, int, Literal["starttls", "implicit"]]
    imap: tuple[str, int]
    sent_folder: str
    scopes: tuple[str, ...]
    authorize_url: str          # {tenant} is replaced by the tenant
    token_url: str
    device_authorization_url: str
    limits: Limits


_MS = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
PRESETS: dict[str, Preset] = {
    "google": Preset("Google Workspace", ("smtp.gmail.com", 587, "starttls"), ("imap.gmail.com", 993),
                     "[Gmail]/Sent Mail", ("https://mail.google.com/",),
                     "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
                     "https://oauth2.googleapis.com/device/code", Limits(per_day=2000)),
    "microsoft": Preset("Microsoft 365", ("smtp.office365.com", 587, "starttls"), ("outlook.office365.com", 993),
                        "Sent Items", ("https://outlook.office.com/SMTP.Send",
                                       "https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"),
                        _MS + "/authorize", _MS + "/token", _MS + "/devicecode",
                        Limits(max_connections=3, per_minute=30)),
}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url(v: str | None) -> str | None:
    """https, or http to a loopback address only (a test's own server)."""
    if v is None:
        return v
    parts = urlsplit(v)
    if parts.scheme == "https" and parts.hostname:
        return v
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return v
    raise ValueError(f"{v!r} is not an https URL (plain http only to a loopback address)")


class OAuth2Limits(Strict):
    """Overrides of the preset's per-mailbox limits."""

    max_connections: Annotated[int, Field(gt=0)] | None = None
    per_minute: Annotated[int, Field(gt=0)] | None = None
    per_day: Annotated[int, Field(gt=0)] | None = None


class OAuth2(Strict):
    type: Literal["oauth2"]
    provider: Provider
    client_id_env: str | None = Field(None, description="environment variable holding the OAuth client id")
    client_secret_env: str | None = Field(None, description="environment variable holding the client secret "
                                          "(none for a public client)")
    tenant: str | None = Field(None, description="Microsoft: the directory (tenant) id or domain; default organizations")
    token_url: str | None = None
    authorize_url: str | None = None
    device_authorization_url: str | None = None
    scopes: list[str] | None = None
    limits: OAuth2Limits | None = Field(None, description="overrides of the provider's per-mailbox limits")
    service_account_key_env: str | None = Field(
        None, description="Google Workspace: environment variable holding the path of a service account's JSON "
        "key with domain-wide delegation; it signs in as each mailbox (nothing to connect)")

    @field_validator("client_id_env", "client_secret_env", "service_account_key_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV.match(v):
            raise ValueError("names an environment variable (e.g. ACME_OAUTH_CLIENT_ID), never the value itself")
        return v

    @field_validator("token_url", "authorize_url", "device_authorization_url")
    @classmethod
    def _urls(cls, v: str | None) -> str | None:
        return _url(v)

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v: str | None) -> str | None:
        if v is not None and not _TENANT.match(v):
            raise ValueError(f"{v!r} is not a tenant id or domain")
        return v

    @model_validator(mode="after")
    def _complete(self) -> OAuth2:
        if self.provider == "custom" and not self.token_url:
            raise ValueError("provider: custom needs token_url (and authorize_url or device_authorization_url "
                             "to connect a mailbox)")
        if self.tenant is not None and self.provider != "microsoft":
            raise ValueError("tenant is for provider: microsoft only")
        if self.service_account_key_env is None and self.client_id_env is None:
            raise ValueError("client_id_env is required (or service_account_key_env for a Google service account)")
        if self.service_account_key_env is not None and self.provider == "microsoft":
            raise ValueError("service_account_key_env is for provider: google (domain-wide delegation)")
        return self

    @property
    def preset(self) -> Preset | None:
        return PRESETS.get(self.provider)

    def _endpoint(self, given: str | None, attr: str) -> str | None:
        if given:
            return given
        preset = self.preset
        if preset is None:
            return None
        return str(getattr(preset, attr)).replace("{tenant}", self.tenant or "organizations")

    @property
    def token_endpoint(self) -> str:
        found = self._endpoint(self.token_url, "token_url")
        assert found is not None  # a custom provider must name it (validator)
        return found

    @property
    def authorize_endpoint(self) -> str | None:
        return self._endpoint(self.authorize_url, "authorize_url")

    @property
    def device_endpoint(self) -> str | None:
        return self._endpoint(self.device_authorization_url, "device_authorization_url")

    @property
    def scope_list(self) -> list[str]:
        if self.scopes is not None:
            return list(self.scopes)
        return list(self.preset.scopes) if self.preset else []

    @property
    def provider_limits(self) -> Limits:
        base = self.preset.limits if self.preset else Limits()
        o = self.limits
        if o is None:
            return base
        return Limits(o.max_connections or base.max_connections, o.per_minute or base.per_minute,
                      o.per_day or base.per_day)
