"""``POST /events``: CRM signals pushed to the listener, signed like our webhooks (HMAC-SHA256 of the body in
``X-Outbound-Signature: sha256=<hex>``) and recorded once each by the sender's event ``id``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from outbound.scoring.outcomes_in import Accepted, OutcomeRow, make_row, record
from outbound.scoring.webhooks import verify

MAX_EVENTS_BODY = 1_000_000
MAX_EVENTS = 1000
SECRET_ENV = "OUTBOUND_EVENTS_SECRET"


@dataclass(frozen=True)
class EventsIntake:
    secret: bytes
    accepted: Accepted


def handle(engine: Engine, intake: EventsIntake, body: bytes, signature: str | None,
           now: datetime) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON answer) for one request; nothing is recorded unless the signature holds."""
    if not verify(intake.secret, body, signature):
        return 401, {"error": "bad or missing X-Outbound-Signature (sha256=HMAC-SHA256 of the body)"}
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return 400, {"error": f"invalid JSON: {exc}"}
    items = doc if isinstance(doc, list) else [doc]
    if len(items) > MAX_EVENTS:
        return 413, {"error": f"at most {MAX_EVENTS} events per request"}
    rows: list[OutcomeRow] = []
    problems: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object")
            event_id = str(item.get("id") or "").strip()
            if not event_id or len(event_id) > 200:
                raise ValueError("id is missing (each event needs the sender's own id, at most 200 characters)")
            row = make_row(item, n, now, intake.accepted)
            rows.append(OutcomeRow(row.email, row.type, row.at, row.note, n, row.data, event_id))
        except ValueError as exc:
            problems.append({"index": n, "error": str(exc)})
    result = record(engine, rows, origin="api", path="POST /events")
    problems += [{"index": p.line, "error": p.message} for p in result.problems]
    return (200 if rows or not problems else 400), {"recorded": result.recorded, "duplicates": result.duplicates,
                                                    "problems": problems}
