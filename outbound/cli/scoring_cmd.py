"""Scoring commands: events add/import (outcomes in), score (one pass or rebuild), report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.cli.tables import show
from outbound.errors import OutboundError, Problem

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from outbound.config import LoadedConfig
    from outbound.reports.funnel import FunnelRow
    from outbound.scoring.outcomes_in import Accepted
    from outbound.scoring.spec import ScoringSpec

events_app = typer.Typer(help="Record outcomes (qualified, meeting_booked, won, lost, replied...).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
    events_app.command("add")(add)
    events_app.command("import")(import_file)
    app.command("score")(score)
    app.command("report")(report)


def _now() -> datetime:
    return datetime.now(UTC)


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        err_console.print(str(p), highlight=False, markup=False, soft_wrap=True)


def _accepted(cfg: LoadedConfig) -> Accepted:
    """The built-in CRM types and the workspace's own (``event_types`` in scoring.yaml)."""
    from outbound.scoring.outcomes_in import Accepted
    from outbound.scoring.spec import load_scoring

    try:
        spec = load_scoring(cfg.root)
    except OutboundError as exc:
        fail(str(exc))
    return Accepted.of(spec.catalogue, spec.custom_types)


def add(
    email: Annotated[str, typer.Argument(help="the prospect's address")],
    kind: Annotated[str, typer.Argument(metavar="TYPE", help="qualified, meeting_booked, won, lost, replied, unsubscribed, "
                                        "or a type of scoring.yaml's event_types...")],
    at: Annotated[str | None, typer.Option("--at", help="when it happened (ISO 8601; default now)")] = None,
    note: Annotated[str | None, typer.Option("--note", help="free text kept with the event")] = None,
    data: Annotated[list[str] | None, typer.Option("--data", metavar="FIELD=VALUE",
                                                   help="a declared field of the type (repeatable)")] = None,
) -> None:
    """Record one outcome for a prospect."""
    from outbound.scoring.outcomes_in import make_row, record

    cfg = runtime.config()
    values: dict[str, object] = {"email": email, "type": kind, "at": at, "note": note}
    for pair in data or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(f"--data {pair!r}: expected FIELD=VALUE")
        values.setdefault(name.strip(), value)
    accepted = _accepted(cfg)
    declared = accepted.fields.get(kind.strip().lower(), ())
    for name in (data and [p.partition("=")[0].strip() for p in data]) or []:
        if name not in declared:
            fail(f"--data {name}: {kind} has no such field (declared in scoring.yaml: {', '.join(declared) or 'none'})")
    try:
        row = make_row(values, 0, _now(), accepted)
    except ValueError as exc:
        fail(str(exc))
    result = record(runtime.open_engine(cfg), [row], origin="manual", path="events add")
    if result.problems:
        fail(result.problems[0].message)
    console.print("recorded" if result.recorded else "already recorded (same prospect, type and time)", highlight=False)
    for action in result.actions:
        console.print(f"  {action}", highlight=False)


def import_file(
    path: Annotated[Path, typer.Argument(help=".csv (email,type,at,note) or .jsonl file", exists=False)],
) -> None:
    """Record outcomes from a file; bad rows are reported with their line and skipped."""
    from outbound.scoring.outcomes_in import parse_file, record

    if not path.is_file():
        fail(f"{path}: no such file")
    cfg = runtime.config()
    rows, problems = parse_file(path, _now(), _accepted(cfg))
    result = record(runtime.open_engine(cfg), rows, origin="import", path=path)
    problems += result.problems
    _print_problems(sorted(problems, key=lambda p: p.line or 0))
    console.print(f"recorded {result.recorded}, already known {result.duplicates}, skipped {len(problems)}",
                  highlight=False)
    for action in result.actions[:50]:
        console.print(f"  {action}", highlight=False)
    if len(result.actions) > 50:
        console.print(f"  ... and {len(result.actions) - 50} more changes", highlight=False)
    if problems and not result.recorded and not result.duplicates:
        raise typer.Exit(1)


def score(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="recompute every score from all events (fires no rules)")] = False,
) -> None:
    """Apply new events to the scores and run the rules once (the daemon does this on its own)."""
    from outbound.scoring.apply import rebuild_scores
    from outbound.scoring.job import run_scoring

    ws = runtime.workspace()
    spec = runtime.scoring_spec(ws)
    engine = runtime.open_engine(ws.config)
    if rebuild:
        r = rebuild_scores(engine, spec, _now())
        console.print(f"rebuilt from {r.events} events: {r.changed_prospects} prospect(s) scored", highlight=False)
        return
    s = run_scoring(engine, spec, {n: x.sequence for n, x in ws.sequences.items()}, _now())
    console.print(f"{s.events} new event(s); {s.changed_prospects} prospect(s) and {s.changed_accounts} account(s) "
                  f"changed; {len(s.actions)} action(s); webhooks delivered {s.webhooks.delivered}, retrying "
                  f"{s.webhooks.retrying}, failed {s.webhooks.failed}", highlight=False)
    for d in s.actions:
        console.print(f"  {d.kind} {d.subject_kind} {d.subject}: {d.reason}", highlight=False, markup=False)


def report(
    by: Annotated[str, typer.Option("--by", help="sequence, step, variant, source, vendor, account, domain, mailbox "
                                              "or intent (of the reply)")] = "sequence",
    since: Annotated[str | None, typer.Option("--since", help="only events from this date (ISO 8601)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML page with charts")] = None,
) -> None:
    """Sent, delivered and each outcome's rate (bounces, replies, unsubscribes, complaints...), lead-source cost per qualified, A/B tests."""
    from outbound.reports import queries
    from outbound.reports.html import render_page
    from outbound.scoring.outcomes_in import parse_time
    from outbound.scoring.spec import load_scoring

    if by not in (*queries.GROUPS, "vendor", "account"):
        fail(f"--by {by!r}: expected one of {', '.join((*queries.GROUPS, 'vendor', 'account'))}")
    try:
        start = parse_time(since, _now()) if since else None
    except ValueError as exc:
        fail(f"--since {exc}")
    cfg = runtime.config()
    try:
        spec = load_scoring(cfg.root)
    except OutboundError as exc:
        fail(str(exc))
    engine = runtime.open_engine(cfg)
    funnel_rows = _funnel(engine, spec, by, start) if by in ("source", "vendor", "account") else []
    if by in ("vendor", "account"):  # sends have neither: the funnel is the report
        _print_funnel(by, start, funnel_rows, as_json)
        return
    facts = queries.load_facts(engine, start)
    groups = queries.grouped(facts, by)
    sources = queries.sources(facts, {k: v.cost_per_lead for k, v in spec.sources.items()})
    variants = queries.variants(facts)
    if html is not None:
        html.write_text(render_page(facts, by, groups, sources, variants, _now(),
                                           cfg.settings.health.max_bounce_rate), encoding="utf-8")
        console.print(f"wrote {html}", highlight=False)
        return
    if as_json:
        print(json.dumps({"by": by, "since": start.isoformat() if start else None,
                          "groups": {k: m.as_json() for k, m in groups.items()},
                          "funnel": [r.as_json() for r in funnel_rows],
                          "sources": [{"source": s.source, "prospects": s.prospects, "contacted": s.contacted,
                                       "qualified": s.qualified, "qualified_share": s.qualified_share,
                                       "cost_per_lead": s.cost_per_lead, "cost_per_qualified": s.cost_per_qualified,
                                       "verified": s.verified, "invalid": s.invalid, "risky": s.risky,
                                       "invalid_share": s.invalid_share, "risky_share": s.risky_share}
                                      for s in sources],
                          "variants": [{"step": v.step, "variant": v.variant, "baseline": v.baseline,
                                        **v.metrics.as_json(),
                                        "difference": v.test.difference if v.test else None,
                                        "z": v.test.z if v.test else None,
                                        "p_value": v.test.p_value if v.test else None} for v in variants]}, indent=2))
        return
    from outbound.reports.html import metrics_head, metrics_rows, reply_rate

    table = Table(*[Column(h, no_wrap=True) for h in metrics_head(by)], title=f"By {by}")
    for row in metrics_rows(groups):
        table.add_row(*map(escape, row))
    show(table)
    verified = any(s.verified for s in sources)  # the invalid and risky columns once addresses were verified
    src = Table(*[Column(h, no_wrap=True) for h in ("source", "prospects", "contacted", "qualified", "share")],
                "cost / qualified", *[Column(h, no_wrap=True) for h in ("invalid", "risky") if verified],
                title="Lead sources")
    for s in sources:
        # invalid and risky: shares of the source's verified addresses (`prospects verify`), a lead vendor's quality
        src.add_row(s.source, str(s.prospects), str(s.contacted), str(s.qualified),
                    "-" if s.qualified_share is None else f"{s.qualified_share:.1%}",
                    "-" if s.cost_per_qualified is None else f"{s.cost_per_qualified:.2f}",
                    *(["-" if v is None else f"{v:.1%}" for v in (s.invalid_share, s.risky_share)] if verified else []))
    show(src)
    if variants:
        ab = Table(*[Column(h, no_wrap=True) for h in ("step", "variant", "delivered", "reply %", "vs", "difference",
                                                       "p-value", "confidence")], title="A/B")
        for v in variants:
            rate = reply_rate(v.metrics)
            ab.add_row(v.step, v.variant, str(v.metrics.delivered), "-" if rate is None else f"{rate:.1%}", v.baseline,
                       "-" if v.test is None else f"{v.test.difference * 100:+.1f} pts",
                       "-" if v.test is None else f"{v.test.p_value:.3f}",
                       "-" if v.test is None else f"{v.test.confidence:.1%}")
        show(ab)
    if funnel_rows:
        _print_funnel(by, start, funnel_rows, False)


def _funnel(engine: Engine, spec: ScoringSpec, by: str, start: datetime | None) -> list[FunnelRow]:
    from outbound.reports.funnel import funnel
    from outbound.store.funnel_rows import lead_facts

    costs = spec.vendors if by == "vendor" else spec.sources if by == "source" else {}
    return funnel(lead_facts(engine, spec.stages, start), by, {k: v.cost_per_lead for k, v in costs.items()},
                  spec.stages)


def _print_funnel(by: str, start: datetime | None, rows: list[FunnelRow], as_json: bool) -> None:
    """contacted -> replied -> positive -> each stage: count, conversion from the step before with its
    Wilson 95 % interval, and cost per lead reaching it; ranked by the cost at the last stage."""
    if as_json:
        print(json.dumps({"by": by, "since": start.isoformat() if start else None,
                          "funnel": [r.as_json() for r in rows]}, indent=2))
        return
    if not rows:
        console.print("no prospects", highlight=False)
        return
    names = [s.name for s in rows[0].steps]
    table = Table(Column(by, no_wrap=True), Column("leads", justify="right", no_wrap=True),
                  *(Column(n, no_wrap=True) for n in names), title=f"Funnel by {by} (conversion from the step before, "
                  "95 % interval; cost per lead reaching it; median days from the first send)")
    for r in rows:
        cells = []
        for s in r.steps:
            ci = s.interval
            rate = "-" if s.rate is None or ci is None else f"{s.rate:.0%} [{ci[0]:.0%}-{ci[1]:.0%}]"
            cells.append(f"{s.count} {rate}" + ("" if s.cost is None else f" ${s.cost:,.2f}")
                         + ("" if s.median_days is None else f" {s.median_days:.1f}d"))
        table.add_row(r.group, str(r.leads), *cells)
    show(table)
