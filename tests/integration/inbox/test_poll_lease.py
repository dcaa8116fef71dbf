"""The daemon's IMAP poll lease (``[daemon] poll_lease``): a pass takes each mailbox's lease for
exactly that long, renews it while the pass runs (so a pass longer than the lease keeps its
mailboxes), and gives it back at the end, with no renewal landing after the release."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from outbound.inbox import job
from outbound.inbox.job import poll_job
from outbound.inbox.poller import PollerOptions, PollReport
from outbound.spec.domain import Mailbox
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import MailboxState
from outbound.store.watermarks import acquire_poll_leases
from tests.fixtures.common import free_port
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.integration.engine.workspace import BuiltWorkspace, build, three_step_sequence
from tests.integration.inbox.conftest import PW_ENV

OPTS = PollerOptions(command_timeout=5, mailbox_timeout=20)


def _workspace(tmp_path: Path, url: str, addresses: list[str], host: str, port: int, poll_lease: str) -> BuiltWorkspace:
    dom: dict[str, Any] = {
        "domain": "example.test", "tracking_host": "t.example.test",
        "smtp": {"host": "127.0.0.1", "port": free_port(), "tls": "none"},
        "imap": {"host": host, "port": port, "tls": "none", "password_env": PW_ENV, "folders": ["INBOX"]},
        "mailboxes": [{"address": a, "daily_cap": 50, "gap": {"min": 0, "max": 0}} for a in addresses],
    }
    return build(tmp_path / "ws", url, [three_step_sequence(domains=["example.test"])], [dom],
                 settings=f'[daemon]\npoll_lease = "{poll_lease}"\n')


def _lease(tw: BuiltWorkspace, address: str) -> tuple[str | None, datetime | None]:
    with session_scope(tw.engine) as s:
        row = s.get(MailboxState, address)
        assert row is not None
        return row.lease_owner, row.lease_until


async def test_a_poll_pass_leases_each_mailbox_for_the_configured_poll_lease(
        tmp_path: Path, dovecot: DovecotServer, imap_mailbox: MailUser) -> None:
    me = imap_mailbox.address
    tw = _workspace(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", [me], dovecot.host, dovecot.port, "90s")
    assert tw.ctx.settings.daemon.poll_lease == timedelta(seconds=90)
    now = datetime.now(UTC).replace(microsecond=0)
    seen: list[tuple[str | None, datetime | None]] = []

    def secrets(name: str) -> str | None:  # asked at login: inside the pass, while the lease is held
        seen.append(_lease(tw, me))
        return imap_mailbox.password if name == PW_ENV else None

    summary = await poll_job(tw.ctx, once=False, secrets=secrets, options=OPTS, clock=lambda: now)
    assert summary.mailboxes[me].status == "ok", summary.mailboxes[me]
    assert seen, "the pass never logged in"
    assert seen[0] == (tw.ctx.worker, now + timedelta(seconds=90))
    assert _lease(tw, me) == (None, None), "the pass gave its lease back"


async def test_a_pass_longer_than_its_lease_keeps_renewing_it_and_releases_it_at_the_end(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The IMAP session itself is stood in for (a pass that lasts four leases): what is tested is
    what ``poll_job`` does with the lease around it."""
    addresses = ["a@example.test", "b@example.test"]
    tw = _workspace(tmp_path, database_url, addresses, "127.0.0.1", free_port(), "1s")
    lease = timedelta(seconds=1)
    samples: list[tuple[float, dict[str, tuple[str | None, datetime | None]], datetime]] = []
    stolen: list[list[str]] = []

    async def slow_pass(mailboxes: Sequence[Mailbox], *args: Any, **kwargs: Any) -> PollReport:
        assert sorted(mb.address for mb in mailboxes) == addresses
        start = time.monotonic()
        while time.monotonic() - start < 4 * lease.total_seconds():
            await asyncio.sleep(0.1)
            rows = {a: await asyncio.to_thread(_lease, tw, a) for a in addresses}
            samples.append((time.monotonic() - start, rows, utcnow()))
        # another daemon, well past the first lease's end: every mailbox is still held
        stolen.append(await asyncio.to_thread(acquire_poll_leases, tw.engine, addresses, "other-daemon", utcnow(),
                                              utcnow() + lease))
        return PollReport(())

    monkeypatch.setattr(job, "poll_once", slow_pass)
    with caplog.at_level(logging.WARNING, logger="outbound.inbox"):
        await poll_job(tw.ctx, once=False, options=OPTS)
    assert stolen == [[]], f"another daemon took over mailboxes still being polled: {stolen}"
    assert len(samples) > 20
    for at, rows, wall in samples:
        for address, (owner, until) in rows.items():
            assert owner == tw.ctx.worker, (at, address, owner)
            assert until is not None and until > wall, f"{address}'s lease ran out {at:.2f} s into the pass"
    first_until = samples[0][1][addresses[0]][1]
    assert first_until is not None and samples[-1][1][addresses[0]][1] != first_until, "the lease was never renewed"
    assert [r.getMessage() for r in caplog.records] == []
    released = {a: _lease(tw, a) for a in addresses}
    assert released == dict.fromkeys(addresses, (None, None))
    await asyncio.sleep(lease.total_seconds())  # no renewal lands after the release
    assert {a: _lease(tw, a) for a in addresses} == released
