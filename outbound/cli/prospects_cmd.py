"""Prospect commands: import from CSV (with optional enrollment), re-check blocked enrollments, one
person's view (`prospects show`) and the list (`prospects list`)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, err_console, fail
from outbound.cli.tables import show
from outbound.cli.verify_cmd import print_report, run_verify, verify_cmd
from outbound.core import events as ev
from outbound.errors import NotFoundError
from outbound.prospects.csv_import import inspect_prospect_file, write_error_report
from outbound.prospects.errors import ImportFileError
from outbound.spec.sequence import Sequence
from outbound.spec.workspace import read_workspace
from outbound.store.db import utcnow
from outbound.store.enrollments import UnblockResult, enroll, unblock
from outbound.store.importer import ImportReport, import_prospects
from outbound.store.people import TimelineItem, people, person
from outbound.store.prospects import prospect_ids
from outbound.store.tables import EnrollmentState
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


def _what(item: TimelineItem) -> str:
    """One line of a person's timeline."""
    d = item.data
    if item.type == ev.SENT:
        return f"step {d.get('step') or '?'}: {item.subject or ''}".strip()
    if item.type == ev.REPLIED:
        text = " / ".join(line.strip() for line in str(d.get("text") or "").splitlines() if line.strip())
        return f"intent {d.get('intent') or '—'}: {text[:300]}"
    if item.type == ev.BOUNCED:
        return f"{'hard' if d.get('hard') or d.get('outcome') == 'hard_bounce' else 'soft'}: {d.get('reason') or ''}"
    if item.type in (ev.OPENED, ev.CLICKED):
        return (str(d.get("url") or "") + (" (machine)" if d.get("machine") else "")).strip()
    if item.type == ev.REPLY_ANSWERED:
        return f"answered: {item.subject or ''}"
    if item.type == ev.REPLY_FORWARDED:
        return f"to {d.get('to') or '?'}: {d.get('outcome') or ''}" + (f" ({d['reason']})" if d.get("reason") else "")
    return str(d.get("reason") or d.get("note") or d.get("how") or d.get("subject") or "")


def _item_json(item: TimelineItem) -> dict[str, Any]:
    return {"id": item.id, "at": item.at.isoformat(), "type": item.type, "sequence": item.sequence,
            "mailbox": item.mailbox, "subject": item.subject, "intent": item.data.get("intent"),
            "text": item.data.get("text"), "detail": _what(item)}


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else ""


@prospects_app.command("show")
def show_cmd(
    email: Annotated[str, typer.Argument(help="the prospect's address")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """One person: fields, source, account, every enrollment with its state and reason, the timeline
    of events (sends, replies with intent and text, bounces, opens and clicks), score and hot flag."""
    found = person(runtime.open_engine(), email)
    if found is None:
        fail(f"no prospect {email.strip().lower()}")
    p, acc = found.prospect, found.account
    if as_json:
        print(json.dumps({
            "email": p.email, "first_name": p.first_name, "last_name": p.last_name, "company": p.company,
            "company_domain": p.company_domain, "title": p.title, "timezone": p.timezone, "source": p.source,
            "fields": p.fields, "verify_status": p.verify_status, "hot": p.hot, "score": found.score,
            "account": None if acc is None else {"domain": acc.domain, "name": acc.name, "stopped": acc.stopped_reason},
            "enrollments": [{"sequence": e.sequence, "state": e.state, "reason": e.reason, "next_step": e.next_step + 1,
                             "next_due_at": e.next_due_at.isoformat() if e.next_due_at else None, "mailbox": e.mailbox}
                            for e in found.enrollments],
            "timeline": [_item_json(i) for i in found.timeline]}, ensure_ascii=False, indent=2, default=str))
        return
    name = " ".join(x for x in (p.first_name, p.last_name) if x)
    lines = [f"{name} <{p.email}>" if name else p.email,
             *(f"  {label}: {value}" for label, value in (
                 ("title", p.title), ("company", p.company), ("timezone", p.timezone), ("source", p.source),
                 ("address check", p.verify_status)) if value),
             f"  account: {acc.domain if acc else p.company_domain or '—'}"
             + (f" (stopped: {acc.stopped_reason})" if acc and acc.stopped_reason else ""),
             f"  score: {found.score:.1f}" if found.score is not None else "  score: —",
             f"  hot: {'yes' if p.hot else 'no'}"]
    lines += [f"  {k}: {v}" for k, v in sorted(p.fields.items())]
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if found.enrollments:
        table = Table(Column("sequence", no_wrap=True), Column("state", no_wrap=True), Column("next", no_wrap=True),
                      Column("mailbox", no_wrap=True), "reason", title="Enrollments")
        for e in found.enrollments:
            upcoming = e.state in (EnrollmentState.active, EnrollmentState.paused, EnrollmentState.blocked)
            table.add_row(escape(e.sequence), e.state,
                          f"step {e.next_step + 1} {_when(e.next_due_at)}".strip() if upcoming else "",
                          escape(e.mailbox or ""), escape(e.reason or ""))
        show(table)
    if found.timeline:
        table = Table(Column("at", no_wrap=True), Column("event", no_wrap=True), Column("sequence", no_wrap=True),
                      "detail", title="Timeline")
        for item in found.timeline:
            table.add_row(_when(item.at), item.type, escape(item.sequence or ""), escape(_what(item)))
        show(table)


@prospects_app.command("list")
def list_cmd(
    sequence: Annotated[str | None, typer.Option(help="only prospects enrolled in this sequence")] = None,
    state: Annotated[str | None, typer.Option(help="only those with an enrollment in this state "
                                              "(active, paused, blocked, completed, stopped)")] = None,
    hot: Annotated[bool, typer.Option("--hot", help="only hot prospects")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
    limit: Annotated[int, typer.Option(help="at most this many (by address)")] = 1000,
) -> None:
    """Prospects with their enrollments, score and hot flag."""
    states = [s.value for s in EnrollmentState]
    if state is not None and state not in states:
        fail(f"--state {state!r}: expected one of {', '.join(states)}")
    rows = people(runtime.open_engine(), sequence=sequence, state=state, hot=hot, limit=limit)
    if as_json:
        print(json.dumps([{"email": r.email, "name": r.name, "company": r.company, "source": r.source, "hot": r.hot,
                           "score": r.score, "enrollments": [{"sequence": s, "state": st} for s, st in r.enrollments]}
                          for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print("no prospects match", highlight=False)
        return
    table = Table(Column("email", no_wrap=True), "name", "company", Column("source", no_wrap=True), "enrollments",
                  Column("score", no_wrap=True), Column("hot", no_wrap=True), title=f"Prospects ({len(rows)})")
    for r in rows:
        table.add_row(escape(r.email), escape(r.name), escape(r.company or ""), escape(r.source or ""),
                      escape(", ".join(f"{s} {st}" for s, st in r.enrollments)),
                      f"{r.score:.1f}" if r.score is not None else "", "hot" if r.hot else "")
    show(table)
