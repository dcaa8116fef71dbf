"""Who we write to: enroll prospects, and the suppression list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.prospects.errors import ImportFileError
from outbound.prospects.results import RowError
from outbound.prospects.suppress_file import read_suppression_file
from outbound.store.enrollments import enroll as enroll_prospects
from outbound.store.prospects import list_suppressions, prospect_ids, suppress, suppression_value, unsuppress


def register(app: typer.Typer) -> None:
    app.command("enroll")(enroll)
    app.command("suppress")(suppress_cmd)


def enroll(
    sequence: Annotated[str, typer.Argument(help="sequence name")],
    source: Annotated[str | None, typer.Option(help="enroll every prospect of this lead source")] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="enroll this prospect (repeatable)")] = None,
) -> None:
    """Enroll prospects into a sequence (never a suppressed one)."""
    if source is None and not email:
        fail("say whom to enroll: --source NAME or --email ADDRESS")
    ws = runtime.workspace()
    try:
        loaded = ws.sequence(sequence)
    except Exception as exc:  # NotFoundError
        fail(str(exc))
    engine = runtime.open_engine(ws.config)
    ids = prospect_ids(engine, source=source, emails=email or [])
    if email:
        found = len(ids)
        if found < len(set(e.lower() for e in email)):
            console.print(f"[yellow]{len(set(email)) - found} address(es) are not prospects; import them first[/]")
    result = enroll_prospects(engine, loaded.sequence, ids)
    console.print(f"{sequence}: enrolled {result.enrolled}, blocked {result.blocked} (missing fields), "
                  f"already enrolled {result.already}, skipped {len(result.skipped)}", highlight=False)
    for address, reason in result.skipped[:20]:
        console.print(f"  skipped {address}: {reason}", highlight=False, markup=False)
    if len(result.skipped) > 20:
        console.print(f"  ... and {len(result.skipped) - 20} more", highlight=False)


def suppress_cmd(
    args: Annotated[list[str], typer.Argument(help="ADDRESS|@DOMAIN ..., or: list | import FILE | remove ADDRESS|@DOMAIN")],
    reason: Annotated[str, typer.Option(help="why (shown wherever a send is refused)")] = "manual",
    limit: Annotated[int, typer.Option(help="with list: show at most this many")] = 1000,
) -> None:
    """Never mail these: `suppress ADDRESS|@DOMAIN [--reason R]`, `suppress import FILE`, `suppress list`."""
    action, rest = args[0], args[1:]
    if action == "list" and not rest:
        _list(limit)
    elif action == "import":
        if len(rest) != 1:
            fail("usage: outbound suppress import FILE")
        _import(Path(rest[0]), reason)
    elif action == "remove":
        if len(rest) != 1:
            fail("usage: outbound suppress remove ADDRESS|@DOMAIN")
        if not unsuppress(runtime.open_engine(), rest[0]):
            fail(f"{rest[0]} is not suppressed")
        console.print(f"{rest[0]} may be mailed again", highlight=False)
    else:
        _add(args, reason)


def _add(values: list[str], reason: str) -> None:
    bad = [v for v in values if "@" not in v or suppression_value(v)[0].endswith("@") or " " in v.strip()]
    if bad:
        fail(f"not an address or @domain: {', '.join(bad)}")
    added = suppress(runtime.open_engine(), values, reason)
    console.print(f"suppressed {added} new entr{'y' if added == 1 else 'ies'} ({len(values) - added} already there)",
                  highlight=False)


def _list(limit: int) -> None:
    rows = list_suppressions(runtime.open_engine(), limit)
    table = Table("value", "kind", "reason", "since")
    for r in rows:
        table.add_row(r.value, r.kind, r.reason, r.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


def _import(path: Path, reason: str) -> None:
    try:
        entries = read_suppression_file(path)
    except ImportFileError as exc:
        fail(exc.reason)
    values, errors = [], []
    with entries:
        for entry in entries:
            if isinstance(entry, RowError):
                errors.append(entry)
            else:
                values.append(entry.value)
    added = suppress(runtime.open_engine(), values, reason)
    console.print(f"{path}: suppressed {added:,} new ({len(values) - added:,} already there), skipped {len(errors):,}",
                  highlight=False)
    for err in errors[:20]:
        console.print(f"  line {err.line}: {err.reason}", highlight=False, markup=False)
