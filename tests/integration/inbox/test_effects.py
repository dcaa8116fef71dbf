"""Inbound effects on the real store (SQLite and PostgreSQL): each kind does what it should, once,
even when the same message is handled again from another folder or after a UIDVALIDITY change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.inbox.handling import Handled, handle_inbound
from outbound.inbox.match import Inbound
from outbound.inbox.result import Classification
from outbound.rulebook.facts import DEFAULT_STOP_ON, Policy
from outbound.store.db import open_store, session_scope
from outbound.store.enrollments import resume_paused
from outbound.store.tables import Enrollment, EnrollmentState, Event, Prospect, Send, SendState, Suppression

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
MAILBOX = "alex@sender.test"


@dataclass
class World:
    engine: Engine
    sends: dict[str, Send]  # "bob/seq" -> send (message id <bob.seq@sender.test>)

    def send(self, key: str) -> Send:
        return self.sends[key]

    def enrollment(self, key: str) -> Enrollment:
        with session_scope(self.engine) as s:
            enr = s.get(Enrollment, self.sends[key].enrollment_id)
            assert enr is not None
            return enr

    def send_state(self, key: str) -> str:
        with session_scope(self.engine) as s:
            row = s.get(Send, self.sends[key].id)
            assert row is not None
            return row.state

    def suppressed(self) -> dict[str, str]:
        with session_scope(self.engine) as s:
            return {r.value: r.reason for r in s.exec(select(Suppression))}

    def events(self, kind: str | None = None) -> list[Event]:
        with session_scope(self.engine) as s:
            q = select(Event).order_by(col(Event.id))
            return list(s.exec(q if kind is None else q.where(col(Event.type) == kind)))


def make_world(url: str) -> World:
    """bob and carol at acme.test (one account), dan at gmail; bob is in two sequences."""
    engine = open_store(url)
    sends: dict[str, Send] = {}
    with session_scope(engine) as s:
        people = {}
        for name, domain in (("bob", "acme.test"), ("carol", "acme.test"), ("dan", "gmail.com")):
            p = Prospect(email=f"{name}@{domain}", first_name=name, company_domain=None if domain == "gmail.com" else domain,
                         created_at=NOW, updated_at=NOW)
            s.add(p)
            people[name] = p
        s.flush()
        for who, seq in (("bob", "seq"), ("bob", "other"), ("carol", "seq"), ("dan", "seq")):
            p = people[who]
            assert p.id is not None
            enr = Enrollment(prospect_id=p.id, sequence_name=seq, state=EnrollmentState.active, next_step=1,
                             created_at=NOW, updated_at=NOW)
            s.add(enr)
            s.flush()
            assert enr.id is not None
            send = Send(enrollment_id=enr.id, prospect_id=p.id, sequence_name=seq, step_id="intro", step_index=0,
                        mailbox=MAILBOX, to_address=p.email, to_domain=p.email.split("@")[1], state=SendState.sent,
                        message_id=f"<{who}.{seq}@sender.test>", subject="Hello", claimed_at=NOW - timedelta(days=1),
                        sent_at=NOW - timedelta(days=1))
            s.add(send)
            sends[f"{who}/{seq}"] = send
    return World(engine, sends)


def inbound(kind: str, *, mid: str, sender: str = "bob@acme.test", folder: str = "INBOX", uid: int = 1,
            **fields: object) -> Inbound:
    return Inbound(MAILBOX, folder, 11, uid, mid, sender, "Re: Hello",
                   Classification(kind=kind, **fields))  # type: ignore[arg-type]


def handle(w: World, msg: Inbound, rules: Policy | None = None, now: datetime = NOW) -> Handled:
    return handle_inbound(w.engine, msg, lambda _seq: rules or Policy(), now)


def twice(w: World, msg: Inbound, rules: Policy | None = None) -> Handled:
    """Handle, then handle the same message again as if seen in Junk after a UIDVALIDITY change."""
    first = handle(w, msg, rules)
    before = (len(w.events()), w.suppressed())
    again = handle(w, replace(msg, folder="Junk", uidvalidity=99, uid=msg.uid + 40), rules, NOW + timedelta(hours=1))
    assert again.duplicate and again.event == first.event
    assert (len(w.events()), w.suppressed()) == before
    return first


def test_hard_bounce_suppresses_and_stops_every_enrollment_of_the_prospect(database_url: str) -> None:
    w = make_world(database_url)
    msg = inbound("hard_bounce", mid="<dsn1@mx.test>", sender="mailer-daemon@mx.test", status="5.1.1",
                  reason="user_unknown", recipients=("bob@acme.test",), original_message_id="<bob.seq@sender.test>")
    done = twice(w, msg)
    assert (done.event, done.via, done.send_id) == (ev.BOUNCED, "original_message_id", w.send("bob/seq").id)
    assert "5.1.1" in w.suppressed()["bob@acme.test"]
    for key in ("bob/seq", "bob/other"):
        enr = w.enrollment(key)
        assert enr.state == EnrollmentState.stopped and "5.1.1" in (enr.reason or "")
    assert w.enrollment("carol/seq").state == EnrollmentState.active
    assert w.send_state("bob/seq") == SendState.bounced
    (event,) = w.events(ev.BOUNCED)
    assert event.data["hard"] is True and event.data["status"] == "5.1.1" and event.prospect_id == w.send("bob/seq").prospect_id


def test_soft_bounces_suppress_only_at_the_limit(database_url: str) -> None:
    w = make_world(database_url)
    rules = Policy(stop_on=frozenset({"reply"}), soft_bounce_limit=2)
    first = twice(w, inbound("soft_bounce", mid="<dsn-a@mx.test>", sender="mailer-daemon@mx.test", status="4.2.2",
                             reason="mailbox_full", recipients=("bob@acme.test",),
                             original_message_id="<bob.seq@sender.test>"), rules)
    assert first.event == ev.BOUNCED and "bob@acme.test" not in w.suppressed()
    assert w.enrollment("bob/seq").state == EnrollmentState.active, "stop_on without bounce: the sequence goes on"
    handle(w, inbound("soft_bounce", mid="<dsn-b@mx.test>", sender="mailer-daemon@mx.test", status="4.2.2",
                      reason="mailbox_full", recipients=("bob@acme.test",),
                      original_message_id="<bob.other@sender.test>"), rules)
    assert "repeated soft bounce" in w.suppressed()["bob@acme.test"]
    assert [e.data["hard"] for e in w.events(ev.BOUNCED)] == [False, False]


def test_soft_bounce_stops_the_enrollment_when_the_sequence_stops_on_bounce(database_url: str) -> None:
    w = make_world(database_url)
    handle(w, inbound("soft_bounce", mid="<dsn-c@mx.test>", sender="mailer-daemon@mx.test", status="4.4.7",
                      reason="expired", recipients=("dan@gmail.com",)), Policy(soft_bounce_limit=3))
    enr = w.enrollment("dan/seq")
    assert enr.state == EnrollmentState.stopped and "4.4.7" in (enr.reason or "")
    assert "dan@gmail.com" not in w.suppressed()


def test_auto_reply_pauses_until_the_return_date_then_resumes(database_url: str) -> None:
    w = make_world(database_url)
    back = dt.date(2026, 12, 1)
    done = twice(w, inbound("auto_reply", mid="<ooo1@acme.test>", return_date=back, reason="vacation"))
    assert (done.event, done.via) == (ev.AUTO_REPLIED, "sender")
    enr = w.enrollment("bob/other")  # the sender's most recent send is bob/other
    assert enr.state == EnrollmentState.paused and enr.paused_until == datetime(2026, 12, 1, tzinfo=UTC)
    assert "2026-12-01" in (enr.reason or "")
    assert w.events(ev.AUTO_REPLIED)[0].data["return_date"] == "2026-12-01"
    assert resume_paused(w.engine, datetime(2026, 11, 30, tzinfo=UTC)) == 0
    assert resume_paused(w.engine, datetime(2026, 12, 1, 0, 1, tzinfo=UTC)) == 1
    assert w.enrollment("bob/other").state == EnrollmentState.active


def test_auto_reply_without_a_date_pauses_for_the_default_or_stops_when_asked(database_url: str) -> None:
    w = make_world(database_url)
    handle(w, inbound("auto_reply", mid="<ooo2@gmail.com>", sender="dan@gmail.com", in_reply_to="<dan.seq@sender.test>"),
           Policy(auto_reply_pause=timedelta(days=4)))
    assert w.enrollment("dan/seq").paused_until == NOW + timedelta(days=4)
    handle(w, inbound("auto_reply", mid="<ooo3@acme.test>", sender="carol@acme.test",
                      in_reply_to="<carol.seq@sender.test>"), Policy(stop_on=DEFAULT_STOP_ON | {"auto_reply"}))
    carol = w.enrollment("carol/seq")
    assert carol.state == EnrollmentState.stopped and "auto_reply" in (carol.reason or "")


@pytest.mark.parametrize("kind,event", [("unsubscribe", ev.UNSUBSCRIBED), ("complaint", ev.COMPLAINED)])
def test_opt_outs_suppress_and_stop_every_enrollment(database_url: str, kind: str, event: str) -> None:
    w = make_world(database_url)
    fields: dict[str, Any] = {"in_reply_to": "<bob.seq@sender.test>"} if kind == "unsubscribe" else {
        "original_message_id": "<bob.seq@sender.test>", "reason": "feedback"}
    sender = "bob@acme.test" if kind == "unsubscribe" else "fbl@isp.test"
    done = twice(w, inbound(kind, mid=f"<{kind}@x.test>", sender=sender, **fields))
    assert done.event == event
    assert set(w.suppressed()) == {"bob@acme.test"}, "the feedback loop's own address is not suppressed"
    assert {w.enrollment(k).state for k in ("bob/seq", "bob/other")} == {EnrollmentState.stopped}
    assert w.enrollment("carol/seq").state == EnrollmentState.active


@pytest.mark.parametrize("account_wide", [False, True])
def test_human_reply_records_text_and_stops(database_url: str, account_wide: bool) -> None:
    w = make_world(database_url)
    rules = Policy(stop_account_on_reply=account_wide)
    done = twice(w, inbound("human_reply", mid="<r1@acme.test>", in_reply_to="<bob.seq@sender.test>",
                            reply_text="Sounds good, call me Tuesday."), rules)
    assert (done.event, done.via) == (ev.REPLIED, "in_reply_to")
    (event,) = w.events(ev.REPLIED)
    assert event.data["text"] == "Sounds good, call me Tuesday."
    assert (event.data["subject"], event.data["sequence"], event.data["step"]) == ("Re: Hello", "seq", "intro")
    assert event.enrollment_id == w.send("bob/seq").enrollment_id
    assert w.enrollment("bob/seq").state == EnrollmentState.stopped
    carol = w.enrollment("carol/seq")
    assert carol.state == (EnrollmentState.stopped if account_wide else EnrollmentState.active)
    if account_wide:
        assert "acme.test" in (carol.reason or "")
    assert w.enrollment("dan/seq").state == EnrollmentState.active
    assert w.suppressed() == {}


def test_delivery_report_is_only_an_event(database_url: str) -> None:
    w = make_world(database_url)
    done = twice(w, inbound("delivery_report", mid="<delay@mx.test>", sender="mailer-daemon@mx.test", reason="delayed",
                            status="4.4.1", recipients=("dan@gmail.com",), original_message_id="<dan.seq@sender.test>"))
    assert done.event == ev.DELIVERY_REPORT and done.send_id == w.send("dan/seq").id
    assert w.enrollment("dan/seq").state == EnrollmentState.active and w.send_state("dan/seq") == SendState.sent


def test_unmatched_mail_is_kept_without_a_prospect(database_url: str) -> None:
    w = make_world(database_url)
    done = twice(w, inbound("human_reply", mid="<stranger@else.test>", sender="eve@else.test",
                            in_reply_to="<not-ours@else.test>"))
    assert (done.event, done.via, done.send_id) == (ev.UNMATCHED_INBOUND, "none", None)
    (event,) = w.events()
    assert event.prospect_id is None and event.data["classified_as"] == "human_reply"
    assert "<not-ours@else.test>" in event.data["match"] or "eve@else.test" in event.data["match"]
    # an unmatched unsubscribe is still honoured
    handle(w, inbound("unsubscribe", mid="<stop@else.test>", sender="eve@else.test"))
    assert "eve@else.test" in w.suppressed()


def test_own_messages_record_nothing(database_url: str) -> None:
    w = make_world(database_url)
    assert handle(w, inbound("human_reply", mid="<x@sender.test>", sender=MAILBOX, in_reply_to="<bob.seq@sender.test>")).via == "own"
    copy = handle(w, inbound("other", mid="<bob.seq@sender.test>", sender="bob@acme.test"))
    assert copy.via == "own" and copy.send_id == w.send("bob/seq").id
    assert w.events() == [] and w.enrollment("bob/seq").state == EnrollmentState.active


# ---------------------------------------------------------------- poll state (watermarks, leases)

async def test_watermarks_and_poll_leases(database_url: str) -> None:
    from outbound.core.watermark import Watermark
    from outbound.store.tables import MailboxState
    from outbound.store.watermarks import DbWatermarkStore, acquire_poll_leases, release_poll_leases

    w = make_world(database_url)
    store = DbWatermarkStore(w.engine, clock=lambda: NOW)
    assert await store.get(MAILBOX, "INBOX") is None
    await store.set(MAILBOX, "INBOX", Watermark(5, 10))
    await store.set(MAILBOX, "INBOX", Watermark(5, 12))
    await store.set(MAILBOX, "Junk", Watermark(6, 1))
    assert await store.get(MAILBOX, "INBOX") == Watermark(5, 12)
    assert await store.get(MAILBOX, "Junk") == Watermark(6, 1)

    with session_scope(w.engine) as s:
        s.add(MailboxState(address=MAILBOX, domain="sender.test"))
    later = NOW + timedelta(minutes=5)
    assert acquire_poll_leases(w.engine, [MAILBOX, "new@sender.test"], "w1", NOW, later) == [MAILBOX, "new@sender.test"]
    assert acquire_poll_leases(w.engine, [MAILBOX], "w2", NOW, later) == [], "held by w1"
    assert acquire_poll_leases(w.engine, [MAILBOX], "w2", later + timedelta(seconds=1), later + timedelta(minutes=5)) == [MAILBOX], "expired"
    release_poll_leases(w.engine, [MAILBOX], "w1")  # not w1's any more: a no-op
    assert acquire_poll_leases(w.engine, [MAILBOX], "w1", NOW, later) == []
    release_poll_leases(w.engine, [MAILBOX], "w2")
    assert acquire_poll_leases(w.engine, [MAILBOX], "w1", NOW, later) == [MAILBOX]
