"""``prospects verify`` and the verification step of ``prospects import --verify``."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import dns.exception
import typer
from sqlalchemy import Engine

from outbound.app.verifying import VerifyReport, verify_prospects
from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.config import LoadedConfig
from outbound.core.durations import parse_duration
from outbound.core.nameserver import parse_nameserver
from outbound.errors import NotFoundError
from outbound.store.db import utcnow
from outbound.store.verification import ToVerify, to_verify
from outbound.verify.model import STATUSES

SHOWN = 20  # not-valid addresses listed in the text output


def verify_cmd(
    source: Annotated[str | None, typer.Option(help="the prospects of this lead source")] = None,
    sequence: Annotated[str | None, typer.Option(help="the prospects enrolled in this sequence")] = None,
    every: Annotated[bool, typer.Option("--all", help="every prospect")] = False,
    older_than: Annotated[str | None, typer.Option("--older-than", help="also re-check results older than this "
                                                   "(e.g. 30d; 0 re-checks all); default: [verify] max_age")] = None,
    probe: Annotated[bool, typer.Option("--probe", help="ask each domain's mail server about a random address "
                                        "(catch-all) and the real ones, without sending; needs outbound port 25")] = False,
    nameserver: Annotated[str | None, typer.Option("--nameserver", help="send every DNS query to this server, "
                                                   "HOST[:PORT]; default: [health] nameserver")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print each address's result as JSON")] = False,
) -> None:
    """Verify addresses before they are mailed: syntax, the domain's mail hosts, disposable, role and free-mail."""
    if sum((source is not None, sequence is not None, every)) != 1:
        fail("name the prospects to verify: one of --source S, --sequence S or --all", code=2)
    try:
        age = parse_duration(older_than) if older_than is not None else None
    except ValueError as exc:
        fail(f"--older-than {older_than!r}: {exc}", code=2)
    if nameserver is not None:
        try:
            parse_nameserver(nameserver)
        except ValueError as exc:
            fail(f"--nameserver {exc}", code=2)
    cfg = runtime.config()
    if sequence is not None:
        try:
            runtime.workspace().sequence(sequence)
        except NotFoundError as exc:  # it names the sequences there are
            fail(str(exc))
    engine = runtime.open_engine(cfg)
    now = utcnow()
    targets = to_verify(engine, now=now, older_than=age if age is not None else cfg.settings.verify.max_age,
                        source=source, sequence=sequence)
    report = run_verify(engine, cfg, targets, probe=probe, nameserver=nameserver)
    if as_json:
        sys.stdout.write(json.dumps({"summary": summary_json(report), "results": [
            {"email": v.email, "status": v.status, "reasons": list(v.reasons)} for v in report.verdicts]}, indent=2) + "\n")
        return
    print_report(report)


def run_verify(engine: Engine, cfg: LoadedConfig, targets: list[ToVerify], *, probe: bool = False,
               nameserver: str | None = None) -> VerifyReport:
    try:
        return asyncio.run(verify_prospects(engine, cfg.settings, targets, utcnow(), probe=probe, nameserver=nameserver))
    except (OSError, dns.exception.DNSException) as exc:  # no /etc/resolv.conf and no nameserver configured
        fail(f"cannot set up DNS: {exc}; set [health] nameserver or pass --nameserver HOST[:PORT]", code=2)


def summary_json(report: VerifyReport) -> dict[str, object]:
    return {"addresses": len(report.verdicts), **{s: report.counts.get(s, 0) for s in STATUSES},
            "domains": report.domains, "dns_queries": report.queries, "probed": report.probed,
            "seconds": round(report.seconds, 3)}


def print_report(report: VerifyReport) -> None:
    counts = ", ".join(f"{s} {report.counts.get(s, 0):,}" for s in STATUSES)
    console.print(f"verified {len(report.verdicts):,} address(es) at {report.domains:,} domain(s): {counts} "
                  f"({report.queries:,} DNS queries, {report.seconds:.1f} s)", highlight=False, markup=False)
    flagged = [v for v in report.verdicts if v.status != "valid"]
    for v in flagged[:SHOWN]:
        console.print(f"  {v.status:<8} {v.email}: {'; '.join(v.reasons)}", highlight=False, markup=False)
    if len(flagged) > SHOWN:
        console.print(f"  ... and {len(flagged) - SHOWN:,} more (--json lists every one)", highlight=False)
    if report.counts.get("unknown"):
        console.print("  unknown: DNS did not answer; they are checked again on the next verify", highlight=False)
    for err in report.probe_errors[:5]:
        err_console.print(f"warning: probe: {err}", highlight=False, markup=False)
