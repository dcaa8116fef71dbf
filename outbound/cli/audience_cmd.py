"""Who we write to: enroll prospects, and the suppression list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.cli.tables import show
from outbound.errors import NotFoundError
from outbound.prospects.errors import ImportFileError
from outbound.prospects.normalise import normalise_domain, normalise_email
from outbound.prospects.results import RowError
from outbound.prospects.suppress_file import read_suppression_file
from outbound.store.db import utcnow
from outbound.store.enrollments import enroll as enroll_prospects
from outbound.store.operator import suppress_by_hand
from outbound.store.prospects import get_prospect, list_suppressions, prospect_ids, unsuppress


def register(app: typer.Typer) -> None:
    app.command("enroll")(enroll)
    app.command("suppress")(suppress_cmd)


def enroll(
    sequence: Annotated[str, typer.Argument(help="sequence name")],
    source: Annotated[str | None, typer.Option(help="enroll every prospect of this lead source")] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="enroll this prospect (repeatable)")] = None,
) -> None:
    """Enroll prospects into a sequence (never a suppressed one)."""
    if (source is None) == (not email):
        fail("say whom to enroll: either --source NAME or --email ADDRESS (repeatable), not both")
    ws = runtime.workspace()
    try:
        loaded = ws.sequence(sequence)
    except NotFoundError as exc:
        fail(str(exc))
    engine = runtime.open_engine(ws.config)
    ids = prospect_ids(engine, source=source, emails=email or [])
    if email:
        unknown = [e for e in dict.fromkeys(e.strip().lower() for e in email) if get_prospect(engine, e) is None]
        if len(unknown) == len(set(e.strip().lower() for e in email)):
            fail(f"not prospects (import them first): {', '.join(unknown)}")
        if unknown:
            err_console.print(f"[yellow]not prospects (import them first):[/] {escape(', '.join(unknown))}", highlight=False)
    elif not ids:
        fail(f"no prospects with source {source!r} (it is set by `outbound prospects import FILE --source NAME`)")
    result = enroll_prospects(engine, loaded.sequence, ids)
    console.print(f"{sequence}: enrolled {result.enrolled:,}, blocked {result.blocked:,} (missing fields), "
                  f"already enrolled {result.already:,}, skipped {len(result.skipped):,}", highlight=False)
    for address, reason in result.skipped[:20]:
        console.print(f"  skipped {address}: {reason}", highlight=False, markup=False)
    if len(result.skipped) > 20:
        console.print(f"  ... and {len(result.skipped) - 20:,} more", highlight=False)


def suppress_cmd(
    args: Annotated[list[str], typer.Argument(help="ADDRESS|@DOMAIN ..., or: list | import FILE | remove ADDRESS|@DOMAIN")],
    reason: Annotated[str, typer.Option(help="why (shown wherever a send is refused)")] = "manual",
    limit: Annotated[int, typer.Option(help="with list: show at most this many")] = 1000,
) -> None:
    """Never mail these: `suppress ADDRESS|@DOMAIN [--reason R]`, `suppress import FILE`, `suppress list`."""
    action, rest = args[0], args[1:]
    if action == "list":
        if rest:
            fail("usage: outbound suppress list [--limit N]")
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
        console.print(f"{rest[0]} may be mailed again", highlight=False, markup=False)
    else:
        _add(args, reason)


def _add(values: list[str], reason: str) -> None:
    checked = [_checked(v) for v in values]
    bad = [f"{v} ({why})" for v, (ok, why) in zip(values, checked, strict=True) if ok is None]
    if bad:
        fail(f"not an address or @domain: {'; '.join(bad)}")
    wanted = [ok for ok, _ in checked if ok is not None]
    done = suppress_by_hand(runtime.open_engine(), wanted, reason, utcnow())
    console.print(f"suppressed {done.added} new entr{'y' if done.added == 1 else 'ies'} ({len(wanted) - done.added} "
                  f"already there){_stopped(done.stopped)}", highlight=False)


def _stopped(count: int) -> str:
    return f"; stopped {count:,} live enrollment{'' if count == 1 else 's'}" if count else ""


def _checked(value: str) -> tuple[str | None, str]:
    """``'@Acme.COM'`` -> ``('@acme.com', '')``; an unusable value -> ``(None, reason)``."""
    text = value.strip()
    if text.startswith("@"):
        dom = normalise_domain(text[1:])
        return ("@" + dom.value, "") if dom.value else (None, dom.reason)
    if "@" not in text:
        return None, "write ADDRESS or @DOMAIN"
    mail = normalise_email(text)
    return (mail.value, "") if mail.value else (None, mail.reason)


def _list(limit: int) -> None:
    rows = list_suppressions(runtime.open_engine(), limit)
    table = Table(Column("value", no_wrap=True), Column("kind", no_wrap=True), "reason",
                  Column("since", no_wrap=True))
    for r in rows:  # Text cells: a reason such as "[spam]" is data, not markup
        table.add_row(Text(r.value), Text(r.kind), Text(r.reason), r.created_at.strftime("%Y-%m-%d %H:%M"))
    show(table)


def _import(path: Path, reason: str) -> None:
    try:
        entries = read_suppression_file(path)
    except ImportFileError as exc:
        fail(f"{path}: {exc.reason}")
    values: list[str] = []
    errors: list[RowError] = []
    warnings: list[str] = []
    with entries:
        for entry in entries:
            if isinstance(entry, RowError):
                errors.append(entry)
            else:
                values.append("@" + entry.value if entry.kind == "domain" else entry.value)
                warnings.extend(f"line {entry.line}: {w}" for w in entry.warnings)
    done = suppress_by_hand(runtime.open_engine(), values, reason, utcnow())
    console.print(f"{path}: suppressed {done.added:,} new ({len(set(values)) - done.added:,} already there), skipped "
                  f"{len(errors):,}{_stopped(done.stopped)}",
                  highlight=False, markup=False)
    for err in errors[:20]:
        console.print(f"  line {err.line}: {err.reason}", highlight=False, markup=False)
    if len(errors) > 20:
        console.print(f"  ... and {len(errors) - 20:,} more", highlight=False)
    for warning in warnings[:20]:
        err_console.print(f"  warning: {warning}", highlight=False, markup=False)
