"""Outcomes from a CRM or by hand: ``events add`` and ``events import`` (csv or jsonl: email,type,at,note)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from outbound.core import events as ev
from outbound.errors import Problem
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import Complaint, CrmOutcome, Fact, HumanReply, OptOut
from outbound.store import lookups
from outbound.store.db import session_scope, utcnow
from outbound.store.effects import Subject, apply

ALLOWED = ev.CRM_TYPES  # the types defined with crm=True


@dataclass(frozen=True)
class OutcomeRow:
    email: str
    type: str
    at: datetime
    note: str | None = None
    line: int = 0
    data: tuple[tuple[str, str], ...] = ()   # a workspace type's declared fields, as given
    event_id: str | None = None              # the sender's own id (POST /events): the row's dedupe key


@dataclass(frozen=True)
class Accepted:
    """The types a row may have (``crm_types`` of the workspace's catalogue) and each own type's fields."""

    types: tuple[str, ...] = ALLOWED
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, catalogue: ev.Catalogue, custom: Mapping[str, ev.EventType]) -> Accepted:
        return cls(catalogue.crm_types, {name: tuple(f for f in t.fields if f not in ("by", "note"))
                                         for name, t in custom.items()})


@dataclass
class RecordResult:
    recorded: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # what the recorded events changed, in words


def parse_time(text: str | None, default: datetime) -> datetime:
    """ISO 8601 date or time; a naive value is UTC. ValueError with a readable message otherwise."""
    if text is None or not str(text).strip():
        return default
    try:
        at = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time such as 2026-12-01 or 2026-12-01T09:30:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def make_row(values: dict[str, Any], line: int, default_at: datetime, accepted: Accepted | None = None) -> OutcomeRow:
    accepted = accepted or Accepted()
    email = str(values.get("email") or "").strip().lower()
    kind = str(values.get("type") or "").strip().lower()
    if "@" not in email:
        raise ValueError(f"email {email!r} is not an address" if email else "email is missing")
    if kind not in accepted.types:
        raise ValueError(f"type {kind!r} is not one of: {', '.join(accepted.types)}" if kind else "type is missing")
    note = values.get("note")
    data = tuple((f, str(values[f])) for f in accepted.fields.get(kind, ()) if values.get(f) not in (None, ""))
    return OutcomeRow(email, kind, parse_time(values.get("at"), default_at), str(note) if note not in (None, "") else None,
                      line, data)


def parse_file(path: Path, default_at: datetime, accepted: Accepted | None = None) -> tuple[list[OutcomeRow], list[Problem]]:
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
                rows.append(make_row(values, n, default_at, accepted))
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
            rows.append(make_row(dict(record_), n, default_at, accepted))
        except ValueError as exc:
            problems.append(Problem(path, str(exc), n))
    return rows, problems


def record(engine: Engine, rows: list[OutcomeRow], *, origin: str, path: Path | str = "-") -> RecordResult:
    """Writes one event per row (once: re-importing the same file adds nothing), with the effects
    the rulebook gives that event by any path: an unsubscribe or complaint suppresses the address and
    stops the prospect's enrollments, a reply stops them. Unknown addresses are problems."""
    result = RecordResult()
    now = utcnow()
    with session_scope(engine) as session:
        ids = lookups.prospect_ids(session, (r.email for r in rows))
        keys = {r: f"{origin}:id:{r.event_id}" if r.event_id else f"{origin}:{r.email}:{r.type}:{r.at.isoformat()}"
                for r in rows if r.email in ids}
        known = lookups.known_event_keys(session, keys.values())
        mailboxes = lookups.last_mailboxes(session, ids.values())
        domains = lookups.company_domains(session, ids.values())
        for r in rows:
            if r.email not in ids:
                result.problems.append(Problem(path, f"no prospect with the address {r.email}", r.line or None))
                continue
            key = keys[r]
            if key in known:
                result.duplicates += 1
                continue
            known.add(key)
            pid = ids[r.email]
            data: dict[str, Any] = {"by": origin, **dict(r.data)}
            if r.note:
                data["note"] = r.note
            subject = Subject(prospect_id=pid, company_domain=domains.get(pid))
            applied = apply(session, decide(crm_fact(r, pid, mailboxes.get(pid))), subject, now, key=key, extra=data)
            result.actions += [f"{r.email}: {a}" for a in applied.actions]
            result.recorded += 1
    return result


def crm_fact(row: OutcomeRow, prospect_id: int, mailbox: str | None) -> Fact:
    """The rulebook fact an outcome row is: the same as that event by any other path."""
    if row.type == ev.UNSUBSCRIBED:
        return OptOut(row.email, "crm", row.at, prospect_id, mailbox=mailbox)
    if row.type == ev.COMPLAINED:
        return Complaint(row.email, "crm", row.at, prospect_id, mailbox=mailbox)
    if row.type == ev.REPLIED:
        return HumanReply(row.at, prospect_id, who=row.email, via="crm")
    return CrmOutcome(row.type, prospect_id, row.at)
