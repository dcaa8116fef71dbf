"""The daemon's re-check: enrolled addresses not yet mailed whose result is older than [verify] max_age
(or unknown) are verified again through [health] nameserver; fresh, never-verified and started ones are not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from outbound.app.daemon import daemon_jobs
from outbound.prospects.values import ProspectData
from outbound.store.db import utcnow
from outbound.store.enrollments import enroll
from outbound.store.prospects import prospect_ids, table_of, upsert_prospects
from outbound.store.tables import Enrollment, Prospect
from outbound.store.verification import save_results
from tests.fixtures.dns_server import DnsServer, DnsServers
from tests.integration.engine.workspace import build, domain, three_step_sequence
from tests.integration.verify.zones import verify_nsd


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    with verify_nsd(dns_servers) as srv:
        yield srv


async def test_stale_results_are_verified_again_before_the_first_touch(server: DnsServer, tmp_path: Path) -> None:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence()], [domain("d0.test", 2525, 1)],
               settings=f'[health]\nnameserver = "{server.address}"\n[verify]\nmax_age = "30d"\ndns_timeout = "0.3s"\n')
    emails = ["stale@nullmx.example", "fresh@nullmx.example", "never@nullmx.example", "started@nullmx.example",
              "unknown@mx.example", "idle@nullmx.example"]
    upsert_prospects(tw.engine, [ProspectData(email=e, first_name="X") for e in emails])
    ids = dict(zip(emails, prospect_ids(tw.engine, emails=emails), strict=True))
    enroll(tw.engine, tw.ctx.workspace.sequences["seq"].sequence, [ids[e] for e in emails[:5]])  # idle@ is not enrolled
    now = utcnow()
    old = now - timedelta(days=40)
    save_results(tw.engine, [(ids[e], "valid", []) for e in ("stale@nullmx.example", "started@nullmx.example",
                                                               "idle@nullmx.example")], old)
    save_results(tw.engine, [(ids["fresh@nullmx.example"], "valid", [])], now - timedelta(days=1))
    save_results(tw.engine, [(ids["unknown@mx.example"], "unknown", ["dns-failed: t"])], now - timedelta(hours=1))
    with tw.engine.begin() as conn:
        e = table_of(Enrollment)
        conn.execute(update(e).where(e.c.prospect_id == ids["started@nullmx.example"]).values(started_at=old,
                                                                                              last_sent_at=old))
    job, _every = daemon_jobs(tw.ctx)["verify"]
    await job()
    p = table_of(Prospect)
    with tw.engine.connect() as conn:
        status = dict(conn.execute(p.select().with_only_columns(p.c.email, p.c.verify_status)).all())
    assert status == {"stale@nullmx.example": "invalid", "fresh@nullmx.example": "valid", "never@nullmx.example": None,
                      "started@nullmx.example": "valid", "unknown@mx.example": "valid", "idle@nullmx.example": "valid"}
