"""`outbound classify FILE... [--json]`: classify raw messages (bounces, replies, complaints) from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli import context
from outbound.cli.tables import show


def _read(path: Path) -> bytes | str:
    """The file's bytes, or an error message for the user."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "is a directory"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return exc.strerror or "cannot read"


def classify_files(
    files: Annotated[list[Path], typer.Argument(help="Raw message files (.eml) to classify.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """Classify inbound mail: hard/soft bounce, auto-reply, human reply, unsubscribe, complaint..."""
    from outbound.inbox.classify import classify

    failed = 0
    table = Table(*[Column(h, no_wrap=True) for h in ("file", "kind", "intent", "recipients", "status")], "reason",
                  *[Column(h, no_wrap=True) for h in ("return date", "follow up on", "referral")])
    for path in files:
        raw = _read(path)
        if isinstance(raw, str):
            failed += 1
            if as_json:
                context.console.out(json.dumps({"file": str(path), "error": raw}), highlight=False)
            context.err_console.print(f"[bold red]error:[/] {path}: {raw}", highlight=False)
            continue
        result = classify(raw)
        row = {"file": str(path), **result.as_json()}
        if as_json:
            context.console.out(json.dumps(row, ensure_ascii=False), highlight=False)
        else:
            table.add_row(
                escape(str(path)),
                result.kind,
                result.intent or "",
                escape(", ".join(result.recipients)),
                result.status or "",
                escape(result.reason or ""),
                result.return_date.isoformat() if result.return_date else "",
                result.follow_up_on.isoformat() if result.follow_up_on else "",
                escape(str((result.referral or {}).get("email") or "")),
            )
    if not as_json and table.row_count:
        show(table)
    if failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app."""
    app.command("classify")(classify_files)
