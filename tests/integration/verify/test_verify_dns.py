"""Verification against real DNS: NSD on loopback serves a zone per case; the probe talks to aiosmtpd."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from outbound.health.dns import Lookup, make_resolver
from outbound.verify.model import Verdict
from outbound.verify.probe import ProbeSettings
from outbound.verify.run import RunStats, verify_addresses
from tests.fixtures.dns_server import DnsServer, DnsServers
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.verify.zones import SLOW, SlowForwarder, verify_nsd


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    with verify_nsd(dns_servers) as srv:
        yield srv


def lookup(server: DnsServer) -> Lookup:
    return Lookup(server.resolver(timeout=0.3, lifetime=0.6))


async def verify(server: DnsServer, *emails: str, **kw: object) -> dict[str, Verdict]:
    return {v.email: v for v in await verify_addresses(list(emails), lookup(server), **kw)}  # type: ignore[arg-type]


@pytest.mark.parametrize(("email", "status", "code"), [
    ("ann@mx.example", "valid", None),
    ("ann@nullmx.example", "invalid", "null-mx"),
    ("ann@aonly.example", "valid", None),              # no MX: the A record is the implicit MX
    ("ann@aaaaonly.example", "valid", None),
    ("ann@nomail.example", "invalid", "no-mail-host"),
    ("ann@gone.mx.example", "invalid", "nxdomain"),
    ("ann@refused.example", "unknown", "dns-failed"),  # every server failed (REFUSED, like SERVFAIL)
    ("ann@slow0.example", "unknown", "dns-failed"),     # the server never answers
    ("ann@bücher.example", "valid", None),              # looked up as xn--bcher-kva.example
    ("ann@@mx.example", "invalid", "syntax"),
    ("info@mx.example", "risky", "role"),
    ("ann@mailinator.com", "risky", "disposable"),
    ("ann@gmail.com", "valid", "free-mail"),          # flagged for the account logic, not risky
])
async def test_each_case(server: DnsServer, email: str, status: str, code: str | None) -> None:
    found = (await verify(server, email))[email]
    assert found.status == status, found
    if code is not None:
        assert code in found.codes, found
    if status == "valid":
        assert found.reasons == () or found.codes == ("free-mail",)


async def test_a_failed_lookup_is_unknown_even_for_a_role_address(server: DnsServer) -> None:
    found = (await verify(server, "sales@slow1.example"))["sales@slow1.example"]
    assert found.status == "unknown" and found.codes == ("dns-failed", "role")


async def test_each_domain_is_asked_once_per_record_type(server: DnsServer) -> None:
    lk = lookup(server)
    emails = [f"p{i}@mx.example" for i in range(30)] + [f"p{i}@aonly.example" for i in range(30)] + ["x@nullmx.example"]
    stats = RunStats()
    verdicts = await verify_addresses(emails, lk, stats=stats)
    assert len(verdicts) == 61 and stats.domains == 3
    assert lk.queries == 1 + 3 + 1  # mx.example MX; aonly.example MX, A, AAAA; nullmx.example MX


async def test_domains_are_looked_up_concurrently_within_the_limit(server: DnsServer) -> None:
    emails = [f"a@{d}" for d in SLOW] + ["b@mx.example"]
    started = time.monotonic()
    found = await verify(server, *emails, concurrency=100)
    elapsed = time.monotonic() - started
    assert all(found[f"a@{d}"].status == "unknown" for d in SLOW) and found["b@mx.example"].status == "valid"
    assert elapsed < 0.6 * len(SLOW) / 2, elapsed  # one after another would take 8 lifetimes
    started = time.monotonic()
    await verify(server, *emails, concurrency=1)
    assert time.monotonic() - started >= 0.6 * len(SLOW) * 0.9  # the limit holds: one domain at a time


async def test_a_slow_server_that_answers_in_time_gives_the_real_result(server: DnsServer) -> None:
    slow = SlowForwarder(server.nsd_port, {"mx.example", "aonly.example", "nullmx.example"}, delay=0.4)
    try:
        lk = Lookup(make_resolver(slow.address, timeout=1.0, lifetime=2.0))
        started = time.monotonic()
        found = {v.email: v.status for v in await verify_addresses(
            ["a@mx.example", "b@aonly.example", "c@nullmx.example", "d@gone.mx.example"], lk)}
        elapsed = time.monotonic() - started
    finally:
        slow.stop()
    assert found == {"a@mx.example": "valid", "b@aonly.example": "valid", "c@nullmx.example": "invalid",
                     "d@gone.mx.example": "invalid"}
    assert elapsed < 1.5, elapsed  # three slow domains side by side (aonly's A and AAAA too), not one after another


async def test_servfail_is_unknown_not_invalid(server: DnsServer) -> None:
    failing = SlowForwarder(server.nsd_port, set(), 0, servfail=("mx.example",))
    try:
        lk = Lookup(make_resolver(failing.address, timeout=0.5, lifetime=1.0))
        found = {v.email: v for v in await verify_addresses(["a@mx.example", "b@nullmx.example"], lk)}
    finally:
        failing.stop()
    assert found["a@mx.example"].status == "unknown" and found["a@mx.example"].codes == ("dns-failed",)
    assert "SERVFAIL" in found["a@mx.example"].reasons[0]
    assert found["b@nullmx.example"].status == "invalid"  # the same server answers the other domains


async def test_probe_flags_a_catch_all_domain_and_sends_nothing(server: DnsServer, smtp_sink: SmtpSink) -> None:
    settings = ProbeSettings(port=smtp_sink.port, timeout=5)
    stats = RunStats()
    found = {v.email: v for v in await verify_addresses(["ann@probe.example"], lookup(server), probe=settings, stats=stats)}
    assert found["ann@probe.example"].status == "risky" and found["ann@probe.example"].codes == ("catch-all",)
    assert stats.probed == 1 and smtp_sink.rcpts_seen == 1  # a catch-all says nothing about the real address
    assert smtp_sink.messages == []  # never DATA


async def test_probe_refused_address_is_invalid_on_a_server_that_knows_its_users(server: DnsServer,
                                                                                smtp_sink: SmtpSink) -> None:
    smtp_sink.script.append("550 5.1.1 <{a}>: Recipient address rejected: User unknown")  # the random local part
    settings = ProbeSettings(port=smtp_sink.port, timeout=5)
    found = {v.email: v for v in await verify_addresses(["ann@probe.example", "reject550@probe.example"], lookup(server),
                                                          probe=settings)}
    assert found["ann@probe.example"].status == "valid"
    assert found["reject550@probe.example"].status == "invalid" and found["reject550@probe.example"].codes == ("rejected",)
    assert "User unknown" in found["reject550@probe.example"].reasons[0]
    assert smtp_sink.rcpts_seen == 3 and smtp_sink.messages == []


async def test_probe_that_cannot_connect_leaves_the_dns_result(server: DnsServer) -> None:
    from tests.fixtures.common import free_port

    stats = RunStats()
    found = await verify_addresses(["ann@probe.example"], lookup(server), probe=ProbeSettings(port=free_port(), timeout=2),
                                   stats=stats)
    assert found[0].status == "valid" and len(stats.probe_errors) == 1
