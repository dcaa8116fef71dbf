"""The domain check in the daemon: a failing domain's mailboxes are paused, and resumed once it passes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from outbound.core.logline import fields
from outbound.health.checker import check_domains
from outbound.health.dns import AsyncResolver
from outbound.health.dnsbl import DOMAIN_ZONES, IP_ZONES
from outbound.health.model import HealthReport
from outbound.rulebook.facts import DomainCheck
from outbound.spec.workspace import Workspace
from outbound.store.domain_health import apply_domain_checks

log = logging.getLogger("outbound.health")


@dataclass
class HealthPass:
    reports: list[HealthReport] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


async def health_job(workspace: Workspace, engine: Engine, resolver: AsyncResolver, now: datetime, *,
                     ip_zones: Sequence[str] = IP_ZONES, domain_zones: Sequence[str] = DOMAIN_ZONES) -> HealthPass:
    reports = await check_domains(list(workspace.domains.values()), resolver, ip_zones=ip_zones,
                                  domain_zones=domain_zones)
    result = HealthPass(reports=reports)
    apply_verdicts(engine, workspace, reports, now, result)
    return result


def _reason(report: HealthReport) -> str:
    errors = [f for f in report.findings if f.severity == "error"]
    first = errors[0] if errors else None
    detail = f"{first.check}: {first.message}" if first else "verdict fail"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return detail + more  # the rulebook puts its prefix before it


def apply_verdicts(engine: Engine, workspace: Workspace, reports: list[HealthReport], now: datetime,
                   result: HealthPass) -> None:
    """Pauses every mailbox of a failing domain with the finding as reason; resumes the ones this check paused."""
    checks = [DomainCheck(r.domain, tuple(mb.address for mb in domain.mailboxes),
                          _reason(r) if r.verdict == "fail" else None, now,
                          {k: v for k, v in r.to_json().items() if k != "domain"})
              for r in reports if (domain := workspace.domains.get(r.domain)) is not None]
    paused, resumed = apply_domain_checks(engine, checks, now)
    result.paused.extend(paused)
    result.resumed.extend(resumed)
    for address in result.paused:
        log.warning("paused %s: domain health check failed", address,
                    extra=fields(job="health", mailbox=address, outcome="paused"))
    for address in result.resumed:
        log.info("resumed %s: domain health check passes again", address,
                 extra=fields(job="health", mailbox=address, outcome="resumed"))
