"""Prospect commands: import from CSV (with optional enrollment), re-check blocked enrollments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.cli.verify_cmd import print_report, run_verify, verify_cmd
from outbound.errors import NotFoundError
from outbound.prospects.csv_import import inspect_prospect_file, write_error_report
from outbound.prospects.errors import ImportFileError
from outbound.spec.sequence import Sequence
from outbound.spec.workspace import read_workspace
from outbound.store.db import utcnow
from outbound.store.enrollments import UnblockResult, enroll, unblock
from outbound.store.importer import ImportReport, import_prospects
from outbound.store.prospects import prospect_ids
from outbound.store.verification import to_verify

prospects_app = typer.Typer(help="The people you write to.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(prospects_app, name="prospects")


prospects_app.command("verify")(verify_cmd)


@prospects_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV file (comma, semicolon or tab; UTF-8, UTF-16 or Latin-1)")],
    source: Annotated[str | None, typer.Option(help="lead source recorded on each prospect (for reports)")] = None,
    enroll_in: Annotated[str | None, typer.Option("--enroll", help="enroll every imported prospect in this sequence")] = None,
    errors_file: Annotated[Path | None, typer.Option("--errors", help="where to write skipped rows and rows imported with a warning (default: FILE.errors.csv)")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="verify the imported addresses (as `prospects verify`) "
                                         "before enrolling: invalid ones are not enrolled")] = False,
) -> None:
    """Import prospects: maps common columns, keeps the others as custom fields, skips bad rows with reasons."""
    try:
        inspect_prospect_file(file)  # a missing file or one without an email column is refused before the database is touched
    except ImportFileError as exc:
        fail(f"{file}: {exc.reason}")
    ws = runtime.workspace() if enroll_in else None
    sequence = None
    if ws is not None and enroll_in is not None:
        try:
            sequence = ws.sequence(enroll_in).sequence
        except NotFoundError as exc:
            fail(str(exc))
    cfg = ws.config if ws else runtime.config()
    engine = runtime.open_engine(cfg)
    # blocked enrollments of updated prospects are checked against the sequences that load now
    sequences = {n: s.sequence for n, s in (ws or read_workspace(cfg)).sequences.items()}
    total = _count_lines(file)
    try:
        with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.completed:,} rows"), TimeElapsedColumn(),
                      console=err_console, transient=True) as bar:
            task = bar.add_task("import", total=total)
            report = import_prospects(engine, file, source=source, progress=lambda n: bar.update(task, completed=n),
                                      sequences=sequences, default_timezone=cfg.settings.sending.default_timezone)
    except ImportFileError as exc:
        fail(f"{file}: {exc.reason}")
    skipped = len(report.errors)
    console.print(f"{file}: {report.rows:,} rows; imported {report.inserted:,} new, updated {report.updated:,}, "
                  f"unchanged {report.unchanged:,}, skipped {skipped:,}"
                  + (f" ({report.warnings:,} with warnings)" if report.warnings else ""), highlight=False, markup=False)
    if report.unblocked or report.still_blocked:
        console.print(f"  unblocked {report.unblocked:,} enrollment(s) that were blocked for missing fields"
                      + (f"; {report.still_blocked:,} still lack a required field" if report.still_blocked else ""),
                      highlight=False, markup=False)
    report_failed = _list_rows(report, errors_file or file.with_name(file.name + ".errors.csv"))
    if verify:
        ids = prospect_ids(engine, emails=report.emails)
        targets = to_verify(engine, now=utcnow(), older_than=cfg.settings.verify.max_age, prospect_ids=ids)
        print_report(run_verify(engine, cfg, targets))
    if sequence is not None:
        result = enroll(engine, sequence, prospect_ids(engine, emails=report.emails))
        console.print(f"{sequence.name}: enrolled {result.enrolled:,}, blocked {result.blocked:,} (missing fields), "
                      f"already enrolled {result.already:,}, suppressed {result.suppressed:,}"
                      + (f", account stopped {result.account_stopped:,}" if result.account_stopped else "")
                      + (f", address invalid or risky {result.address_skipped:,}" if result.address_skipped else ""),
                      highlight=False)
        for address, why in result.skipped[:20]:
            console.print(f"  not enrolled {address}: {why}", highlight=False, markup=False)
        if len(result.skipped) > 20:
            console.print(f"  ... and {len(result.skipped) - 20:,} more", highlight=False)
    if report_failed:
        fail(report_failed)


def _list_rows(report: ImportReport, target: Path) -> str | None:
    """Prints the first skipped rows and warnings, writes them all to ``target``; the error if it cannot."""
    for err in report.errors[:10]:
        console.print(f"  line {err.line}: {err.reason}", highlight=False, markup=False)
    warnings = [(row.line, w) for row in report.warned for w in row.warnings]
    for line, warning in warnings[:10]:
        console.print(f"  line {line} imported with a warning: {warning.message}; used instead: {warning.used}",
                      highlight=False, markup=False, soft_wrap=True)
    counts = ((len(report.errors), "every skipped row", "skipped"), (len(warnings), "every warning on an imported row",
                                                                     "warnings"))
    if not any(n for n, _, _ in counts):
        return None
    what = " and ".join(label for n, label, _ in counts if n)
    more = ", ".join(f"{n - 10:,} more {kind}" for n, _, kind in counts if n > 10)
    try:
        write_error_report(sorted([*report.errors, *report.warned], key=lambda r: r.line), target)
    except OSError as exc:
        return f"cannot write the skipped rows and warnings to {target}: {exc.strerror or exc} (use --errors PATH)"
    console.print(f"  {what}, with its line and reason" + (f" ({more})" if more else "") + f": {target}",
                  highlight=False, markup=False)
    return None


@prospects_app.command("unblock")
def unblock_cmd(
    sequence: Annotated[str | None, typer.Option(help="only the enrollments of this sequence")] = None,
    force: Annotated[bool, typer.Option("--force", help="also make enrollments blocked for other reasons "
                                                      "(a send that gave up, a template that failed) active again")] = False,
) -> None:
    """Re-check blocked enrollments: those blocked for missing fields go on once the fields are there."""
    ws = runtime.workspace()
    sequences: dict[str, Sequence] = {n: s.sequence for n, s in ws.sequences.items()}
    if sequence is not None:
        try:
            ws.sequence(sequence)
        except NotFoundError as exc:
            fail(str(exc))
    result = unblock(runtime.open_engine(ws.config), sequences, sequence=sequence, force=force)
    _print_unblock(result, force)


def _print_unblock(result: UnblockResult, force: bool) -> None:
    console.print(f"unblocked {result.unblocked:,} (missing fields now present), "
                  f"still missing fields {result.still_missing:,}"
                  + (f", forced {result.forced:,} blocked for other reasons" if force else "")
                  + (f", {result.no_sequence:,} of sequences not in the workspace (left alone)" if result.no_sequence else "")
                  + (f"; address now let through {result.address_ok:,}" if result.address_ok else "")
                  + (f", address still invalid or risky {result.address_still:,}" if result.address_still else ""),
                  highlight=False, markup=False)
    if result.other:
        console.print(f"{len(result.other):,} blocked for other reasons, left alone (--force makes them active again):",
                      highlight=False, markup=False)
        for row in result.other[:50]:
            console.print(f"  {row.email} ({row.sequence}): {row.reason}", highlight=False, markup=False, soft_wrap=True)
        if len(result.other) > 50:
            console.print(f"  ... and {len(result.other) - 50:,} more", highlight=False)


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1)
    except OSError:
        return None
