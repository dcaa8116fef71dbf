"""The sending-domain file: the domain's DNS facts and its mailboxes with their limits."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from outbound.core.durations import DURATION_SCHEMA, parse_duration
from outbound.spec.auth import PRESETS, OAuth2, Preset
from outbound.spec.sequence import Strict

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_ADDRESS = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
TlsMode = Literal["starttls", "implicit", "none"]


def _env_name(v: str | None) -> str | None:
    if v is not None and not _ENV.match(v):
        raise ValueError("password_env names an environment variable (e.g. ACME_ALEX_SMTP_PASSWORD), never the password")
    return v


class SmtpServer(Strict):
    host: str
    port: Annotated[int, Field(gt=0, lt=65536)] = 587
    tls: TlsMode = "starttls"
    username: str | None = Field(None, description="defaults to the mailbox address")
    password_env: str | None = Field(None, description="name of the environment variable holding the password")
    timeout: float = 30

    @field_validator("password_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        return _env_name(v)


class ImapServer(Strict):
    host: str
    port: Annotated[int, Field(gt=0, lt=65536)] = 993
    tls: TlsMode = "implicit"
    username: str | None = None
    password_env: str | None = None
    folders: list[str] = Field(default_factory=lambda: ["INBOX", "Junk"])
    sent_folder: str = "Sent"

    @field_validator("password_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        return _env_name(v)


class WarmUp(Strict):
    """Cap on sending day N (0-based) = min(max, start + increase * N)."""

    start: Annotated[int, Field(ge=0)] = 5
    increase: Annotated[int, Field(ge=0)] = 2
    max: Annotated[int, Field(ge=0)] = 40

    def cap_on_day(self, n: int) -> int:
        return min(self.max, self.start + self.increase * max(0, n))


class Gap(Strict):
    """Random pause between two sends from one mailbox, in seconds or '2m'-style text."""

    min: Annotated[timedelta, WithJsonSchema(DURATION_SCHEMA)] = timedelta(seconds=60)
    max: Annotated[timedelta, WithJsonSchema(DURATION_SCHEMA)] = timedelta(seconds=240)

    @field_validator("min", "max", mode="before")
    @classmethod
    def _dur(cls, v: object) -> timedelta:
        if isinstance(v, timedelta):
            return v
        if isinstance(v, (str, int, float)):
            return parse_duration(v)
        raise ValueError("expected a duration such as '90s' or '2m'")

    @model_validator(mode="after")
    def _order(self) -> Gap:
        if self.min > self.max:
            raise ValueError("gap.min must not exceed gap.max")
        return self


def _override_schema(model: type[SmtpServer] | type[ImapServer]) -> dict[str, object]:
    """A mailbox's server keys as editors see them: each optional, the domain's fill the rest."""
    own = {k: v for k, v in model.model_json_schema().items() if k not in ("required", "title")}
    own["description"] = "overrides only the keys it sets; the domain's give the rest"
    return {"anyOf": [own, {"type": "null"}], "default": None}


_SERVERS: dict[str, type[SmtpServer] | type[ImapServer]] = {"smtp": SmtpServer, "imap": ImapServer}


class Mailbox(Strict):
    address: str
    display_name: str = ""
    smtp: Annotated[SmtpServer | None, WithJsonSchema(_override_schema(SmtpServer))] = None
    imap: Annotated[ImapServer | None, WithJsonSchema(_override_schema(ImapServer))] = None
    daily_cap: Annotated[int, Field(ge=0)] = 30
    warmup: WarmUp | None = Field(None, description="omit for a mailbox that is already warm")
    gap: Gap = Field(default_factory=Gap)
    recipient_domain_hourly_limit: Annotated[int, Field(gt=0)] | None = Field(
        None, description="most sends per hour from this mailbox to one recipient domain (gmail.com, ...)")
    auth: OAuth2 | None = Field(None, description="OAuth2 login (XOAUTH2); omit for password_env")

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        v = v.strip().lower()
        if not _ADDRESS.match(v):
            raise ValueError(f"{v!r} is not an email address")
        return v

    @field_validator("display_name")
    @classmethod
    def _no_ctl(cls, v: str) -> str:
        if any(ord(c) < 32 for c in v):
            raise ValueError("a display name cannot hold control characters")
        return v

    def cap_on_day(self, sending_day: int) -> int:
        """Today's cap given how many days this mailbox has sent before (0 on its first day)."""
        if self.warmup is None:
            return self.daily_cap
        return min(self.daily_cap, self.warmup.cap_on_day(sending_day))


class SendingDomain(Strict):
    domain: str
    dkim_selectors: list[str] = Field(default_factory=list)
    sending_ips: list[str] = Field(default_factory=list, description="IPs mail leaves from; checked against SPF, PTR and blocklists")
    tracking_host: str | None = Field(None, description="host serving unsubscribe and tracking links for this domain")
    send_only: bool = Field(False, description="the domain receives no mail (a null MX is then fine)")
    smtp: SmtpServer | None = Field(None, description="default SMTP server for every mailbox")
    imap: ImapServer | None = Field(None, description="default IMAP server for every mailbox")
    auth: OAuth2 | None = Field(None, description="default OAuth2 login of every mailbox")
    mailboxes: Annotated[list[Mailbox], Field(min_length=1)]
    schema_: str | None = Field(None, alias="$schema", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _merge_servers(cls, data: object) -> object:
        """A mailbox's ``smtp``/``imap`` keys override only the keys they set: the domain's give the rest."""
        if not isinstance(data, dict) or not isinstance(data.get("mailboxes"), list):
            return data
        merged = []
        domain_preset = _preset_servers(data.get("auth"))
        data = {**data, **{k: {**domain_preset[k], **v} for k, v in data.items()
                           if k in domain_preset and isinstance(v, dict)}}
        for box in data["mailboxes"]:
            if isinstance(box, dict):
                box = dict(box)
                preset = _preset_servers(box.get("auth") or data.get("auth"))  # an OAuth2 provider's servers
                for key in ("smtp", "imap"):
                    base, own = data.get(key, preset.get(key)), box.get(key)
                    if isinstance(base, dict) and isinstance(own, dict):
                        known = _SERVERS[key].model_fields  # an unknown key is reported once, on the domain
                        box[key] = {**{k: v for k, v in base.items() if k in known}, **own}
            merged.append(box)
        return {**data, "mailboxes": merged}

    @field_validator("domain", "tracking_host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip().lower().rstrip(".")
        if not _HOST.match(v) or "." not in v:
            raise ValueError(f"{v!r} is not a domain name")
        return v

    @field_validator("sending_ips")
    @classmethod
    def _ips(cls, v: list[str]) -> list[str]:
        for ip in v:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"{ip!r} is not an IP address") from None
        return v

    @model_validator(mode="after")
    def _mailboxes(self) -> SendingDomain:
        seen: set[str] = set()
        for mb in self.mailboxes:
            if mb.address.rsplit("@", 1)[1] != self.domain:
                raise ValueError(f"mailbox {mb.address} is not on the domain {self.domain}")
            if mb.address in seen:
                raise ValueError(f"mailbox {mb.address} is listed twice")
            seen.add(mb.address)
            if mb.smtp is None and self.smtp is None and _preset_of(self.auth_for(mb)) is None:
                raise ValueError(f"mailbox {mb.address} has no smtp server (set it on the mailbox or the domain)")
        return self

    def auth_for(self, mailbox: Mailbox) -> OAuth2 | None:
        return mailbox.auth or self.auth

    def smtp_for(self, mailbox: Mailbox) -> SmtpServer:
        server = mailbox.smtp or self.smtp
        if server is None:  # the OAuth2 provider's preset
            preset = _preset_of(self.auth_for(mailbox))
            assert preset is not None  # checked by the validator
            server = SmtpServer(host=preset.smtp[0], port=preset.smtp[1], tls=preset.smtp[2])
        return server

    def imap_for(self, mailbox: Mailbox) -> ImapServer | None:
        server = mailbox.imap or self.imap
        preset = _preset_of(self.auth_for(mailbox))
        if server is None and preset is not None:
            server = ImapServer(host=preset.imap[0], port=preset.imap[1], sent_folder=preset.sent_folder)
        return server

    def password_envs(self, mailbox: Mailbox) -> list[tuple[str, str]]:
        """(server kind, variable name) of each password the mailbox's servers read from the environment."""
        imap = self.imap_for(mailbox)
        found = [("smtp", self.smtp_for(mailbox).password_env), ("imap", imap.password_env if imap else None)]
        return [(kind, env) for kind, env in found if env]


def _preset_servers(auth: object) -> dict[str, dict[str, object]]:
    """The servers an OAuth2 provider's preset fills, as YAML keys: the base that a domain's or a
    mailbox's own ``smtp``/``imap`` keys override one by one (``imap: {folders: [INBOX]}`` keeps the host)."""
    preset = PRESETS.get(str(auth.get("provider"))) if isinstance(auth, dict) else None
    if preset is None:
        return {}
    host, port, tls = preset.smtp
    return {"smtp": {"host": host, "port": port, "tls": tls},
            "imap": {"host": preset.imap[0], "port": preset.imap[1], "tls": "implicit", "sent_folder": preset.sent_folder}}


def _preset_of(auth: OAuth2 | None) -> Preset | None:
    return auth.preset if auth is not None else None
