"""OAuth2 mailboxes against real servers on loopback: the tests' own OAuth2 server, Dovecot with its
oauth2 passdb (XOAUTH2), and an SMTP server that validates the bearer token with the same server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from outbound.core.sealing import Sealer
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.inbox.imap import ImapClient
from outbound.inbox.job import poll_job
from outbound.store import oauth_tokens
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import Event, MailboxState, Send, SendState
from tests.fixtures.mail_servers import DovecotServer
from tests.fixtures.oauth_server import OAuthServer
from tests.integration.engine.workspace import BuiltWorkspace, add_prospects, build, three_step_sequence

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, inside the window for every zone used
KEY = "test-token-key-0123456789"


@pytest.fixture(autouse=True)
def _token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOUND_TOKEN_KEY", KEY)


def oauth_workspace(tmp_path: Path, oauth: OAuthServer, smtp_port: int, dovecot: DovecotServer | None,
                    address: str, database_url: str | None = None) -> BuiltWorkspace:
    box: dict[str, Any] = {"address": address, "daily_cap": 50, "gap": {"min": "2s", "max": "2s"},
                           "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none"}}
    if dovecot is not None:
        box["imap"] = {"host": dovecot.host, "port": dovecot.port, "tls": "none", "folders": ["INBOX"]}
    dom = {"domain": "example.test", "tracking_host": "t.example.test", "auth": oauth.auth_yaml(), "mailboxes": [box]}
    seq = three_step_sequence(domains=["example.test"], window={"days": ["mon", "tue", "wed", "thu", "fri"],
                                                                "start": "00:00", "end": "23:59", "timezone": "UTC"})
    return build(tmp_path / "ws", database_url or f"sqlite:///{tmp_path / 'db.sqlite'}", [seq], [dom])


def connect(tw: BuiltWorkspace, oauth: OAuthServer, address: str) -> str:
    token = oauth.issue_refresh(address)
    oauth_tokens.save_connected(tw.engine, address, "custom", Sealer(KEY.encode()).seal(token), utcnow())
    return token


async def tick(tw: BuiltWorkspace, now: datetime) -> list[str]:
    pool = SmtpPool()
    try:
        report = await run_tick(tw.ctx, pool, now)
    finally:
        await pool.close_all()
    return [r.status for r in report.results]


def sends(tw: BuiltWorkspace) -> list[Send]:
    with session_scope(tw.engine) as s:
        return list(s.exec(select(Send)))


def mailbox_row(tw: BuiltWorkspace, address: str) -> MailboxState:
    with session_scope(tw.engine) as s:
        row = s.get(MailboxState, address)
        assert row is not None
        return row


async def test_send_and_poll_with_a_fresh_token(oauth_server: OAuthServer, xoauth2_smtp: Any,
                                                oauth_dovecot: DovecotServer, tmp_path: Path) -> None:
    sink, handler = xoauth2_smtp
    address = oauth_dovecot.make_user().address
    tw = oauth_workspace(tmp_path, oauth_server, sink.port, oauth_dovecot, address)
    refresh_token = connect(tw, oauth_server, address)
    add_prospects(tw, 1, "seq")
    assert await tick(tw, START) == ["delivered"]
    assert handler.logins == [address] and len(sink.messages) == 1
    assert oauth_server.refreshes() == 1
    # a message in the mailbox: the poller logs in with XOAUTH2 (Dovecot introspects the token)
    client = await ImapClient.connect(oauth_dovecot.host, oauth_dovecot.port, "none")
    await client.login(address, "testpw")
    await client.append("INBOX", b"From: someone@else.test\r\nTo: " + address.encode() +
                        b"\r\nSubject: hello\r\nMessage-ID: <x1@else.test>\r\n\r\nhi\r\n")
    await client.logout()
    summary = await poll_job(tw.ctx, once=True)
    box = summary.mailboxes[address]
    assert box.status == "ok", box.failures
    assert box.fetched == 1
    assert oauth_server.refreshes() == 1, "the access token is kept in memory and used by SMTP and IMAP"
    row = oauth_tokens.get(tw.engine, address)
    assert row is not None and refresh_token not in row.sealed_refresh and row.sealed_access


async def test_an_expired_access_token_is_refreshed_without_a_failed_send(
        oauth_server: OAuthServer, xoauth2_smtp: Any, tmp_path: Path) -> None:
    sink, handler = xoauth2_smtp
    address = "t-expiry@example.test"
    tw = oauth_workspace(tmp_path, oauth_server, sink.port, None, address)
    connect(tw, oauth_server, address)
    add_prospects(tw, 2, "seq")
    assert await tick(tw, START) == ["delivered"]
    # the server now considers the token expired although our copy says it is valid for an hour
    oauth_server.expire_access(address)
    assert await tick(tw, START + timedelta(minutes=5)) == ["delivered"]
    assert handler.refused == 1, "the stale token was refused once, refreshed, and the login retried"
    assert oauth_server.refreshes() == 2
    assert [s.state for s in sends(tw)] == [SendState.sent, SendState.sent]
    assert mailbox_row(tw, address).state == "active"


async def test_a_revoked_refresh_token_pauses_the_mailbox_and_sends_nothing(
        oauth_server: OAuthServer, xoauth2_smtp: Any, tmp_path: Path) -> None:
    sink, handler = xoauth2_smtp
    address = "t-revoked@example.test"
    tw = oauth_workspace(tmp_path, oauth_server, sink.port, None, address)
    connect(tw, oauth_server, address)
    add_prospects(tw, 1, "seq")
    oauth_server.revoke(address)
    assert await tick(tw, START) == ["mailbox paused"]
    assert sink.messages == [] and handler.logins == []
    row = mailbox_row(tw, address)
    assert row.state == "paused"
    assert "invalid_grant" in (row.pause_reason or "")
    assert f"outbound mailboxes connect {address}" in (row.pause_reason or "")
    assert [s.state for s in sends(tw)] == [SendState.retry], "the claim went back unsent"
    with session_scope(tw.engine) as s:
        types = [e.type for e in s.exec(select(Event).where(Event.mailbox == address))]
    assert "token_refused" in types and "mailbox_paused" in types
    # nothing more is asked of the token server until the mailbox is connected again
    before = oauth_server.refreshes()
    assert await tick(tw, START + timedelta(minutes=5)) == []
    assert oauth_server.refreshes() == before


async def test_the_token_server_down_for_a_while_pauses_nothing_and_recovers(
        oauth_server: OAuthServer, xoauth2_smtp: Any, tmp_path: Path) -> None:
    sink, _ = xoauth2_smtp
    address = "t-down@example.test"
    tw = oauth_workspace(tmp_path, oauth_server, sink.port, None, address)
    connect(tw, oauth_server, address)
    add_prospects(tw, 1, "seq")
    oauth_server.down = True
    assert await tick(tw, START) == ["released"]
    row = oauth_tokens.get(tw.engine, address)
    assert row is not None and row.failing_since is not None and row.refused_at is None
    assert mailbox_row(tw, address).state == "active"
    assert [s.state for s in sends(tw)] == [SendState.retry] and sends(tw)[0].attempts == 0
    oauth_server.down = False
    tw.ctx.credentials().tokens._backoff.clear()  # type: ignore[union-attr]  # the backoff would wait seconds
    assert await tick(tw, START + timedelta(minutes=1)) == ["delivered"]
    assert len(sink.messages) == 1
    row = oauth_tokens.get(tw.engine, address)
    assert row is not None and row.failing_since is None


async def test_two_daemons_on_postgresql_refresh_one_token_once(
        oauth_server: OAuthServer, xoauth2_smtp: Any, tmp_path: Path, postgres_url: str) -> None:
    sink, _ = xoauth2_smtp
    address = "t-twice@example.test"
    one = oauth_workspace(tmp_path / "a", oauth_server, sink.port, None, address, database_url=postgres_url)
    two = oauth_workspace(tmp_path / "b", oauth_server, sink.port, None, address, database_url=postgres_url)
    connect(one, oauth_server, address)
    oauth_server.delay = 0.5  # both ask while the first refresh is under way
    auth = one.ctx.workspace.domains["example.test"].auth
    assert auth is not None
    a, b = one.ctx.credentials(), two.ctx.credentials()
    got = await asyncio.gather(a.login(address, address, auth, None), b.login(address, address, auth, None))
    assert oauth_server.refreshes() == 1
    assert got[0] is not None and got[1] is not None
    assert got[0].generation == got[1].generation  # type: ignore[union-attr]


async def test_a_service_account_with_domain_wide_delegation_signs_in_as_each_mailbox(
        oauth_server: OAuthServer, xoauth2_smtp: Any, oauth_dovecot: DovecotServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sink, handler = xoauth2_smtp
    address = oauth_dovecot.make_user().address
    key = oauth_server.service_account_key(tmp_path / "sa.json")
    monkeypatch.setenv("TEST_SA_KEY", str(key))
    auth = {"type": "oauth2", "provider": "custom", "token_url": f"{oauth_server.url}/token",
            "service_account_key_env": "TEST_SA_KEY", "scopes": ["https://mail.google.com/"]}
    box = {"address": address, "daily_cap": 50, "gap": {"min": "2s", "max": "2s"},
           "smtp": {"host": "127.0.0.1", "port": sink.port, "tls": "none"},
           "imap": {"host": oauth_dovecot.host, "port": oauth_dovecot.port, "tls": "none", "folders": ["INBOX"]}}
    seq = three_step_sequence(domains=["example.test"], window={"days": ["mon", "tue", "wed", "thu", "fri"],
                                                                "start": "00:00", "end": "23:59", "timezone": "UTC"})
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
               [{"domain": "example.test", "tracking_host": "t.example.test", "auth": auth, "mailboxes": [box]}])
    add_prospects(tw, 1, "seq")
    # not delegated (yet) for this mailbox: refused for good, the mailbox is paused with the reason
    assert await tick(tw, START) == ["mailbox paused"]
    reason = mailbox_row(tw, address).pause_reason or ""
    assert "unauthorized_client" in reason and "domain-wide delegation" in reason
    oauth_server.delegated.add(address)
    tw.ctx.creds = None  # a new process
    assert tw.ctx.credentials() is not None
    from outbound.store.operator import resume_senders

    resume_senders(tw.engine, address, utcnow())
    assert await tick(tw, START + timedelta(minutes=1)) == ["delivered"]
    assert handler.logins == [address] and "jwt-bearer" in oauth_server.grants
    summary = await poll_job(tw.ctx, once=True)
    assert summary.mailboxes[address].status == "ok", summary.mailboxes[address].failures
    assert oauth_tokens.get(tw.engine, address) is None, "nothing is stored for a delegated mailbox"


async def test_imap_refuses_an_expired_token_it_is_refreshed_once_and_the_poll_goes_on(
        oauth_server: OAuthServer, xoauth2_smtp: Any, oauth_dovecot: DovecotServer, tmp_path: Path) -> None:
    sink, _ = xoauth2_smtp
    address = oauth_dovecot.make_user().address
    tw = oauth_workspace(tmp_path, oauth_server, sink.port, oauth_dovecot, address)
    connect(tw, oauth_server, address)
    assert (await poll_job(tw.ctx, once=True)).mailboxes[address].status == "ok"
    oauth_server.expire_access(address)
    started = asyncio.get_running_loop().time()
    summary = await poll_job(tw.ctx, once=True)
    assert summary.mailboxes[address].status == "ok", summary.mailboxes[address].failures
    assert oauth_server.refreshes() == 2
    assert asyncio.get_running_loop().time() - started < 10, "a refused XOAUTH2 is answered, not waited out"
    # revoked for good: the refresh after the refusal fails, and the mailbox is paused by the rulebook
    oauth_server.revoke(address)
    summary = await poll_job(tw.ctx, once=True)
    assert summary.mailboxes[address].status == "failed"
    assert mailbox_row(tw, address).state == "paused"


def test_dovecot_takes_oauthbearer_too(oauth_server: OAuthServer, oauth_dovecot: DovecotServer) -> None:
    """The fixture's Dovecot checks XOAUTH2 and OAUTHBEARER (RFC 7628) against the same server."""
    import imaplib

    address = oauth_dovecot.make_user().address
    oauth_server.approved_user = address
    token = oauth_server._tokens(address)["access_token"]
    imap = imaplib.IMAP4(oauth_dovecot.host, oauth_dovecot.port)
    try:
        typ, _ = imap.authenticate("OAUTHBEARER", lambda _: f"n,a={address},\1auth=Bearer {token}\1\1".encode())
        assert typ == "OK"
    finally:
        imap.logout()
    imap = imaplib.IMAP4(oauth_dovecot.host, oauth_dovecot.port)
    try:
        refused = False
        try:
            imap.authenticate("OAUTHBEARER", lambda _: f"n,a={address},\1auth=Bearer at-bogus\1\1".encode())
        except imaplib.IMAP4.error:
            refused = True
        assert refused
    finally:
        imap.shutdown()


async def test_a_rotated_refresh_token_replaces_the_stored_one(oauth_server: OAuthServer, tmp_path: Path) -> None:
    """Microsoft rotates refresh tokens: the new one is stored (sealed) and the old one never used again."""
    oauth_server.rotate = True
    address = "t-rotate@example.test"
    tw = oauth_workspace(tmp_path, oauth_server, 2525, None, address)
    first = connect(tw, oauth_server, address)
    auth = tw.ctx.workspace.domains["example.test"].auth
    assert auth is not None
    creds = tw.ctx.credentials()
    one = await creds.login(address, address, auth, None)
    assert first not in oauth_server.refresh, "the server retired the first refresh token"
    two = await creds.login(address, address, auth, None, stale=one)  # type: ignore[arg-type]
    assert oauth_server.refreshes() == 2 and oauth_server.grants.count("refresh_token") == 2
    assert two is not None and one is not None and two.generation > one.generation  # type: ignore[union-attr]
    row = oauth_tokens.get(tw.engine, address)
    assert row is not None and row.failing_since is None and row.refused_at is None
