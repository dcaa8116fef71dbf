"""`outbound domains check`: DNS health of the sending domains (SPF, DKIM, DMARC, MX, PTR, blocklists, ...)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli.context import config_path, err_console, fail

if TYPE_CHECKING:
    from outbound.health.checker import Target
    from outbound.health.model import HealthReport

domains_app = typer.Typer(help="Sending domains: DNS health checks.", no_args_is_help=True)

_COLOURS = {"error": "bold red", "warning": "yellow", "info": "green"}
_VERDICT = {"pass": "[bold green]pass[/]", "warn": "[bold yellow]warn[/]", "fail": "[bold red]fail[/]"}


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app."""
    app.add_typer(domains_app, name="domains")


@domains_app.command("check")
def check(
    domains: Annotated[list[str] | None, typer.Argument(help="domains to check (default: every domain of the workspace)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of reports")] = False,
    nameserver: Annotated[str | None, typer.Option("--nameserver", help="send every query to this server, HOST[:PORT]")] = None,
    ip: Annotated[list[str] | None, typer.Option("--ip", help="sending IP to check (repeatable; overrides sending_ips)")] = None,
    selector: Annotated[list[str] | None, typer.Option("--selector", help="DKIM selector (repeatable; overrides dkim_selectors)")] = None,
    dnsbl_zone: Annotated[list[str] | None, typer.Option("--dnsbl-zone", help="IP blocklist zone (repeatable)", hidden=True)] = None,
    dbl_zone: Annotated[list[str] | None, typer.Option("--dbl-zone", help="domain blocklist zone (repeatable)", hidden=True)] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds per DNS query")] = 3.0,
) -> None:
    """Check SPF, DKIM, DMARC, MX, reverse DNS, blocklists and provider rules; exit 0 pass, 1 warnings, 2 errors."""
    import ipaddress

    from outbound.health.checker import check_target
    from outbound.health.dns import Lookup, make_resolver
    from outbound.health.dnsbl import DOMAIN_ZONES, IP_ZONES
    from outbound.health.model import exit_code

    for addr in ip or []:
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            fail(f"--ip {addr!r} is not an IP address", code=2)
    try:
        resolver = make_resolver(nameserver, timeout=timeout, lifetime=timeout * 2)
    except ValueError as exc:
        fail(f"--nameserver {exc}", code=2)
    except Exception as exc:  # no /etc/resolv.conf and no --nameserver
        fail(f"cannot set up DNS: {exc}; pass --nameserver HOST[:PORT]", code=2)
    targets = [_with_overrides(t, ip, selector) for t in _targets(domains or [])]
    ip_zones = tuple(dnsbl_zone) if dnsbl_zone is not None else IP_ZONES
    dom_zones = tuple(dbl_zone) if dbl_zone is not None else DOMAIN_ZONES

    async def run() -> list[HealthReport]:
        lookup = Lookup(resolver)
        return list(await asyncio.gather(*(check_target(t, lookup, ip_zones=ip_zones, domain_zones=dom_zones) for t in targets)))

    reports = asyncio.run(run())
    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in reports], indent=2) + "\n")
    else:
        for report in reports:
            _render(report)
    raise typer.Exit(exit_code(reports))


def _targets(names: list[str]) -> list[Target]:
    from outbound.app.workspace import load_workspace
    from outbound.errors import OutboundError
    from outbound.health.checker import Target

    try:
        ws_domains = load_workspace(config_path()).domains
    except OutboundError as exc:
        if not names:
            fail(f"cannot load the workspace: {exc}", code=2)
        err_console.print(f"[yellow]note:[/] workspace not loaded ({str(exc).splitlines()[0]}); checking with defaults", highlight=False)
        ws_domains = {}
    if not names:
        if not ws_domains:
            fail("the workspace has no domains; name one: outbound domains check example.com", code=2)
        return [Target.of(d) for d in ws_domains.values()]
    out: list[Target] = []
    for name in names:
        key = name.strip().lower().rstrip(".")
        out.append(Target.of(ws_domains[key]) if key in ws_domains else Target(key))
    return out


def _with_overrides(t: Target, ips: list[str] | None, selectors: list[str] | None) -> Target:
    from dataclasses import replace

    if ips:
        t = replace(t, sending_ips=list(ips))
    if selectors:
        t = replace(t, selectors=list(selectors))
    return t


def _render(report: HealthReport) -> None:
    from outbound.cli.tables import show

    table = Table(Column("check", no_wrap=True), Column("severity", no_wrap=True), "finding",
                  Column("fix", style="dim"), title=f"{escape(report.domain)}  {_VERDICT[report.verdict]}",
                  title_justify="left", show_lines=False)
    order = {"error": 0, "warning": 1, "info": 2}
    for f in sorted(report.findings, key=lambda f: order[f.severity]):
        colour = _COLOURS[f.severity]
        table.add_row(f.check, f"[{colour}]{f.severity}[/]", escape(f.message), escape(f.fix))
    # records and host names in the findings are read whole: stacked rows rather than names folded mid-word
    show(table, whole_words=True)
