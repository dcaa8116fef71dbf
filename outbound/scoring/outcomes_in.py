"""Outcomes from a CRM or by hand: ``events add`` and ``events import`` (csv or jsonl: email,type,at,note)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.errors import Problem
from outbound.store.db import session_scope
from outbound.store.tables import Event, Prospect

ALLOWED = ev.CRM_TYPES  # the types defined with crm=True


@dataclass(frozen=True)
class OutcomeRow:
    email: str
    type: str
    at: datetime
    note: str | None = None
    line: int = 0


@dataclass
class RecordResult:
    recorded: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)


def parse_time(text: str | None, default: datetime) -> datetime:
    """ISO 8601 date or time; a naive value is UTC. ValueError with a readable message otherwise."""
    if text is None or not str(text).strip():
        return default
    try:
        at = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time such as 2026-12-01 or 2026-12-01T09:30:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def make_row(values: dict[str, Any], line: int, default_at: datetime) -> OutcomeRow:
    email = str(values.get("email") or "").strip().lower()
    kind = str(values.get("type") or "").strip().lower()
    if "@" not in email:
        raise ValueError(f"email {email!r} is not an address" if email else "email is missing")
    if kind not in ALLOWED:
        raise ValueError(f"type {kind!r} is not one of: {', '.join(ALLOWED)}" if kind else "type is missing")
    note = values.get("note")
    return OutcomeRow(email, kind, parse_time(values.get("at"), default_at), str(note) if note not in (None, "") else None, line)


def parse_file(path: Path, default_at: datetime) -> tuple[list[OutcomeRow], list[Problem]]:
    """Rows of a .csv (header: email,type,at,note) or .jsonl file; bad rows become problems and are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(path, f"cannot read: {exc}")]
    rows: list[OutcomeRow] = []
    problems: list[Problem] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                values = json.loads(line)
                if not isinstance(values, dict):
                    raise ValueError("expected a JSON object")
                rows.append(make_row(values, n, default_at))
            except json.JSONDecodeError as exc:
                problems.append(Problem(path, f"invalid JSON: {exc.msg}", n, exc.colno))
            except ValueError as exc:
                problems.append(Problem(path, str(exc), n))
        return rows, problems
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in header or "type" not in header:
        return [], [Problem(path, "the header needs the columns email and type (and optionally at, note)", 1)]
    reader.fieldnames = header
    for record_ in reader:
        n = reader.line_num
        try:
            rows.append(make_row(dict(record_), n, default_at))
        except ValueError as exc:
            problems.append(Problem(path, str(exc), n))
    return rows, problems


def record(engine: Engine, rows: list[OutcomeRow], *, origin: str, path: Path | str = "-") -> RecordResult:
    """Writes one event per row (once: re-importing the same file adds nothing); unknown addresses are problems."""
    result = RecordResult()
    with session_scope(engine) as session:
        emails = sorted({r.email for r in rows})
        ids: dict[str, int] = {}
        for i in range(0, len(emails), 1000):
            ids.update((e, int(p)) for e, p in session.execute(
                select(Prospect.email, Prospect.id).where(col(Prospect.email).in_(emails[i:i + 1000]))))
        keys = {r: f"{origin}:{r.email}:{r.type}:{r.at.isoformat()}" for r in rows if r.email in ids}
        known: set[str] = set()
        values = list(keys.values())
        for i in range(0, len(values), 1000):
            known.update(k for k in session.scalars(select(Event.dedupe_key).where(
                col(Event.dedupe_key).in_(values[i:i + 1000]))) if k)
        for r in rows:
            if r.email not in ids:
                result.problems.append(Problem(path, f"no prospect with the address {r.email}", r.line or None))
                continue
            key = keys[r]
            if key in known:
                result.duplicates += 1
                continue
            known.add(key)
            data: dict[str, Any] = {"by": origin}
            if r.note:
                data["note"] = r.note
            session.add(Event(type=r.type, at=r.at, prospect_id=ids[r.email], dedupe_key=key, data=data))
            result.recorded += 1
    return result
