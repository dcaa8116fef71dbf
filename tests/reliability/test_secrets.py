"""A whole session through the CLI, with wrong and right passwords, a failing IMAP login and the
daemon running: no password or signing secret appears in any output, log or report."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.fixtures.mail_servers import DovecotServer
from tests.fixtures.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer
from tests.integration.engine.daemon_proc import outbound_command, wait_until
from tests.reliability.faults import DnsFault, FaultySmtp
from tests.reliability.harness import ALWAYS_OPEN

SMTP_WRONG, SMTP_RIGHT = "wrong-SMTP-pw-7f3a91b2", "right-SMTP-pw-c0ffee42"
IMAP_WRONG = "imap-secret-9d8e7f6a"
SIGNING = "signing-secret-5b4a39281706f5e4"
USER = "m0@d0.test"


def _workspace(root: Path, smtp_port: int, dovecot: DovecotServer, imap_user: str) -> Path:
    for sub in ("sequences", "domains"):
        shutil.rmtree(root / sub)
        (root / sub).mkdir()
    seq = {"name": "seq", "senders": {"domains": ["d0.test"]}, "required_fields": ["first_name"], "window": ALWAYS_OPEN,
           "steps": [{"id": "intro", "subject": "Hi {{ first_name }}", "body": "Hello {{ first_name }}."}]}
    dom = {"domain": "d0.test", "tracking_host": "t.d0.test",
           "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none", "password_env": "OB_SMTP_PW", "timeout": 5},
           "imap": {"host": dovecot.host, "port": dovecot.port, "tls": "none", "password_env": "OB_IMAP_PW",
                    "username": imap_user, "folders": ["INBOX"]},
           "mailboxes": [{"address": USER, "display_name": "Sender", "daily_cap": 50, "gap": {"min": 0, "max": 0}}]}
    (root / "sequences" / "seq.yaml").write_text(json.dumps(seq))
    (root / "domains" / "d0.test.yaml").write_text(json.dumps(dom))
    (root / "leads.csv").write_text("email,first_name\nann@remote.test,Ann\nbob@remote.test,Bob\n")
    config = root / "config.toml"
    text = config.read_text().replace('health_interval = "6h"', 'health_interval = "1h"')
    config.write_text(text.replace('send_interval = "30s"', 'send_interval = "1s"').replace(
        'poll_interval = "2m"', 'poll_interval = "1s"'))
    return config


class Session:
    def __init__(self, root: Path, config: Path) -> None:
        self.root, self.config = root, config
        self.outputs: list[tuple[str, str]] = []
        self.extra: dict[str, str] = {}

    def env(self, smtp: str, imap: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
        return {**base, "OUTBOUND_SECRET": SIGNING, "OB_SMTP_PW": smtp, "OB_IMAP_PW": imap, "NO_COLOR": "1",
                **self.extra}

    def __call__(self, *args: str, smtp: str = SMTP_RIGHT, imap: str = IMAP_WRONG, config: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*outbound_command(), *(["--config", str(self.config)] if config else []), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, env=self.env(smtp, imap), cwd=self.root,
                              timeout=120, check=False)
        self.outputs.append((" ".join(args), done.stdout + done.stderr))
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done


def test_no_secret_in_any_output(dovecot: DovecotServer, tmp_path: Path) -> None:
    smtp = FaultySmtp(auth={USER: SMTP_RIGHT}).start()
    dns = DnsFault(mode="servfail").start()
    try:
        base = Session(tmp_path, tmp_path / "ws" / "config.toml")
        assert base("init", str(tmp_path / "ws"), config=False).returncode == 0
        config = _workspace(tmp_path / "ws", smtp.port, dovecot, dovecot.make_user().address)
        run = Session(tmp_path, config)
        run.outputs = base.outputs
        assert run("validate").returncode == 0
        assert run("prospects", "import", str(tmp_path / "ws" / "leads.csv"), "--source", "csv").returncode == 0
        assert run("enroll", "seq", "--source", "csv").returncode == 0
        wrong = run("send", "--once", smtp=SMTP_WRONG)
        assert "auth" in wrong.stdout.lower() and smtp.auth_failures >= 1 and smtp.delivered == []
        assert run("mailboxes", "resume", USER).returncode == 0
        right = run("send", "--once", smtp=SMTP_RIGHT)
        assert len(smtp.delivered) == 2, right.stdout + right.stderr
        poll = run("poll", "--once")
        assert poll.returncode == 1 and "refused" in poll.stdout
        assert run("status", "--json").returncode == 0
        assert run("report", "--json").returncode == 0
        run("domains", "check", "--json", "--nameserver", dns.address)
        log = tmp_path / "daemon.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([*outbound_command(), "--config", str(config), "run", "--log-json"], stdout=out,
                                    stderr=subprocess.STDOUT, env=run.env(SMTP_WRONG, IMAP_WRONG), cwd=tmp_path)
        try:
            assert wait_until(lambda: b"refused" in log.read_bytes(), 30), log.read_text()
            time.sleep(1.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        daemon_log = log.read_text()
        lines = [json.loads(line) for line in daemon_log.splitlines() if line.strip()]
        # the failed poll's line names its mailbox and outcome as keys, not inside a sentence
        assert any(x.get("job") == "poll" and x.get("mailbox") == USER and x.get("outcome") == "failed"
                   for x in lines), daemon_log
        run.outputs.append(("run --log-json", daemon_log))
    finally:
        smtp.stop()
        dns.stop()
    secrets = [SMTP_WRONG, SMTP_RIGHT, IMAP_WRONG, SIGNING]
    encoded = [base64.b64encode(f"\0{USER}\0{pw}".encode()).decode() for pw in (SMTP_WRONG, SMTP_RIGHT)]
    encoded += [base64.b64encode(pw.encode()).decode() for pw in (SMTP_WRONG, SMTP_RIGHT)]
    assert len(run.outputs) >= 12
    for what, text in run.outputs:
        for secret in secrets + encoded:
            assert secret not in text, f"a secret appears in the output of `outbound {what}`"
    database = (tmp_path / "ws" / "outbound.db").read_bytes()
    for secret in secrets:
        assert secret.encode() not in database, "a secret was written to the database"


OAUTH_USER = "t-oauth-secrets@example.test"
TOKEN_KEY = "token-key-secret-8e7d6c5b4a392817"


def test_no_oauth2_token_in_any_output_log_or_database_column(oauth_server: OAuthServer, xoauth2_smtp: Any,
                                                              oauth_dovecot: DovecotServer, tmp_path: Path) -> None:
    """Refresh and access tokens (and the token key) appear in no output, no log and no database
    column in clear, through connect, send, poll, list, status and the daemon (whose token is then
    expired at the server and refreshed, then revoked)."""
    sink, _ = xoauth2_smtp
    base = Session(tmp_path, tmp_path / "ws" / "config.toml")
    assert base("init", str(tmp_path / "ws"), config=False).returncode == 0
    root = tmp_path / "ws"
    for sub in ("sequences", "domains"):
        shutil.rmtree(root / sub)
        (root / sub).mkdir()
    seq = {"name": "seq", "senders": {"domains": ["example.test"]}, "required_fields": ["first_name"],
           "window": ALWAYS_OPEN, "steps": [{"id": "intro", "subject": "Hi {{ first_name }}", "body": "Hello."}]}
    dom = {"domain": "example.test", "tracking_host": "t.example.test", "auth": oauth_server.auth_yaml(),
           "smtp": {"host": "127.0.0.1", "port": sink.port, "tls": "none"},
           "imap": {"host": oauth_dovecot.host, "port": oauth_dovecot.port, "tls": "none", "folders": ["INBOX"]},
           "mailboxes": [{"address": OAUTH_USER, "daily_cap": 50, "gap": {"min": "2s", "max": "2s"}}]}
    (root / "sequences" / "seq.yaml").write_text(json.dumps(seq))
    (root / "domains" / "example.test.yaml").write_text(json.dumps(dom))
    (root / "leads.csv").write_text("email,first_name\nann@remote.test,Ann\nbob@remote.test,Bob\n")
    config = root / "config.toml"
    config.write_text(config.read_text().replace('send_interval = "30s"', 'send_interval = "1s"').replace(
        'poll_interval = "2m"', 'poll_interval = "1s"').replace("health_checks = true", "health_checks = false"))
    run = Session(tmp_path, config)
    run.outputs = base.outputs
    extra = {"OUTBOUND_TOKEN_KEY": TOKEN_KEY, "TEST_OAUTH_CLIENT_ID": CLIENT_ID, "TEST_OAUTH_CLIENT_SECRET": CLIENT_SECRET}
    refresh = oauth_server.issue_refresh(OAUTH_USER)
    run.extra = {**extra, "MY_REFRESH_TOKEN": refresh}
    assert run("validate").returncode == 0
    assert run("mailboxes", "connect", OAUTH_USER, "--refresh-token-env", "MY_REFRESH_TOKEN").returncode == 0
    assert run("prospects", "import", str(root / "leads.csv"), "--source", "csv").returncode == 0
    assert run("enroll", "seq", "--source", "csv").returncode == 0
    sent = run("send", "--once")
    assert len(sink.messages) >= 1, sent.stdout + sent.stderr
    assert run("poll", "--once").returncode == 0
    assert run("mailboxes", "list").returncode == 0
    assert run("mailboxes", "list", "--json").returncode == 0
    assert run("status", "--json").returncode == 0
    oauth_server.expire_access(OAUTH_USER)
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*outbound_command(), "--config", str(config), "run", "--log-json"], stdout=out,
                                stderr=subprocess.STDOUT, env=run.env(SMTP_RIGHT, IMAP_WRONG), cwd=tmp_path)
    try:
        assert wait_until(lambda: len(sink.messages) >= 2, 30), log.read_text()
        oauth_server.revoke(OAUTH_USER)
        oauth_server.expire_access()
        time.sleep(2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    run.outputs.append(("run --log-json", log.read_text()))
    listed = run("mailboxes", "list", "--json")
    assert "oauth2" in listed.stdout
    tokens = list(oauth_server.issued)
    assert len(tokens) >= 3, "a refresh token and at least two access tokens were handed out"
    secrets = [*tokens, TOKEN_KEY, CLIENT_SECRET]
    encoded = [base64.b64encode(f"user={OAUTH_USER}\1auth=Bearer {t}\1\1".encode()).decode() for t in tokens]
    for what, text in run.outputs:
        for secret in secrets + encoded:
            assert secret not in text, f"a token or key appears in the output of `outbound {what}`"
    for name in ("outbound.db", "outbound.db-wal"):
        path = root / name
        if path.exists():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a token or key was written in clear to {name}"
