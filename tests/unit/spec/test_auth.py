"""Mailbox auth in the domain files: presets, overrides and the validate checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from outbound.app.workspace import inspect_workspace
from outbound.spec.domain import SendingDomain


def _domain(**auth: Any) -> dict[str, Any]:
    return {"domain": "acme.com", "mailboxes": [{"address": "a@acme.com"}],
            "auth": {"type": "oauth2", "client_id_env": "ACME_CLIENT_ID", **auth}}


def test_microsoft_preset_fills_servers_scopes_and_limits() -> None:
    d = SendingDomain.model_validate(_domain(provider="microsoft", tenant="acme.onmicrosoft.com"))
    mb = d.mailboxes[0]
    auth = d.auth_for(mb)
    assert auth is not None
    assert (d.smtp_for(mb).host, d.smtp_for(mb).port, d.smtp_for(mb).tls) == ("smtp.office365.com", 587, "starttls")
    imap = d.imap_for(mb)
    assert imap is not None and (imap.host, imap.port, imap.sent_folder) == ("outlook.office365.com", 993, "Sent Items")
    assert "offline_access" in auth.scope_list
    assert auth.token_endpoint == "https://login.microsoftonline.com/acme.onmicrosoft.com/oauth2/v2.0/token"
    assert (auth.provider_limits.max_connections, auth.provider_limits.per_minute) == (3, 30)


def test_google_preset_and_overrides() -> None:
    d = SendingDomain.model_validate({**_domain(provider="google", limits={"per_day": 500}),
                                      "imap": {"host": "imap.example.net", "sent_folder": "Sent"}})
    mb = d.mailboxes[0]
    auth = d.auth_for(mb)
    assert auth is not None and auth.scope_list == ["https://mail.google.com/"]
    assert d.smtp_for(mb).host == "smtp.gmail.com"
    assert d.imap_for(mb) is not None and d.imap_for(mb).host == "imap.example.net"  # type: ignore[union-attr]
    assert auth.provider_limits.per_day == 500


@pytest.mark.parametrize("auth, needle", [
    ({"provider": "custom"}, "token_url"),
    ({"provider": "google", "tenant": "x"}, "tenant is for provider: microsoft"),
    ({"provider": "google", "client_id_env": "not a name"}, "environment variable"),
    ({"provider": "custom", "token_url": "http://auth.example.com/token"}, "https"),
    ({"provider": "google", "client_id_env": None}, "client_id_env is required"),
    ({"provider": "microsoft", "service_account_key_env": "SA"}, "service_account_key_env is for provider: google"),
])
def test_bad_auth_blocks_are_refused(auth: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        SendingDomain.model_validate(_domain(**auth))


def _workspace(tmp_path: Path, domain: dict[str, Any]) -> list[str]:
    (tmp_path / "sequences").mkdir()
    (tmp_path / "domains").mkdir()
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "domains" / "acme.com.yaml").write_text(json.dumps(domain, indent=1))
    ws = inspect_workspace(tmp_path / "config.toml")
    return [f"{Path(str(p.path)).name}:{p.line}:{p.message}" for p in ws.errors]


def test_validate_refuses_a_daily_cap_above_the_providers_ceiling(tmp_path: Path) -> None:
    d = _domain(provider="google")
    d["mailboxes"][0]["daily_cap"] = 2500
    errors = _workspace(tmp_path, d)
    assert any("daily_cap 2500 is above Google Workspace's ceiling of 2000" in e and e.startswith("acme.com.yaml:")
               for e in errors), errors


def test_validate_refuses_a_bearer_over_plain_text_to_a_remote_host(tmp_path: Path) -> None:
    d = _domain(provider="microsoft")
    d["smtp"] = {"host": "smtp.acme.com", "port": 25, "tls": "none"}
    errors = _workspace(tmp_path, d)
    assert any("tls: none with auth: oauth2" in e for e in errors), errors
    d["smtp"] = {"host": "127.0.0.1", "port": 2525, "tls": "none"}
    (tmp_path / "loopback").mkdir()
    assert not [e for e in _workspace(tmp_path / "loopback", d) if "tls: none" in e]


def test_validate_refuses_a_gap_faster_than_microsofts_per_minute_limit(tmp_path: Path) -> None:
    d = _domain(provider="microsoft")
    d["mailboxes"][0]["gap"] = {"min": "1s", "max": "5s"}
    errors = _workspace(tmp_path, d)
    assert any("30 messages a minute" in e for e in errors), errors


def test_a_mailbox_overrides_single_keys_of_the_preset() -> None:
    d = SendingDomain.model_validate({**_domain(provider="google"), "imap": {"folders": ["INBOX"]},
                                      "mailboxes": [{"address": "a@acme.com", "smtp": {"port": 465, "tls": "implicit"}},
                                                    {"address": "b@acme.com"}]})
    a, b = d.mailboxes
    assert (d.smtp_for(a).host, d.smtp_for(a).port, d.smtp_for(a).tls) == ("smtp.gmail.com", 465, "implicit")
    assert (d.smtp_for(b).port, d.smtp_for(b).tls) == (587, "starttls")
    for mb in (a, b):
        imap = d.imap_for(mb)
        assert imap is not None and (imap.host, imap.folders, imap.sent_folder) == ("imap.gmail.com", ["INBOX"],
                                                                                    "[Gmail]/Sent Mail")


def test_validate_warns_of_unset_oauth_variables_and_token_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_CLIENT_ID", raising=False)
    monkeypatch.delenv("OUTBOUND_TOKEN_KEY", raising=False)
    (tmp_path / "sequences").mkdir()
    (tmp_path / "domains").mkdir()
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "domains" / "acme.com.yaml").write_text(json.dumps(_domain(provider="google"), indent=1))
    ws = inspect_workspace(tmp_path / "config.toml")
    warnings = [p.message for p in ws.problems if p.severity == "warning"]
    assert any("auth.client_id_env names ACME_CLIENT_ID, which is not set" in w for w in warnings), warnings
    assert any(w.startswith("OUTBOUND_TOKEN_KEY is not set") for w in warnings), warnings
    assert not ws.errors
    monkeypatch.setenv("ACME_CLIENT_ID", "id")
    monkeypatch.setenv("OUTBOUND_TOKEN_KEY", "k" * 20)
    assert not [p for p in inspect_workspace(tmp_path / "config.toml").problems if "OAuth2" in p.message
                or "client_id_env" in p.message]
