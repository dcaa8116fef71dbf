"""Workspace commands: init, validate, schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from outbound.app.workspace import inspect_workspace
from outbound.cli.context import config_path, console, err_console, fail
from outbound.errors import ConfigError, OutboundError
from outbound.spec.schema import KINDS, json_schema, write_schemas
from outbound.spec.workspace import Workspace

TEMPLATE = Path(__file__).resolve().parents[1] / "workspace_template"


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("validate")(validate)
    app.command("schema")(schema)


GITIGNORE = "gitignore"  # shipped without its dot: package-data globs skip hidden files


def _add_ignores(path: Path, template: str) -> None:
    """Write the workspace's .gitignore, or add the missing patterns to one that exists."""
    if not path.exists():
        path.write_text(template)
        return
    have = set(path.read_text().splitlines())
    missing = [line for line in template.splitlines() if line.startswith("/") or line.startswith("*")]
    missing = [line for line in missing if line not in have]
    if missing:
        with path.open("a") as f:
            f.write("\n# added by outbound init: the database and import reports hold personal data\n"
                    + "\n".join(missing) + "\n")


def init(directory: Annotated[Path, typer.Argument(help="folder to create the workspace in")]) -> None:
    """Create a new workspace (config.toml, example sequences and domains, JSON schemas)."""
    if directory.exists() and not directory.is_dir():
        fail(f"{directory} exists and is not a folder")
    clashes = sorted(p.name for p in TEMPLATE.iterdir() if p.name != GITIGNORE and (directory / p.name).exists())
    if clashes:
        fail(f"{directory} already has {', '.join(clashes)}; nothing was changed")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for item in TEMPLATE.iterdir():
            if item.name == "__pycache__":
                continue
            target = directory / item.name
            if item.name == GITIGNORE:
                _add_ignores(directory / ".gitignore", item.read_text())
            elif item.is_dir():
                shutil.copytree(item, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(item, target)
        write_schemas(directory / "schemas")
    except OSError as exc:
        fail(f"cannot create the workspace in {directory}: {exc.strerror or exc}")
    console.print(f"created workspace in {escape(str(directory))}: edit sequences/ and domains/, then run "
                  f"[bold]outbound --config {escape(str(directory / 'config.toml'))} validate[/]", highlight=False)


def validate() -> None:
    """Check config, every sequence, domain and template; print each problem as file:line:col."""
    try:
        ws = inspect_workspace(config_path())
    except ConfigError as exc:
        fail(str(exc))
    from outbound.cli.template_safety import check_sequence

    for loaded in ws.sequences.values():
        ws.problems.extend(check_sequence(loaded))
    problems = sorted(ws.problems, key=lambda p: (str(p.path), p.line or 0, p.column or 0))
    for p in problems:
        (err_console if p.severity == "error" else console).print(str(p), highlight=False, markup=False, soft_wrap=True)
    for line in live_enrollment_report(ws):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    errors = len(ws.errors)
    summary = (f"{len(ws.sequences)} sequence(s), {len(ws.domains)} domain(s), "
               f"{sum(len(d.mailboxes) for d in ws.domains.values())} mailbox(es): ")
    if errors:
        err_console.print(summary + f"{errors} error(s)", highlight=False)
        raise typer.Exit(1)
    console.print(summary + "ok", highlight=False)


def live_enrollment_report(ws: Workspace) -> list[str]:
    """``path: message`` for each way the sequence files as they are now change what live
    enrollments do next (a removed step they wait for, a new step some have passed), when the
    workspace's database exists; it is only read (no migration, nothing written)."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from outbound.engine.planner import StepGroup, edit_effects
    from outbound.store.db import make_engine
    from outbound.store.enrollments import sent_step_ids, step_counts
    from outbound.store.tables import EnrollmentState

    url = ws.config.database_url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return []  # the URL itself is reported wherever the database is opened
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
        return []  # no database yet: nothing is enrolled
    live = {EnrollmentState.active.value, EnrollmentState.paused.value, EnrollmentState.blocked.value}
    out: list[str] = []
    try:
        engine = make_engine(url)
        try:
            tables = inspect(engine)
            if not tables.has_table("enrollments"):
                return []
            if "done_steps" not in {c["name"] for c in tables.get_columns("enrollments")}:
                return ["live enrollments not checked against the sequence files: the database predates steps "
                        "followed by id (run `outbound db upgrade`)"]
            for name, loaded in sorted(ws.sequences.items()):
                groups = [StepGroup(c.state in live, c.state == EnrollmentState.completed.value, c.done_steps,
                                    c.next_step_id, c.next_step, c.count) for c in step_counts(engine, name)]
                if not any(g.live for g in groups):
                    continue
                out.extend(f"{loaded.path}: {message}"
                           for message in edit_effects(loaded.sequence, groups, sent_step_ids(engine, name)))
        finally:
            engine.dispose()
    except (SQLAlchemyError, OutboundError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return [f"live enrollments not checked against the sequence files: cannot read the database ({reason})"]
    return out


def schema(
    kind: Annotated[str | None, typer.Argument(help="sequence or domain; omit to write both files")] = None,
    out: Annotated[Path, typer.Option(help="folder for the .schema.json files")] = Path("schemas"),
) -> None:
    """Print the JSON Schema of one file kind, or write both next to the workspace."""
    if kind is None:
        try:
            written = write_schemas(out)
        except OSError as exc:
            fail(f"cannot write the schemas to {out}: {exc.strerror or exc}")
        for path in written:
            console.print(f"wrote {path}", highlight=False, markup=False)
        return
    if kind not in KINDS:
        fail(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    print(json.dumps(json_schema(kind), indent=2, sort_keys=True))
