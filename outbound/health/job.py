"""The domain check in the daemon: a failing domain's mailboxes are paused, and resumed once it passes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.health.checker import check_domains
from outbound.health.dns import AsyncResolver
from outbound.health.dnsbl import DOMAIN_ZONES, IP_ZONES
from outbound.health.model import HealthReport
from outbound.spec.workspace import Workspace
from outbound.store.db import session_scope
from outbound.store.tables import Event, MailboxState

log = logging.getLogger("outbound.health")
PAUSE_PREFIX = "domain health check failed: "


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
    return PAUSE_PREFIX + detail + more


def apply_verdicts(engine: Engine, workspace: Workspace, reports: list[HealthReport], now: datetime,
                   result: HealthPass) -> None:
    """Pauses every mailbox of a failing domain with the finding as reason; resumes the ones this check paused."""
    with session_scope(engine) as session:
        for report in reports:
            domain = workspace.domains.get(report.domain)
            if domain is None:
                continue
            addresses = [mb.address for mb in domain.mailboxes]
            rows = {r.address: r for r in session.exec(select(MailboxState).where(
                col(MailboxState.address).in_(addresses)))}
            for address in addresses:
                row = rows.get(address)
                if row is None:
                    row = MailboxState(address=address, domain=report.domain)
                    session.add(row)
                if report.verdict == "fail" and row.state != "paused":
                    row.state, row.pause_reason, row.paused_at = "paused", _reason(report), now
                    session.add(Event(type=ev.MAILBOX_PAUSED, at=now, mailbox=address, data={"reason": row.pause_reason}))
                    result.paused.append(address)
                elif (report.verdict != "fail" and row.state == "paused"
                      and (row.pause_reason or "").startswith(PAUSE_PREFIX)):
                    row.state, row.pause_reason, row.paused_at = "active", None, None
                    session.add(Event(type=ev.MAILBOX_RESUMED, at=now, mailbox=address,
                                      data={"reason": "domain health check passes again"}))
                    result.resumed.append(address)
    for address in result.paused:
        log.warning("paused %s: domain health check failed", address)
    for address in result.resumed:
        log.info("resumed %s: domain health check passes again", address)
