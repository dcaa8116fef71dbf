"""Storage on both SQLite and a real PostgreSQL (the ``database_url`` fixture runs each test twice)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from outbound.prospects.values import ProspectData
from outbound.spec.sequence import Sequence
from outbound.store.db import current_revision, open_store, session_scope, utcnow
from outbound.store.enrollments import enroll, record_version
from outbound.store.operator import suppress_by_hand
from outbound.store.prospects import (
    list_suppressions,
    prospect_ids,
    suppressed_among,
    suppressed_reason,
    unsuppress,
    upsert_prospects,
)
from outbound.store.tables import Account, Enrollment, EnrollmentState, Prospect

SEQ = Sequence.model_validate({
    "name": "s1", "senders": {"domains": ["a.com"]}, "required_fields": ["first_name"],
    "steps": [{"id": "one", "subject": "hi {{ first_name }}", "body": "b"}],
})


def test_migrations_create_schema_and_are_idempotent(database_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from outbound.store.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    engine = open_store(database_url)
    assert current_revision(engine) == head and head is not None
    tables = set(inspect(engine).get_table_names())
    assert {"prospects", "enrollments", "sends", "events", "mailboxes", "suppressions", "scores"} <= tables
    again = open_store(database_url)
    assert current_revision(again) == head


def test_upsert_inserts_updates_and_leaves_identical_rows(database_url: str) -> None:
    engine = open_store(database_url)
    batch = [ProspectData(email="ann@acme.com", first_name="Ann", company="Acme", company_domain="acme.com",
                          fields={"pain_point": "churn"}),
             ProspectData(email="bob@beta.io", first_name="Bob")]
    first = upsert_prospects(engine, batch)
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = upsert_prospects(engine, batch)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    changed = upsert_prospects(engine, [ProspectData(email="ann@acme.com", title="CEO", fields={"team": "5"})])
    assert (changed.inserted, changed.updated) == (0, 1)
    with session_scope(engine) as s:
        ann = s.scalars(select(Prospect).where(Prospect.email == "ann@acme.com")).one()
        assert (ann.first_name, ann.title) == ("Ann", "CEO")  # a missing value never erases a stored one
        assert ann.fields == {"pain_point": "churn", "team": "5"}
        assert s.scalars(select(Account.domain)).all() == ["acme.com"]


def test_suppression_by_address_and_domain(database_url: str) -> None:
    engine = open_store(database_url)
    assert suppress_by_hand(engine, ["Bob@Beta.io", "@spam.example", "bob@beta.io"], "test", utcnow()).added == 2
    assert suppress_by_hand(engine, ["@SPAM.example"], "again", utcnow()).added == 0
    with session_scope(engine) as s:
        assert "bob@beta.io" in (suppressed_reason(s, "BOB@beta.io") or "")
        assert "@spam.example" in (suppressed_reason(s, "anyone@spam.example") or "")
        assert suppressed_reason(s, "ann@acme.com") is None
        assert set(suppressed_among(s, ["bob@beta.io", "x@spam.example", "ann@acme.com"])) == {
            "bob@beta.io", "x@spam.example"}
    assert {r.value for r in list_suppressions(engine)} == {"bob@beta.io", "@spam.example"}
    assert unsuppress(engine, "bob@beta.io") and not unsuppress(engine, "bob@beta.io")


def test_enroll_skips_suppressed_blocks_missing_fields_and_is_idempotent(database_url: str) -> None:
    engine = open_store(database_url)
    upsert_prospects(engine, [
        ProspectData(email="ann@acme.com", first_name="Ann", source="list-a"),
        ProspectData(email="nofirst@acme.com", source="list-a"),
        ProspectData(email="x@spam.example", first_name="X", source="list-a"),
        ProspectData(email="other@acme.com", first_name="O", source="list-b"),
    ])
    suppress_by_hand(engine, ["@spam.example"], "complaint", utcnow())
    ids = prospect_ids(engine, source="list-a")
    assert len(ids) == 3
    result = enroll(engine, SEQ, ids)
    assert (result.enrolled, result.blocked, result.already) == (1, 1, 0)
    assert result.skipped == [("x@spam.example", "suppressed (@spam.example): complaint")]
    again = enroll(engine, SEQ, ids)
    assert (again.enrolled, again.blocked, again.already) == (0, 0, 2)
    with session_scope(engine) as s:
        rows = {r.state: r for r in s.scalars(select(Enrollment))}
        assert set(rows) == {EnrollmentState.active, EnrollmentState.blocked}
        assert rows[EnrollmentState.blocked].reason == "missing required field(s): first_name"


def test_sequence_versions_follow_content(database_url: str) -> None:
    engine = open_store(database_url)
    assert record_version(engine, SEQ) == 1
    assert record_version(engine, SEQ) == 1
    changed = SEQ.model_copy(update={"description": "new"})
    assert record_version(engine, changed) == 2


@pytest.mark.parametrize("email", ["Ann@Acme.com", "ANN@ACME.COM"])
def test_prospect_lookup_is_case_insensitive(database_url: str, email: str) -> None:
    engine = open_store(database_url)
    upsert_prospects(engine, [ProspectData(email="ann@acme.com", first_name="Ann")])
    assert len(prospect_ids(engine, emails=[email])) == 1


def test_suppressing_by_hand_stops_the_enrollments_it_reaches(database_url: str) -> None:
    """An address, or every address of a @domain (its '_' matched as itself, not as a wildcard)."""
    engine = open_store(database_url)
    upsert_prospects(engine, [ProspectData(email=e, first_name="X") for e in
                              ("a@x_y.com", "b@x_y.com", "c@xzy.com", "d@k.com", "e@k.com")])
    assert enroll(engine, SEQ, prospect_ids(engine)).enrolled == 5
    done = suppress_by_hand(engine, ["@X_Y.com", "d@k.com"], "do not contact", utcnow())
    assert (done.added, done.stopped) == (2, 3)
    with session_scope(engine) as s:
        rows = s.execute(select(Prospect.email, Enrollment.state, Enrollment.reason)
                         .join(Enrollment, Enrollment.prospect_id == Prospect.id)).all()
    states = {email: (state, reason) for email, state, reason in rows}
    assert states["a@x_y.com"] == states["b@x_y.com"] == states["d@k.com"] == (
        EnrollmentState.stopped, "suppressed by hand: do not contact")
    assert states["c@xzy.com"][0] == states["e@k.com"][0] == EnrollmentState.active
    assert suppress_by_hand(engine, ["d@k.com"], "again", utcnow()).stopped == 0
