"""``outbound mailboxes list``: each mailbox's auth, OAuth2 token state and provider limits (never a token)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from outbound.spec.workspace import Workspace
from outbound.store import mailboxes as mailbox_store
from outbound.store import oauth_tokens
from outbound.store.oauth_tokens import TokenRow


@dataclass(frozen=True)
class MailboxAuthRow:
    address: str
    domain: str
    auth: str                    # password | oauth2 | none
    provider: str | None
    token: str                   # connected | refresh failing | refused | never connected | "" (password)
    token_detail: str            # "expires in 42m", "since 2026-12-01 09:00Z: ...", ...
    expires_at: datetime | None
    failing_since: datetime | None
    connected_at: datetime | None
    limits: dict[str, int | None]
    paused: bool
    pause_reason: str | None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("expires_at", "failing_since", "connected_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out


def _token_state(row: TokenRow | None, now: datetime) -> tuple[str, str]:
    if row is None:
        return "never connected", ""
    if row.refused_at is not None:
        return "refused", f"since {row.refused_at:%Y-%m-%d %H:%M}Z: {row.failure}; connect it again"
    if row.failing_since is not None:
        return "refresh failing", f"since {row.failing_since:%Y-%m-%d %H:%M}Z: {row.failure}"
    if row.access_expires_at is not None and row.access_expires_at > now:
        minutes = int((row.access_expires_at - now).total_seconds() // 60)
        return "connected", f"expires in {minutes}m"
    return "connected", "access token refreshed on next use"


def mailbox_rows(ws: Workspace, engine: Engine, now: datetime) -> list[MailboxAuthRow]:
    tokens = oauth_tokens.all_rows(engine)
    states = {s.address: s for s in mailbox_store.all_states(engine)}
    out: list[MailboxAuthRow] = []
    for address, (domain, mailbox) in sorted(ws.mailboxes().items()):
        auth = domain.auth_for(mailbox)
        state = states.get(address)
        paused = state is not None and state.state == "paused"
        reason = state.pause_reason if paused and state is not None else None
        if auth is None:
            uses_password = bool(domain.smtp_for(mailbox).password_env)
            out.append(MailboxAuthRow(address, domain.domain, "password" if uses_password else "none", None, "", "",
                                      None, None, None, {}, paused, reason))
            continue
        row = tokens.get(address)
        token, detail = _token_state(row, now)
        if auth.service_account_key_env:
            token, detail = "service account", f"domain-wide delegation (${auth.service_account_key_env})"
        limits = auth.provider_limits
        out.append(MailboxAuthRow(address, domain.domain, "oauth2", auth.provider, token, detail,
                                  row.access_expires_at if row else None, row.failing_since if row else None,
                                  row.connected_at if row else None,
                                  {"max_connections": limits.max_connections, "per_minute": limits.per_minute,
                                   "per_day": limits.per_day}, paused, reason))
    return out
