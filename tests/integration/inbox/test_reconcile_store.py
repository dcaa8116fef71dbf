"""Settling ``unknown`` sends against the real Dovecot Sent folder: found -> sent, not found ->
queued again, too young -> left alone, unsearchable -> left unknown with a reason. Also the CLI."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import col, select
from typer.testing import CliRunner

from outbound.cli.app import app
from outbound.core import events as ev
from outbound.inbox.job import poll_job, reconcile_unknown
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.workspace import BuiltWorkspace
from tests.integration.inbox.conftest import PW_ENV, RawImap, append, secrets_for
from tests.integration.inbox.test_inbox_loop import OPTS, send_first_step, workspace


def make_unknown(tw: BuiltWorkspace) -> dict[str, Send]:
    """What a daemon that died mid-transaction leaves: sends ``unknown`` with no ``sent`` event,
    enrollments paused at the step."""
    with session_scope(tw.engine) as s:
        s.execute(delete(Event).where(col(Event.type) == ev.SENT))
        sends = {x.to_address: x for x in s.exec(select(Send))}
        for send in sends.values():
            send.state = SendState.unknown
            enr = s.get(Enrollment, send.enrollment_id)
            assert enr is not None
            enr.state, enr.next_step, enr.reason = EnrollmentState.paused, 0, "delivery unconfirmed"
    return sends


def state(tw: BuiltWorkspace, send: Send) -> tuple[str, str, int]:
    with session_scope(tw.engine) as s:
        row, enr = s.get(Send, send.id), s.get(Enrollment, send.enrollment_id)
        assert row is not None and enr is not None
        return row.state, enr.state, enr.next_step


async def test_unknown_sends_are_settled_by_the_sent_folder(
        tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser, smtp_sink: SmtpSink, raw_imap: RawImap) -> None:
    tw = workspace(tmp_path, imap_mailbox, dovecot, smtp_sink.port, folders=["INBOX"])
    await send_first_step(tw, ["ann@acme.test", "ben@acme.test"])
    sends = make_unknown(tw)
    ann, ben = sends["ann@acme.test"], sends["ben@acme.test"]
    secrets = secrets_for(imap_mailbox.password)

    # no Sent folder yet: nothing can be proven, so nothing changes
    failed = await reconcile_unknown(tw.ctx, ann.claimed_at + timedelta(minutes=3), secrets=secrets, options=OPTS)
    assert failed.checked == 0 and "Sent" in failed.failures[0]
    assert state(tw, ann)[0] == SendState.unknown

    imap = await raw_imap(imap_mailbox)
    assert (await imap.create("Sent")).result == "OK"
    await append(imap, "Sent", next(m.data for m in smtp_sink.messages if m.rcpt_tos == [ann.to_address]))

    young = await reconcile_unknown(tw.ctx, ann.claimed_at + timedelta(seconds=30), secrets=secrets, options=OPTS)
    assert (young.checked, young.waiting) == (0, 2)

    settled = await reconcile_unknown(tw.ctx, ann.claimed_at + timedelta(minutes=3), secrets=secrets, options=OPTS)
    assert (settled.checked, settled.sent, settled.requeued, settled.failures) == (2, 1, 1, [])
    assert state(tw, ann) == (SendState.sent, EnrollmentState.active, 1)
    assert state(tw, ben) == (SendState.retry, EnrollmentState.active, 0)


async def test_poll_job_reconciles_after_polling(
        tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser, smtp_sink: SmtpSink, raw_imap: RawImap) -> None:
    tw = workspace(tmp_path, imap_mailbox, dovecot, smtp_sink.port, folders=["INBOX"])
    await send_first_step(tw, ["ann@acme.test"])
    ann = make_unknown(tw)["ann@acme.test"]
    imap = await raw_imap(imap_mailbox)
    assert (await imap.create("Sent")).result == "OK"
    await append(imap, "Sent", smtp_sink.messages[0].data)
    summary = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS,
                             grace=timedelta(0))
    assert (summary.reconcile.checked, summary.reconcile.sent) == (1, 1)
    assert state(tw, ann)[0] == SendState.sent


def test_cli_poll_and_reconcile(tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser,
                                smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    tw = workspace(tmp_path, imap_mailbox, dovecot, smtp_sink.port, folders=["INBOX"])
    monkeypatch.setenv(PW_ENV, imap_mailbox.password)
    monkeypatch.delenv("OUTBOUND_DATABASE_URL", raising=False)
    runner = CliRunner()
    config = str(tw.root / "config.toml")
    polled = runner.invoke(app, ["--config", config, "poll", "--once"], env={**os.environ, "COLUMNS": "200"})
    assert polled.exit_code == 0, polled.output
    assert imap_mailbox.address in polled.output and "ok" in polled.output
    settled = runner.invoke(app, ["--config", config, "reconcile"])
    assert settled.exit_code == 0, settled.output
    assert "0 checked" in settled.output
    monkeypatch.setenv(PW_ENV, "wrong-password-xyz")
    bad = runner.invoke(app, ["--config", config, "poll", "--once"], env={**os.environ, "COLUMNS": "200"})
    assert bad.exit_code == 1 and "failed" in bad.output and "wrong-password-xyz" not in bad.output
