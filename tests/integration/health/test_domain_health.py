"""Domain health over real DNS: NSD serves domains with known defects; each finding and verdict is checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outbound.health.checker import Target, check_domains, check_target
from outbound.health.dns import Lookup
from outbound.spec.domain import SendingDomain
from tests.fixtures.dns_server import DnsServer, DnsServers
from tests.integration.health.zones import DEFECTS, DOMAIN_ZONE, GOOD_IP, IP_ZONE, LISTED_IP, REFUSING_ZONE, defect_zone


@pytest.fixture(scope="module")
def server(dns_servers: DnsServers) -> Iterator[DnsServer]:
    srv = dns_servers.start(defect_zone())
    yield srv
    srv.stop()
    dns_servers.running.remove(srv)


def target(domain: str) -> Target:
    return Target(domain, ["sel"], [LISTED_IP if domain == "listed.test" else GOOD_IP])


@pytest.mark.parametrize("domain", sorted(DEFECTS))
async def test_defect_is_found(server: DnsServer, domain: str) -> None:
    verdict, finding = DEFECTS[domain]
    report = await check_target(target(domain), server.resolver(), ip_zones=(IP_ZONE,), domain_zones=(DOMAIN_ZONE,))
    got = {(f.check, f.severity, f.code) for f in report.findings}
    if finding is not None:
        assert finding in got, report.findings
    problems = [f for f in report.findings if f.severity != "info"]
    assert report.verdict == verdict, problems


async def test_refused_dnsbl_answer_is_not_a_listing(server: DnsServer) -> None:
    report = await check_target(target("good.test"), server.resolver(), ip_zones=(REFUSING_ZONE,), domain_zones=())
    dnsbl = [f for f in report.findings if f.check == "dnsbl"]
    assert [(f.severity, f.code) for f in dnsbl] == [("warning", "refused")]
    assert report.verdict == "warn"


async def test_timeouts_are_unknown_findings(dns_servers: DnsServers) -> None:
    from tests.fixtures.dns_server import txt

    srv = dns_servers.start([("slow.test", "TXT", txt("v=spf1 -all"))], timeouts={"slow.test": set()})
    try:
        report = await check_target(Target("slow.test"), srv.resolver(timeout=0.2, lifetime=0.3), ip_zones=(), domain_zones=())
    finally:
        srv.stop()
        dns_servers.running.remove(srv)
    spf = [f for f in report.findings if f.check == "spf"]
    assert spf and spf[0].code == "dns_error" and "unknown" in spf[0].message


async def test_check_domains_from_workspace_models(server: DnsServer) -> None:
    domains = [SendingDomain.model_validate({
        "domain": d, "dkim_selectors": ["sel"], "sending_ips": [GOOD_IP],
        "smtp": {"host": "127.0.0.1"}, "mailboxes": [{"address": f"alex@{d}"}],
    }) for d in ("good.test", "twospf.test")]
    reports = await check_domains(domains, server.resolver(), ip_zones=(IP_ZONE,), domain_zones=(DOMAIN_ZONE,), extra=["nodmarc.test"])
    assert [(r.domain, r.verdict) for r in reports] == [("good.test", "pass"), ("twospf.test", "fail"), ("nodmarc.test", "fail")]
    # a bare name gets default selectors: none of them exists, so DKIM is reported as not found
    assert "no_selector" in reports[2].codes("warning")


async def test_check_host_is_public_and_uses_the_resolver(server: DnsServer) -> None:
    from outbound import check_host

    assert (await check_host(GOOD_IP, "good.test", "a@good.test", "mail.good.test", server.resolver()))[0] == "pass"
    result, why = await check_host("198.51.100.7", "good.test", "a@good.test", "x.test", Lookup(server.resolver()))
    assert result == "fail" and why
