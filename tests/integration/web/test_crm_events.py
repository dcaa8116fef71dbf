"""``POST /events``: signed CRM signals, recorded once by their id, with the workspace's own types."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.prospects.values import ProspectData
from outbound.scoring.outcomes_in import Accepted
from outbound.scoring.webhooks import sign
from outbound.store.db import session_scope
from outbound.store.prospects import upsert_prospects
from outbound.store.tables import Event
from outbound.web.app import create_app
from outbound.web.crm_events import EventsIntake
from tests.integration.web.harness import SECRET

KEY = b"crm-events-key"


async def test_signed_events_are_recorded_once_by_id_and_forged_ones_never(sqlite_store: Engine) -> None:
    upsert_prospects(sqlite_store, [ProspectData(email="ann@acme.test", first_name="Ann")])
    custom = {"job_change": ev.custom_type("job_change", ("company",))}
    intake = EventsIntake(KEY, Accepted.of(ev.with_custom(custom), custom))
    app = create_app(sqlite_store, SECRET, events=intake)
    body = json.dumps([{"id": "crm-1", "email": "ann@acme.test", "type": "job_change", "at": "2026-12-01",
                        "company": "Newco"},
                       {"id": "crm-2", "email": "ann@acme.test", "type": "sql", "at": "2026-12-02"},
                       {"email": "ann@acme.test", "type": "mql"}]).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        forged = await client.post("/events", content=body, headers={"X-Outbound-Signature": sign(b"wrong", body)})
        assert forged.status_code == 401
        first = await client.post("/events", content=body, headers={"X-Outbound-Signature": sign(KEY, body)})
        again = await client.post("/events", content=body, headers={"X-Outbound-Signature": sign(KEY, body)})
        bad = await client.post("/events", content=b"{nope", headers={"X-Outbound-Signature": sign(KEY, b"{nope")})
    assert first.status_code == 200 and first.json()["recorded"] == 2
    assert first.json()["problems"] == [{"index": 2, "error": "id is missing (each event needs the sender's own id, "
                                                              "at most 200 characters)"}]
    assert again.json()["recorded"] == 0 and again.json()["duplicates"] == 2
    assert bad.status_code == 400
    with session_scope(sqlite_store) as s:
        rows = [(e.type, e.dedupe_key, e.data.get("company")) for e in
                s.exec(select(Event).where(col(Event.type).in_(("job_change", "sql", "mql"))).order_by(col(Event.id)))]
    assert rows == [("job_change", "api:id:crm-1", "Newco"), ("sql", "api:id:crm-2", None)]


async def test_without_a_key_there_is_no_endpoint(sqlite_store: Engine) -> None:
    app = create_app(sqlite_store, SECRET)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.post("/events", content=b"[]", headers={"X-Outbound-Signature": sign(KEY, b"[]")})
    assert answer.status_code == 404
