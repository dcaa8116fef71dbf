"""Engine settings from ``config.toml``; ``OUTBOUND_CONFIG`` and ``OUTBOUND_DATABASE_URL`` override."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from outbound.core.durations import parse_duration
from outbound.core.link_base import link_base
from outbound.core.nameserver import parse_nameserver
from outbound.core.toml_lines import key_positions
from outbound.core.zones import check_timezone
from outbound.errors import ConfigError

CONFIG_ENV = "OUTBOUND_CONFIG"
DATABASE_ENV = "OUTBOUND_DATABASE_URL"
Duration = Annotated[timedelta, Field()]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _durations(cls, v: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name)
        if field is not None and field.annotation is timedelta and isinstance(v, (str, int, float)):
            return parse_duration(v)
        return v


class WorkspacePaths(_Section):
    sequences: str = "sequences"
    domains: str = "domains"


class DatabaseSettings(_Section):
    url: str = "sqlite:///outbound.db"


class DaemonSettings(_Section):
    send_interval: timedelta = timedelta(seconds=30)
    poll_interval: timedelta = timedelta(minutes=2)
    health_interval: timedelta = timedelta(hours=6)
    health_checks: bool = True  # pause the mailboxes of a domain whose DNS health check fails
    lease: timedelta = timedelta(minutes=5)
    poll_lease: timedelta = timedelta(minutes=2)  # an IMAP mailbox's poll lease; renewed while its pass runs
    batch_size: Annotated[int, Field(gt=0)] = 50
    shutdown_grace: timedelta = timedelta(seconds=30)

    @field_validator("poll_lease")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be a positive duration such as '2m'")
        return v


class SendingSettings(_Section):
    default_timezone: str = "America/New_York"
    signing_secret_env: str = "OUTBOUND_SECRET"
    token_key_env: str = "OUTBOUND_TOKEN_KEY"  # the key that encrypts OAuth2 refresh tokens in the database
    unsubscribe_footer: str = "If you'd rather not hear from me again, unsubscribe here: {{ unsubscribe_url }}"
    tracking_base_url: str | None = None
    retry_limit: Annotated[int, Field(ge=0)] = 5
    retry_base: timedelta = timedelta(minutes=2)

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("tracking_base_url")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            return None
        if v is not None:
            link_base(v)  # ValueError with the reason; the value is used as written
        return v


FORWARD_INTENTS = ("interested", "meeting_request", "information_request")


class InboxSettings(_Section):
    soft_bounce_limit: Annotated[int, Field(gt=0)] = 3
    auto_reply_pause: timedelta = timedelta(days=7)
    forward_to: str | None = Field(None, description="forward each reply of forward_intents here, once, "
                                   "through the mailbox that received it")
    forward_intents: list[str] = Field(default_factory=lambda: list(FORWARD_INTENTS))
    import_referrals: bool = Field(False, description="a wrong-person or left-company reply naming someone makes them "
                                   "a prospect (source referral), enrolled in the sequence's referral_sequence")

    @field_validator("forward_to")
    @classmethod
    def _forward_to(cls, v: str | None) -> str | None:
        if v is not None and (not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", v.strip())):
            raise ValueError(f"{v!r} is not an email address")
        return v.strip().lower() if v else None


class HealthSettings(_Section):
    """Mailbox health thresholds (the scoring pass and the send tick apply them), and the resolver of
    the daemon's domain check."""

    bounce_window: timedelta = Field(timedelta(days=7), description="rolling window for the bounce rate")
    max_bounce_rate: Annotated[float, Field(ge=0, le=1)] = 0.02
    min_sends: Annotated[int, Field(ge=1)] = 20
    pause_on_complaint: bool = True
    auth_failures: Annotated[int, Field(ge=1)] = 3          # per mailbox, within the window
    auth_failure_mailboxes: Annotated[int, Field(ge=1)] = 2  # mailboxes of one domain: pause the whole domain
    resume_after: timedelta | None = Field(None, description="resume a health pause by itself after this long")
    nameserver: str | None = Field(None, description="the resolver the daemon's domain check asks, HOST[:PORT] "
                                   "(as `domains check --nameserver`); default: the system's")

    @field_validator("nameserver")
    @classmethod
    def _nameserver(cls, v: str | None) -> str | None:
        if v is not None:
            parse_nameserver(v)  # ValueError with the reason
        return v

    @field_validator("resume_after", mode="before")
    @classmethod
    def _optional_duration(cls, v: Any) -> Any:
        return parse_duration(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else v


class VerifySettings(_Section):
    """Address verification (``prospects verify``, ``import --verify``, the daemon's re-check); DNS goes
    to ``[health] nameserver``."""

    max_age: timedelta = Field(timedelta(days=30), description="a result older than this is checked again "
                               "(by the daemon before a first touch, by `prospects verify` by default)")
    concurrency: Annotated[int, Field(gt=0)] = 100   # domains looked up at once
    dns_timeout: timedelta = timedelta(seconds=2)    # per query; the lifetime of a lookup is twice this
    daemon: bool = True                              # the daemon re-verifies stale addresses before their first touch
    probe_port: Annotated[int, Field(gt=0, lt=65536)] = 25
    probe_timeout: timedelta = timedelta(seconds=10)
    probe_from: str = ""                             # MAIL FROM of the probe; '' is the null sender <>
    probe_helo: str | None = None                    # EHLO name of the probe; default: this host's name


class WebSettings(_Section):
    """The unsubscribe/tracking endpoint inside ``outbound run`` (``outbound serve`` runs it alone)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 8080


class MetricsSettings(_Section):
    """The Prometheus endpoint (``GET /metrics``) inside ``outbound run``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 9108


class DashboardSettings(_Section):
    """The team's web dashboard (``outbound dashboard``; inside ``outbound run`` when enabled), on its own
    listener: keep it on loopback or behind your VPN, apart from the public unsubscribe endpoint."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 8788
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12
    secure_cookies: bool = False   # set behind a TLS proxy: the session cookie is then sent over https only
    # user name -> the environment variable holding their password, or its scrypt hash
    # (`outbound dashboard hash-password`)
    users: dict[str, str] = {"admin": "OUTBOUND_DASHBOARD_PASSWORD"}


class Settings(_Section):
    workspace: WorkspacePaths = WorkspacePaths()
    database: DatabaseSettings = DatabaseSettings()
    daemon: DaemonSettings = DaemonSettings()
    sending: SendingSettings = SendingSettings()
    inbox: InboxSettings = InboxSettings()
    health: HealthSettings = HealthSettings()
    verify: VerifySettings = VerifySettings()
    web: WebSettings = WebSettings()
    metrics: MetricsSettings = MetricsSettings()
    dashboard: DashboardSettings = DashboardSettings()


class LoadedConfig(BaseModel):
    """Settings plus where they came from; relative paths resolve against the config's folder."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path | None
    root: Path
    settings: Settings

    @property
    def sequences_dir(self) -> Path:
        return self.root / self.settings.workspace.sequences

    @property
    def domains_dir(self) -> Path:
        return self.root / self.settings.workspace.domains

    @property
    def database_url(self) -> str:
        url = os.environ.get(DATABASE_ENV) or self.settings.database.url
        return absolute_sqlite_url(url, self.root)


def absolute_sqlite_url(url: str, root: Path) -> str:
    """``sqlite:///outbound.db`` is relative to the workspace, not to the current directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((root / url[len(prefix):]).resolve())
    return url


def find_config(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / "config.toml"
    return here if here.exists() else None


def load_config(explicit: Path | None = None) -> LoadedConfig:
    """Reads the config; with none anywhere, defaults rooted at the current directory."""
    path = find_config(explicit)
    if path is None:
        return LoadedConfig(path=None, root=Path.cwd(), settings=Settings())
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        at = _TOML_AT.search(str(exc))
        where = f"{path}:{at['line']}:{at['col']}" if at else str(path)
        raise ConfigError(f"{where}: {_TOML_AT.sub('', str(exc))}") from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        positions = key_positions(text)
        lines: list[tuple[tuple[int, int], str]] = []  # in file order; a setting not in the file goes last
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            spot = _position(positions, loc)
            where = f"{path}:{spot[0]}:{spot[1]}" if spot else str(path)
            lines.append((spot or (1 << 30, 0), f"{where}: [{'.'.join(loc)}] {_message(err)}"))
        raise ConfigError("\n".join(text for _, text in sorted(lines))) from None
    return LoadedConfig(path=path, root=path.resolve().parent, settings=settings)


_TOML_AT = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)")


def _position(positions: dict[tuple[str, ...], tuple[int, int]], loc: tuple[str, ...]) -> tuple[int, int] | None:
    """(line, column) of the deepest part of ``loc`` the file has (a missing key: its table)."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in positions:
            return positions[loc[:n]]
    return None


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        loc = [str(p) for p in err["loc"]]
        section = Settings.model_fields.get(loc[0]) if len(loc) == 2 else None
        model = section.annotation if section is not None else (Settings if len(loc) == 1 else None)
        known = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
        guess = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        what = "unknown section" if len(loc) == 1 else "unknown setting"
        return f"{what}; did you mean {guess[0]}?" if guess else what
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")
