"""``outbound mailboxes connect`` (authorization code + PKCE with a loopback redirect, device code,
--refresh-token-env) and ``mailboxes list`` against the tests' own OAuth2 server, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import OUTBOUND, SECRET, Cli
from tests.fixtures.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer

ADDRESS = "alex@example.test"
KEY = "acceptance-token-key-4242"


@pytest.fixture
def workspace(tmp_path: Path, oauth_server: OAuthServer) -> Path:
    (tmp_path / "sequences").mkdir()
    (tmp_path / "domains").mkdir()
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    auth = {**oauth_server.auth_yaml(), "limits": {"max_connections": 3, "per_minute": 30}}
    domain = {"domain": "example.test", "tracking_host": "t.example.test", "auth": auth,
              "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
              "mailboxes": [{"address": ADDRESS}]}
    (tmp_path / "domains" / "example.test.yaml").write_text(json.dumps(domain))
    (tmp_path / "domains" / "other.test.yaml").write_text(json.dumps({
        "domain": "other.test", "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none", "password_env": "PW"},
        "mailboxes": [{"address": "sam@other.test"}]}))
    return tmp_path / "config.toml"


def _env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    return {**base, "OUTBOUND_SECRET": SECRET, "OUTBOUND_TOKEN_KEY": KEY, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1",
            "TEST_OAUTH_CLIENT_ID": CLIENT_ID, "TEST_OAUTH_CLIENT_SECRET": CLIENT_SECRET, "COLUMNS": "200"}


def _cli(config: Path) -> Cli:
    return Cli(config=config, env={k: v for k, v in _env().items() if k.startswith(("OUTBOUND_", "TEST_OAUTH"))})


def _tokens(server: OAuthServer) -> list[str]:
    return [*server.access, *server.refresh]


def _no_token_in(text: str, server: OAuthServer) -> None:
    leaked = [t for t in _tokens(server) if t in text]
    assert not leaked, "a token appeared in the output"


def test_authorization_code_flow_with_a_browser_played_by_an_http_client(workspace: Path,
                                                                         oauth_server: OAuthServer) -> None:
    oauth_server.approved_user = ADDRESS
    proc = subprocess.Popen([str(OUTBOUND), "--config", str(workspace), "mailboxes", "connect", ADDRESS,
                             "--no-browser", "--timeout", "60"], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = ""
        for _ in range(20):
            line = proc.stdout.readline()
            if line.startswith("http"):
                url = line.strip()
                break
        assert url.startswith(f"{oauth_server.url}/authorize?"), url
        assert "code_challenge=" in url and "code_challenge_method=S256" in url
        # the browser: sign-in at the server, which redirects to the CLI's loopback address
        page = httpx.get(url, follow_redirects=True, timeout=20)
        assert page.status_code == 200 and "connected" in page.text
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"connected {ADDRESS}" in out
    _no_token_in(out + err, oauth_server)
    listed = _cli(workspace)("mailboxes", "list", "--json").ok()
    rows = {r["address"]: r for r in json.loads(listed.out)}
    assert rows[ADDRESS]["auth"] == "oauth2" and rows[ADDRESS]["token"] == "connected"
    assert rows[ADDRESS]["token_detail"].startswith("expires in")
    assert rows["sam@other.test"]["auth"] == "password"
    _no_token_in(listed.text, oauth_server)
    table = _cli(workspace)("mailboxes", "list").ok()
    assert "oauth2 (custom)" in table.out and "never connected" not in table.out


def test_device_flow(workspace: Path, oauth_server: OAuthServer) -> None:
    oauth_server.approved_user = ADDRESS
    done = _cli(workspace)("mailboxes", "connect", ADDRESS, "--device", "--timeout", "60").ok()
    assert "enter the code" in done.out and f"connected {ADDRESS}" in done.out
    assert "device_code" in oauth_server.grants
    _no_token_in(done.text, oauth_server)


def test_refresh_token_from_the_environment(workspace: Path, oauth_server: OAuthServer) -> None:
    cli = _cli(workspace)
    assert "never connected" in cli("mailboxes", "list").ok().out
    token = oauth_server.issue_refresh(ADDRESS)
    done = cli("mailboxes", "connect", ADDRESS, "--refresh-token-env", "MY_RT", env={"MY_RT": token}).ok()
    assert f"connected {ADDRESS}" in done.out and token not in done.text
    assert "Warning" not in done.err, done.err  # no library notices on the user's terminal
    assert oauth_server.refreshes() == 1, "the token was proven by one refresh before it was stored"
    # a refresh token the server does not know is refused, with the reason, and nothing is stored
    bad = cli("mailboxes", "connect", ADDRESS, "--refresh-token-env", "MY_RT", env={"MY_RT": "rt-unknown"}).failed(1)
    assert "invalid_grant" in bad.err
    # the provider's limits are named by list and status
    rows = {r["address"]: r for r in json.loads(cli("mailboxes", "list", "--json").ok().out)}
    assert rows[ADDRESS]["limits"] == {"max_connections": 3, "per_minute": 30, "per_day": None}
    status = json.loads(cli("status", "--json").ok().out)
    boxes = {m["address"]: m for m in status["mailboxes"]}
    assert boxes[ADDRESS]["provider_limits"] == "custom: 3 SMTP connections, 30/min"
    assert f"{ADDRESS}: custom: 3 SMTP connections, 30/min" in cli("status").ok().out


def test_connect_names_what_is_missing(workspace: Path, oauth_server: OAuthServer) -> None:
    cli = _cli(workspace)
    assert "logs in with a password" in cli("mailboxes", "connect", "sam@other.test").failed(1).err
    assert "no mailbox nobody@example.test" in cli("mailboxes", "connect", "nobody@example.test").failed(1).err
    no_key = cli("mailboxes", "connect", ADDRESS, "--refresh-token-env", "MY_RT",
                 env={"MY_RT": "x", "OUTBOUND_TOKEN_KEY": ""}).failed(1)
    assert "OUTBOUND_TOKEN_KEY" in no_key.err
