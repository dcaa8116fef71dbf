"""Reply commands: the unified inbox (`outbound replies`), a reply's thread, answering and marking done."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli import runtime
from outbound.cli.context import console, fail
from outbound.cli.tables import show
from outbound.engine.context import EngineContext
from outbound.errors import OutboundError
from outbound.scoring.outcomes_in import parse_time
from outbound.store.replies import Reply

replies_app = typer.Typer(help="Replies across every mailbox: list, read the thread, answer, mark done.",
                          invoke_without_command=True)
NO_INTENT = "—"


def register(app: typer.Typer) -> None:
    app.add_typer(replies_app, name="replies")


def _now() -> datetime:
    return datetime.now(UTC)


def _context() -> EngineContext:
    return runtime.context(runtime.workspace(), signs=False)  # nothing is rendered: no signing secret needed


def _first_lines(text: str, lines: int = 2, width: int = 120) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()][:lines]
    short = " / ".join(kept)
    return short if len(short) <= width else short[:width - 1] + "…"


def _step(r: Reply) -> str:
    if r.sequence is None:
        return ""
    step = f" {r.step_index + 1}" if r.step_index is not None else ""
    return f"{r.sequence}{step}" + (f" ({r.step})" if r.step else "")


def reply_json(r: Reply) -> dict[str, Any]:
    return {"id": r.id, "received": r.at.isoformat(), "email": r.email, "name": r.name, "company": r.company,
            "mailbox": r.mailbox, "sequence": r.sequence, "step": r.step,
            "step_number": r.step_index + 1 if r.step_index is not None else None, "intent": r.intent,
            "subject": r.subject, "text": r.text, "message_id": r.message_id,
            "state": r.handled or "open", "referral": r.data.get("referral"), "follow_up_on": r.data.get("follow_up_on")}


@replies_app.callback()
def replies(
    ctx: typer.Context,
    intent: Annotated[str | None, typer.Option(help="only replies of this intent (none: those without one)")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only replies nobody answered or marked done")] = False,
    mailbox: Annotated[str | None, typer.Option(help="only replies received by this mailbox")] = None,
    since: Annotated[str | None, typer.Option(help="only replies received from this date (ISO 8601)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every reply across mailboxes, newest first: who, company, sequence and step, intent, first lines,
    received, handled or open."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        start = parse_time(since, _now()) if since else None
    except ValueError as exc:
        fail(f"--since {exc}")
    from outbound.app.replies import inbox

    rows = inbox(_context(), intent=intent, open_only=open_only, mailbox=mailbox, since=start)
    if as_json:
        print(json.dumps([reply_json(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print("no replies" + (" match" if intent or open_only or mailbox or since else ""), highlight=False)
        return
    table = Table(Column("id", no_wrap=True), Column("from", no_wrap=True), "company", Column("sequence", no_wrap=True),
                  Column("intent", no_wrap=True), "first lines", Column("received", no_wrap=True),
                  Column("state", no_wrap=True), title=f"Replies ({len(rows)})")
    for r in rows:
        who = f"{r.name} <{r.email}>" if r.name else r.email
        table.add_row(str(r.id), escape(who), escape(r.company or ""), escape(_step(r)), escape(r.intent or NO_INTENT),
                      escape(_first_lines(r.text)), r.at.strftime("%Y-%m-%d %H:%M"), r.handled or "open")
    show(table)


def _reply_id(ctx: EngineContext, reply_id: int) -> Reply:
    from outbound.app.replies import find

    try:
        return find(ctx, reply_id)
    except OutboundError as exc:
        fail(str(exc))


@replies_app.command("show")
def show_cmd(
    reply_id: Annotated[int, typer.Argument(metavar="ID", help="the reply's id (`outbound replies`)")],
    as_json: Annotated[bool, typer.Option("--json", help="the reply and its thread as JSON")] = False,
) -> None:
    """The thread of a reply: our messages and theirs, in order."""
    from outbound.store.replies import thread

    ctx = _context()
    reply = _reply_id(ctx, reply_id)
    items = thread(ctx.engine, reply)
    if as_json:
        print(json.dumps({"reply": reply_json(reply), "thread": [
            {"at": i.at.isoformat(), "direction": i.direction, "what": i.what, "mailbox": i.mailbox,
             "subject": i.subject, "text": i.text, "message_id": i.message_id} for i in items]},
            ensure_ascii=False, indent=2))
        return
    head = f"reply {reply.id} from {reply.email}" + (f" ({reply.company})" if reply.company else "")
    console.print(f"{head}; intent {reply.intent or NO_INTENT}; {reply.handled or 'open'}", highlight=False,
                  markup=False)
    for item in items:
        arrow = "→" if item.direction == "out" else "←"
        console.print(f"\n{arrow} {item.at.strftime('%Y-%m-%d %H:%M')} {item.what} · {item.mailbox or ''}",
                      highlight=False, markup=False)
        console.print(f"  Subject: {item.subject}", highlight=False, markup=False)
        text = item.text if item.text is not None else "(the step's text is not stored: `outbound preview` renders it)"
        for line in text.splitlines() or [""]:
            console.print(f"  {line}", highlight=False, markup=False)


@replies_app.command("answer")
def answer_cmd(
    reply_id: Annotated[int, typer.Argument(metavar="ID", help="the reply's id (`outbound replies`)")],
    body_file: Annotated[Path, typer.Option("--body-file", help="the answer, plain text (UTF-8)")],
) -> None:
    """Answer a reply in its thread from the mailbox that received it, and mark it handled."""
    from outbound.app.replies import answer

    try:
        body = body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {body_file}: {getattr(exc, 'strerror', None) or exc}")
    ctx = _context()
    try:
        sent = answer(ctx, reply_id, body, _now())
    except OutboundError as exc:
        fail(str(exc))
    console.print(f"answered reply {reply_id}: sent to {sent.to} from {sent.mailbox} ({sent.subject}); marked handled"
                  + (f"; {sent.sent_copy}" if sent.sent_copy else ""), highlight=False, markup=False)


@replies_app.command("done")
def done_cmd(
    reply_id: Annotated[int, typer.Argument(metavar="ID", help="the reply's id (`outbound replies`)")],
) -> None:
    """Mark a reply handled without answering it from here."""
    from outbound.app.replies import done

    ctx = _context()
    try:
        new = done(ctx, reply_id, _now())
    except OutboundError as exc:
        fail(str(exc))
    console.print(f"reply {reply_id} marked done" if new else f"reply {reply_id} was already handled",
                  highlight=False)
