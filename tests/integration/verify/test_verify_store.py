"""verify_prospects: results saved batch by batch, a domain asked once across batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from outbound.app.verifying import verify_prospects
from outbound.config import Settings
from outbound.prospects.values import ProspectData
from outbound.store.db import open_store, utcnow
from outbound.store.prospects import upsert_prospects
from outbound.store.verification import to_verify
from tests.fixtures.dns_server import DnsServer, DnsServers
from tests.integration.verify.zones import verify_nsd


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    with verify_nsd(dns_servers) as srv:
        yield srv


async def test_batches_share_one_lookup_and_each_is_saved(server: DnsServer, tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    emails = [f"p{i}@mx.example" for i in range(3)] + [f"p{i}@nullmx.example" for i in range(2)] + ["p@aonly.example"]
    upsert_prospects(engine, [ProspectData(email=e) for e in emails])
    settings = Settings.model_validate({"health": {"nameserver": server.address}, "verify": {"dns_timeout": "0.3s"}})
    now = utcnow()
    targets = to_verify(engine, now=now, older_than=None)
    assert len(targets) == 6
    report = await verify_prospects(engine, settings, targets, now, batch=2)
    assert report.counts == {"valid": 4, "invalid": 2} and report.domains == 3
    assert report.queries == 1 + 1 + 3  # mx.example and nullmx.example in two batches each, still one MX query each
    assert to_verify(engine, now=now, older_than=None) == []  # every batch was saved
