"""The inbox loop against the real Dovecot (and Postfix): the engine sends, answers land in the
mailbox, ``poll_job`` classifies, matches and applies them, and a second poll changes nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.core.watermark import Watermark
from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.inbox.job import PollSummary, poll_job
from outbound.inbox.poller import PollerOptions
from outbound.prospects.values import ProspectData
from outbound.store.db import session_scope, utcnow
from outbound.store.enrollments import enroll
from outbound.store.prospects import prospect_ids, upsert_prospects
from outbound.store.tables import Enrollment, EnrollmentState, Event, Send, SendState, Suppression
from outbound.store.watermarks import get_watermark, set_watermark
from tests.fixtures.mail_servers import DovecotServer, MailUser, PostfixServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.workspace import BuiltWorkspace, build, three_step_sequence
from tests.integration.inbox.conftest import PW_ENV, RawImap, append, secrets_for

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59", "timezone": "UTC"}
OPTS = PollerOptions(command_timeout=5, mailbox_timeout=20)


def workspace(tmp_path: Path, user: MailUser, dovecot: DovecotServer, smtp_port: int,
              folders: list[str] | None = None) -> BuiltWorkspace:
    domain: dict[str, Any] = {
        "domain": "example.test", "tracking_host": "t.example.test",
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none"},
        "imap": {"host": dovecot.host, "port": dovecot.port, "tls": "none", "password_env": PW_ENV,
                 "folders": folders or ["INBOX", "Junk"]},
        "mailboxes": [{"address": user.address, "display_name": "Alex", "daily_cap": 50, "gap": {"min": 0, "max": 0}}],
    }
    return build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
                 [three_step_sequence(domains=["example.test"], window=ALWAYS)], [domain])


async def send_first_step(tw: BuiltWorkspace, emails: list[str]) -> dict[str, Send]:
    upsert_prospects(tw.engine, [ProspectData(email=e, first_name=e.split("@")[0].upper(), source="loop") for e in emails])
    enroll(tw.engine, tw.ctx.workspace.sequences["seq"].sequence, prospect_ids(tw.engine, source="loop"))
    pool = SmtpPool()
    now = utcnow()
    try:
        for _ in range(len(emails) * 3):
            await run_tick(tw.ctx, pool, now)
            now += timedelta(minutes=1)
            with session_scope(tw.engine) as s:
                sends = {x.to_address: x for x in s.exec(select(Send).where(col(Send.state) == SendState.sent))}
            if len(sends) == len(emails):
                return sends
    finally:
        await pool.close_all()
    raise AssertionError(f"only {len(sends)} of {len(emails)} first steps went out")


def events(tw: BuiltWorkspace) -> list[Event]:
    with session_scope(tw.engine) as s:
        return list(s.exec(select(Event).where(col(Event.type) != ev.SENT).order_by(col(Event.id))))


def enrollment_of(tw: BuiltWorkspace, send: Send) -> Enrollment:
    with session_scope(tw.engine) as s:
        enr = s.get(Enrollment, send.enrollment_id)
        assert enr is not None
        return enr


def suppressed(tw: BuiltWorkspace) -> dict[str, str]:
    with session_scope(tw.engine) as s:
        return {r.value: r.reason for r in s.exec(select(Suppression))}


def mail(sender: str, to: str, subject: str, body: str, mid: str, **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\n{extra}\r\n{body}\r\n").encode()


def dsn(mailbox: str, recipient: str, original: bytes) -> bytes:
    """A Postfix-style hard bounce carrying our message as message/rfc822."""
    return (f"From: MAILER-DAEMON@mx.acme.test (Mail Delivery System)\r\nTo: {mailbox}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.acme.test>\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\r\n\r\n'
            "--BB\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
            "be delivered to one or more recipients.\r\n\r\n"
            f"--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.test\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n\r\n"
            "--BB\r\nContent-Type: message/rfc822\r\n\r\n").encode() + original + b"\r\n--BB--\r\n"


async def test_replies_bounces_and_opt_outs_are_matched_and_applied_once(
        tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser, smtp_sink: SmtpSink, raw_imap: RawImap) -> None:
    me = imap_mailbox.address
    tw = workspace(tmp_path, imap_mailbox, dovecot, smtp_sink.port)
    people = ["ann@acme.test", "ben@acme.test", "cat@beta.test", "dov@beta.test", "eli@gamma.test"]
    sends = await send_first_step(tw, people)
    sent_raw = {m.rcpt_tos[0]: m.data for m in smtp_sink.messages}
    ann, ben, cat, dov, eli = (sends[p] for p in people)
    back = (datetime.now(UTC) + timedelta(days=10)).date()

    imap = await raw_imap(imap_mailbox)
    assert (await imap.create("Junk")).result == "OK"
    reply = mail("Ann <ann@acme.test>", me, "Re: Hello ANN", "Yes, interested. Call me Tuesday.\r\n\r\n"
                 f"On Monday {me} wrote:\r\n> Hi ANN, intro.", "<reply-ann@acme.test>", In_Reply_To=ann.message_id or "")
    for folder, raw in (
        ("INBOX", reply),
        ("INBOX", mail("ben@acme.test", me, "Automatic reply: Hello BEN",
                       f"I am out of the office until {back:%d %B %Y} with limited access to email.",
                       "<ooo-ben@acme.test>", Auto_Submitted="auto-replied")),
        ("INBOX", dsn(me, cat.to_address, sent_raw[cat.to_address])),
        ("INBOX", mail("dov@beta.test", me, "Re: Hello DOV", "Please remove me from your mailing list.",
                       "<unsub-dov@beta.test>")),
        ("INBOX", mail("news@shop.test", me, "Black Friday deals", "Buy now.", "<news-1@shop.test>")),
        ("INBOX", sent_raw[eli.to_address]),  # a copy of our own message (e.g. Bcc to self)
        ("Junk", reply),  # the same reply filed twice
    ):
        await append(imap, folder, raw)

    summary = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS)
    box = summary.mailboxes[me]
    assert (box.status, box.fetched, box.matched, box.unmatched, box.own, box.duplicates) == ("ok", 7, 4, 1, 1, 1), box
    assert dict(box.kinds) == {"human_reply": 1, "auto_reply": 1, "hard_bounce": 1, "unsubscribe": 1, "other": 1}
    by_type = {e.type: e for e in events(tw)}
    assert set(by_type) == {ev.REPLIED, ev.AUTO_REPLIED, ev.BOUNCED, ev.UNSUBSCRIBED, ev.UNMATCHED_INBOUND}
    assert [by_type[t].send_id for t in (ev.REPLIED, ev.AUTO_REPLIED, ev.BOUNCED, ev.UNSUBSCRIBED)] == \
        [ann.id, ben.id, cat.id, dov.id]
    assert by_type[ev.REPLIED].data["text"] == "Yes, interested. Call me Tuesday."
    assert by_type[ev.UNMATCHED_INBOUND].prospect_id is None

    assert enrollment_of(tw, ann).state == EnrollmentState.stopped
    ben_enr = enrollment_of(tw, ben)
    assert ben_enr.state == EnrollmentState.paused and ben_enr.paused_until == datetime(back.year, back.month, back.day, tzinfo=UTC)
    assert enrollment_of(tw, cat).state == EnrollmentState.stopped and "5.1.1" in (enrollment_of(tw, cat).reason or "")
    assert enrollment_of(tw, dov).state == EnrollmentState.stopped
    assert set(suppressed(tw)) == {"cat@beta.test", "dov@beta.test"}
    assert enrollment_of(tw, eli).state == EnrollmentState.active

    # polling again fetches nothing; a UIDVALIDITY rescan fetches everything and records nothing new
    before = (len(events(tw)), suppressed(tw))
    again = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS)
    assert again.mailboxes[me].fetched == 0
    mark = get_watermark(tw.engine, me, "INBOX")
    assert mark is not None and mark.last_uid == 6
    set_watermark(tw.engine, me, "INBOX", Watermark(mark.uidvalidity + 1, 6), utcnow())
    rescan = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS)
    assert (rescan.mailboxes[me].fetched, rescan.mailboxes[me].duplicates, rescan.mailboxes[me].own) == (6, 5, 1)
    assert (len(events(tw)), suppressed(tw)) == before


async def test_a_missing_folder_and_a_wrong_password_are_reported(
        tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser, smtp_sink: SmtpSink) -> None:
    tw = workspace(tmp_path, imap_mailbox, dovecot, smtp_sink.port, folders=["INBOX", "Nope"])
    ok = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS)
    box = ok.mailboxes[imap_mailbox.address]
    assert box.status == "ok" and any("Nope" in f for f in box.failures)
    bad = await poll_job(tw.ctx, once=True, secrets=secrets_for("wrong"), options=OPTS)
    box = bad.mailboxes[imap_mailbox.address]
    assert box.status == "failed" and any("refused" in f for f in box.failures)
    assert "wrong" not in " ".join(box.failures)


async def test_a_real_postfix_dsn_suppresses_the_address_and_stops_the_enrollment(
        tmp_path: Path, postfix: PostfixServer, imap_mailbox: MailUser) -> None:
    tw = workspace(tmp_path, imap_mailbox, postfix.dovecot, postfix.port, folders=["INBOX"])
    nobody = f"nobody-{imap_mailbox.address.split('@')[0][2:]}@example.test"
    sends = await send_first_step(tw, [nobody])
    deadline = time.monotonic() + 10
    summary = PollSummary()
    while not any(h.event == ev.BOUNCED for _, h in summary.handled):
        assert time.monotonic() < deadline, f"no bounce handled within 10 s: {summary}"
        summary = await poll_job(tw.ctx, once=True, secrets=secrets_for(imap_mailbox.password), options=OPTS)
        await asyncio.sleep(0.05)
    (handled,) = [h for _, h in summary.handled]
    assert (handled.kind, handled.send_id) == ("hard_bounce", sends[nobody].id)
    assert handled.via in ("original_message_id", "recipient")
    assert "5.1.1" in suppressed(tw)[nobody]
    enr = enrollment_of(tw, sends[nobody])
    assert enr.state == EnrollmentState.stopped and "5.1.1" in (enr.reason or "")



async def test_daemon_mode_polls_only_mailboxes_whose_lease_it_wins(
        tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser, smtp_sink: SmtpSink, raw_imap: RawImap,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from outbound.inbox.job import daemon_poll
    from outbound.store.watermarks import acquire_poll_leases, release_poll_leases

    tw = workspace(tmp_path, imap_mailbox, dovecot, smtp_sink.port, folders=["INBOX"])
    me = imap_mailbox.address
    await append(await raw_imap(imap_mailbox), "INBOX", mail("x@else.test", me, "hi", "hello", "<d1@else.test>"))
    assert acquire_poll_leases(tw.engine, [me], "other-daemon", utcnow(), utcnow() + timedelta(minutes=5)) == [me]
    held = await poll_job(tw.ctx, once=False, secrets=secrets_for(imap_mailbox.password), options=OPTS)
    assert (held.mailboxes[me].status, held.mailboxes[me].fetched) == ("leased", 0)
    assert get_watermark(tw.engine, me, "INBOX") is None
    release_poll_leases(tw.engine, [me], "other-daemon")
    monkeypatch.setenv(PW_ENV, imap_mailbox.password)
    with caplog.at_level("INFO", logger="outbound.inbox"):
        await daemon_poll(tw.ctx)
    assert "poll: 1 fetched (other 1)" in caplog.text
    assert [e.type for e in events(tw)] == [ev.UNMATCHED_INBOUND]
    assert acquire_poll_leases(tw.engine, [me], "third", utcnow(), utcnow()) == [me], "the pass released its lease"
