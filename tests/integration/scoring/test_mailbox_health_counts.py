"""The health pass's per-mailbox counts, computed in SQL, on SQLite and PostgreSQL: a send counts once however
many sent or bounced events it has, events without a mailbox are tied to one through their send, the window's
edges, auth failures told apart by their data, and each mailbox's own ``ignore_before``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.config import HealthSettings
from outbound.core import events as ev
from outbound.scoring.health import mailbox_health_pass
from outbound.store.db import open_store, session_scope
from outbound.store.mailbox_health import evidence
from outbound.store.scoring_tables import MailboxHealth
from outbound.store.tables import Enrollment, MailboxState, Send
from tests.integration.scoring.helpers import add_events, add_people, sequence

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_store(database_url)
    with session_scope(engine) as s:
        for a in ("a@one.test", "b@one.test", "c@two.test"):
            s.add(MailboxState(address=a, domain=a.split("@")[1]))
    yield engine
    engine.dispose()


def _sends(engine: Engine, mailboxes: list[str]) -> list[int]:
    """One send per mailbox given, each of its own prospect."""
    add_people(engine, [f"p{i}@x.test" for i in range(len(mailboxes))], seq=sequence("seq"), now=NOW - WEEK * 2)
    with session_scope(engine) as s:
        enrollments = list(s.exec(select(Enrollment).order_by(col(Enrollment.id))))
        sends = [Send(enrollment_id=int(e.id or 0), prospect_id=e.prospect_id, sequence_name="seq", step_id="intro", step_index=0,
                      mailbox=m, to_address="x", to_domain="x", state="sent", claimed_at=NOW - WEEK)
                 for e, m in zip(enrollments, mailboxes, strict=True)]
        s.add_all(sends)
        s.flush()
        return [int(x.id) for x in sends if x.id is not None]


def _counts(engine: Engine) -> dict[str, tuple[int, int, int, int | None, int]]:
    with session_scope(engine) as s:
        return {a: (e.attempts, e.bounced, e.complaints, e.last_complaint, e.auth_failures)
                for a, e in evidence(s, NOW, HealthSettings().bounce_window).items()}


def _event(kind: str, ago: timedelta, mailbox: str | None, send_id: int | None = None,
           data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "at": NOW - ago, "mailbox": mailbox, "send_id": send_id, "data": data or {}}


def test_counts_per_mailbox(engine: Engine) -> None:
    s1, s2, s3, s4, s5 = _sends(engine, ["a@one.test"] * 4 + ["b@one.test"])
    hour = timedelta(hours=1)
    add_events(engine, [
        _event(ev.SENT, hour * 5, "a@one.test", s1),
        _event(ev.BOUNCED, hour * 4, "a@one.test", s1),      # a DSN for s1 ...
        _event(ev.BOUNCED, hour * 3, "a@one.test", s1),      # ... and a second one: one bounce, one attempt
        _event(ev.BOUNCED, hour * 5, "a@one.test", s2),      # refused at RCPT: no sent event, still an attempt
        _event(ev.SENT, hour * 5, None, s3),                 # no mailbox: tied to a@one.test through its send
        _event(ev.SENT, hour * 5, "", s4),                   # an empty mailbox is no mailbox either
        _event(ev.BOUNCED, hour, "a@one.test"),              # two bounces tied to no send: each counts once
        _event(ev.BOUNCED, hour, "a@one.test"),
        _event(ev.SENT, timedelta(0), "a@one.test"),         # the window includes now ...
        _event(ev.SENT, WEEK, "a@one.test"),                 # ... but not its start
        _event(ev.SENT, -timedelta(minutes=1), "a@one.test"),  # nor the future
        _event(ev.COMPLAINED, hour * 2, "a@one.test"),
        _event(ev.SEND_FAILED, hour, "a@one.test", data={"outcome": "auth_failure"}),
        _event(ev.MAILBOX_PAUSED, hour, "a@one.test", data={"reason": "auth failure: 535 5.7.8"}),
        _event(ev.MAILBOX_PAUSED, hour, "a@one.test", data={"reason": "Auth failure, by hand"}),
        _event(ev.MAILBOX_PAUSED, hour, "a@one.test", data={"reason": "bounce rate 3.0%"}),
        _event(ev.SEND_FAILED, hour, "a@one.test", data={"outcome": "timeout"}),
        _event(ev.REPLIED, hour, "a@one.test", s1),          # not evidence
        _event(ev.SENT, hour * 30, "b@one.test", s5),
        _event(ev.BOUNCED, hour * 2, None, s5),
        _event(ev.SENT, hour, "c@two.test"),
    ])
    last_complaint = add_events(engine, [_event(ev.COMPLAINED, hour * 3, "a@one.test")])[0]  # recorded last
    with session_scope(engine) as s:  # paused, as its pause events say (active again would forgive them)
        box = s.get(MailboxState, "a@one.test")
        assert box is not None
        box.state = "paused"
    assert _counts(engine) == {
        "a@one.test": (7, 4, 2, last_complaint, 2),
        "b@one.test": (1, 1, 0, None, 0),
        "c@two.test": (1, 0, 0, None, 0),
    }
    # a resume of b@one.test a day ago forgives its send; a@one.test keeps all of its evidence
    with session_scope(engine) as s:
        s.add(MailboxHealth(address="b@one.test", ignore_before=NOW - timedelta(days=1)))
        s.add(MailboxHealth(address="a@one.test"))
    counts = _counts(engine)
    assert counts["b@one.test"] == (1, 1, 0, None, 0)  # the DSN came after the resume: it still counts
    with session_scope(engine) as s:
        health = s.get(MailboxHealth, "b@one.test")
        assert health is not None
        health.ignore_before = NOW - hour
    counts = _counts(engine)
    assert counts["a@one.test"] == (7, 4, 2, last_complaint, 2) and "b@one.test" not in counts


def test_bounce_rate_uses_each_mailboxs_ignore_before_and_counts_a_bounce_once(engine: Engine) -> None:
    sends = _sends(engine, [m for m in ("a@one.test", "b@one.test", "c@two.test") for _ in range(20)])
    rows = [_event(ev.SENT, timedelta(days=2), m, sid)
            for m, sid in zip([m for m in ("a@one.test", "b@one.test", "c@two.test") for _ in range(20)], sends, strict=True)]
    a, b, c = sends[0:20], sends[20:40], sends[40:60]
    rows += [_event(ev.BOUNCED, timedelta(days=1), "a@one.test", sid) for sid in a[:2]]
    rows += [_event(ev.BOUNCED, timedelta(days=1), "b@one.test", sid) for sid in b[:2]]
    rows += [_event(ev.BOUNCED, timedelta(hours=h), "c@two.test", c[0]) for h in (3, 2)]  # two DSNs for one send
    add_events(engine, rows)
    with session_scope(engine) as s:  # b@one.test was resumed after its bounces: they are forgiven
        s.add(MailboxHealth(address="b@one.test", ignore_before=NOW - timedelta(hours=12)))
    settings = HealthSettings(max_bounce_rate=0.06)  # 1 of 20 (5%) stays under it, 2 of 20 (10%) does not
    decisions = mailbox_health_pass(engine, NOW, settings)
    assert [(d.address, d.action, d.kind) for d in decisions] == [("a@one.test", "pause", "bounce_rate")]
    assert decisions[0].reason == "bounce rate 10.0% (2 of 20 sends in the last 7d) is above 6.0%"
    with session_scope(engine) as s:
        states = {m.address: m.state for m in s.exec(select(MailboxState))}
    assert states == {"a@one.test": "paused", "b@one.test": "active", "c@two.test": "active"}
