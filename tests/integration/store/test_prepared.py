"""Statements handed straight to the driver store exactly what the ORM stores, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import bindparam, insert, update
from sqlmodel import select

from outbound.store.db import open_store, session_scope
from outbound.store.prepared import Prepared
from outbound.store.tables import Event

EVENTS = Event.__table__  # type: ignore[attr-defined]
INSERT = Prepared(insert(EVENTS).values(
    type=bindparam("p_type"), at=bindparam("p_at", type_=EVENTS.c.at.type), mailbox=bindparam("p_mailbox"),
    dedupe_key=bindparam("p_key"), data=bindparam("p_data", type_=EVENTS.c.data.type)))
RENAME = Prepared(update(EVENTS).where(EVENTS.c.dedupe_key == bindparam("p_key"), EVENTS.c.type == "probe")
                  .values(mailbox=bindparam("p_mailbox")))


def test_prepared_statements_store_what_the_orm_stores(database_url: str) -> None:
    engine = open_store(database_url)
    at = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))  # not UTC on purpose
    data = {"subject": "Grüße, ünïcode", "n": 3, "nested": {"ok": True}}
    with session_scope(engine) as s:
        s.add(Event(type="probe", at=at, mailbox="orm@a.test", dedupe_key="orm", data=data))
    with engine.begin() as conn:
        assert INSERT.execute(conn, {"p_type": "probe", "p_at": at, "p_mailbox": "one@a.test", "p_key": "one",
                                     "p_data": data}) == 1
        rows = [{"p_type": "probe", "p_at": at + timedelta(seconds=i), "p_mailbox": f"m{i}@a.test",
                 "p_key": f"many{i}", "p_data": {"i": i}} for i in range(3)]
        assert INSERT.executemany(conn, rows) == 3
        assert RENAME.executemany(conn, [{"p_key": "many0", "p_mailbox": "x@a.test"},
                                         {"p_key": "absent", "p_mailbox": "y@a.test"}]) == 1
    with session_scope(engine) as s:
        got = {e.dedupe_key: e for e in s.exec(select(Event).where(Event.type == "probe"))}
    assert set(got) == {"orm", "one", "many0", "many1", "many2"}
    assert got["one"].at == got["orm"].at == at and got["one"].at.tzinfo is not None
    assert got["one"].data == got["orm"].data == data
    assert got["many2"].at == at + timedelta(seconds=2) and got["many2"].data == {"i": 2}
    assert got["many0"].mailbox == "x@a.test" and got["many1"].mailbox == "m1@a.test"
    assert got["one"].at.astimezone(UTC) == datetime(2026, 11, 23, 14, 30, 15, 123456, tzinfo=UTC)


def test_rows_sharing_a_timestamp_store_each_row_its_own_values(database_url: str) -> None:
    """executemany converts a timestamp once per batch when rows share it (the usual case: one tick's
    ``now``); every row still stores its own instant, also an equal instant written in another zone."""
    engine = open_store(database_url)
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    same_instant = at.astimezone(timezone(timedelta(hours=2)))
    stamps = [at, at, same_instant, at + timedelta(microseconds=1), at]
    with engine.begin() as conn:
        assert INSERT.executemany(conn, [{"p_type": "probe", "p_at": t, "p_mailbox": None, "p_key": f"s{i}",
                                          "p_data": {"i": i}} for i, t in enumerate(stamps)]) == 5
    with session_scope(engine) as s:
        got = {e.dedupe_key: e for e in s.exec(select(Event).where(Event.type == "probe"))}
    assert [got[f"s{i}"].at for i in range(5)] == stamps
    assert [got[f"s{i}"].data for i in range(5)] == [{"i": i} for i in range(5)]
