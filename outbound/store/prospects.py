"""Prospect, account and suppression queries. Imports are batched: one query per batch, not per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, distinct, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from outbound.prospects.values import STANDARD_FIELDS, ProspectData
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import Account, Prospect, Send, SendState, Suppression

_COLUMNS = tuple(f for f in STANDARD_FIELDS if f != "email")
IN_CHUNK = 5000  # keeps an IN list under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def table_of(model: type[SQLModel]) -> Table:
    """The core table of a model, for bulk statements that skip ORM objects."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


_PROSPECTS = table_of(Prospect)


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_ids: list[int] = field(default_factory=list)  # the stored prospects that changed


def to_data(row: Prospect) -> ProspectData:
    return ProspectData(email=row.email, **{c: getattr(row, c) for c in _COLUMNS}, fields=dict(row.fields or {}))


def upsert_prospects(engine: Engine, batch: list[ProspectData]) -> UpsertCounts:
    """Inserts new prospects and updates changed ones; an identical row is left untouched.

    A value missing from the new row never erases a stored one (a partial CSV does not wipe data).
    Core statements, not ORM objects: one select, one multi-row insert and one executemany update
    per batch (building ORM instances cost ~20 s per 100,000 rows).
    """
    counts = UpsertCounts()
    if not batch:
        return counts
    now = utcnow()
    emails = list(dict.fromkeys(p.email for p in batch))
    with engine.begin() as conn:
        result = conn.execute(sa_select(*prospect_columns()).where(_PROSPECTS.c.email.in_(emails)))
        keys = list(result.keys())
        stored: dict[str, dict[str, Any]] = {row[1]: dict(zip(keys, row, strict=True)) for row in result}
        new: dict[str, dict[str, Any]] = {}
        changed: dict[str, dict[str, Any]] = {}
        for data in batch:
            row = stored.get(data.email) or new.get(data.email)
            if row is None:
                new[data.email] = {"email": data.email, **{c: getattr(data, c) for c in _COLUMNS},
                                   "fields": dict(data.fields), "hot": False, "created_at": now, "updated_at": now}
                counts.inserted += 1
            elif _merge(row, data):
                counts.updated += 1
                if data.email in stored:
                    changed[data.email] = row
            else:
                counts.unchanged += 1
        if new:
            conn.execute(insert(_PROSPECTS), list(new.values()))
        if changed:
            counts.updated_ids.extend(r["id"] for r in changed.values())
            conn.execute(update(_PROSPECTS).where(_PROSPECTS.c.id == bindparam("row_id")),
                         [{"row_id": r["id"], **{c: r[c] for c in _COLUMNS}, "fields": r["fields"], "updated_at": now}
                          for r in changed.values()])
        _ensure_accounts(conn, {d.company_domain: d.company for d in batch if d.company_domain}, now)
    return counts


def prospect_columns() -> list[Any]:
    """id, email, the standard columns and fields: what ``prospect_data`` needs from a core select."""
    return [_PROSPECTS.c.id, _PROSPECTS.c.email, *(_PROSPECTS.c[c] for c in _COLUMNS), _PROSPECTS.c.fields]


def prospect_data(row: Any) -> ProspectData:
    """A ``ProspectData`` from a core row selected with ``prospect_columns()``."""
    return ProspectData(email=row.email, **{c: getattr(row, c) for c in _COLUMNS}, fields=dict(row.fields or {}))


def _merge(row: dict[str, Any], data: ProspectData) -> bool:
    """Copies the non-blank values of ``data`` into ``row``; True when something changed."""
    changed = False
    for c in _COLUMNS:
        value = getattr(data, c)
        if value not in (None, "") and row[c] != value:
            row[c] = value
            changed = True
    old = row["fields"] or {}
    merged = {**old, **{k: v for k, v in data.fields.items() if v not in (None, "")}}
    if merged != old:
        row["fields"] = merged
        changed = True
    return changed


def _ensure_accounts(conn: Connection, domains: dict[str, str | None], now: datetime) -> None:
    if not domains:
        return
    accounts = table_of(Account)
    known = set(conn.scalars(sa_select(accounts.c.domain).where(accounts.c.domain.in_(list(domains)))))
    missing = [{"domain": d, "name": n, "created_at": now} for d, n in domains.items() if d not in known]
    if missing:
        conn.execute(insert(accounts), missing)


def stopped_accounts_among(session: Session | Connection, domains: Iterable[str | None]) -> dict[str, str]:
    """Company domain -> why, for each stopped account among these (``stop_account`` or
    ``stop_account_on_reply`` set its reason), in one query per 5,000 domains."""
    wanted = list({d for d in domains if d})
    if not wanted:
        return {}
    table = table_of(Account)
    out: dict[str, str] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        query = sa_select(table.c.domain, table.c.stopped_reason).where(
            table.c.domain.in_(wanted[start:start + IN_CHUNK]), table.c.stopped_reason.is_not(None))
        out.update((domain, f"account {domain} stopped: {reason}") for domain, reason in session.execute(query))
    return out


# a send in one of these states went out, or may have: it is a touch of the prospect's company
_TOUCHED = tuple(s.value for s in (SendState.claimed, SendState.sending, SendState.sent, SendState.unknown,
                                   SendState.bounced))


def first_touches_by_account(session: Session | Connection, sequence: str, domains: Iterable[str | None],
                             since: datetime) -> dict[str, int]:
    """Company domain -> prospects whose first step of ``sequence`` was claimed since ``since`` and went
    out or may have (a skipped step, or one refused before it left, such as an AUTH failure that is
    retried, is no touch), for the sequence's ``account_daily_limit``; one query per 5,000 domains."""
    wanted = list({d for d in domains if d})
    if not wanted:
        return {}
    sends = table_of(Send)
    out: dict[str, int] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        query = (sa_select(_PROSPECTS.c.company_domain, func.count(distinct(sends.c.prospect_id)))
                 .select_from(sends.join(_PROSPECTS, _PROSPECTS.c.id == sends.c.prospect_id))
                 .where(sends.c.sequence_name == sequence, sends.c.step_index == 0, sends.c.claimed_at >= since,
                        sends.c.state.in_(_TOUCHED),
                        _PROSPECTS.c.company_domain.in_(wanted[start:start + IN_CHUNK]))
                 .group_by(_PROSPECTS.c.company_domain))
        out.update((str(domain), int(n)) for domain, n in session.execute(query))
    return out


def get_prospect(engine: Engine, email: str) -> Prospect | None:
    with session_scope(engine) as session:
        return session.scalars(select(Prospect).where(col(Prospect.email) == email.strip().lower())).first()


def prospect_ids(engine: Engine, *, source: str | None = None, emails: Iterable[str] = ()) -> list[int]:
    """Ids in id order of the prospects of ``source`` and/or with these addresses (any number of them)."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails))
    with session_scope(engine) as session:
        query = select(col(Prospect.id))
        if source is not None:
            query = query.where(col(Prospect.source) == source)
        if not wanted:
            return [i for i in session.scalars(query.order_by(col(Prospect.id))) if i is not None]
        found: set[int] = set()
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start:start + IN_CHUNK]
            found.update(i for i in session.scalars(query.where(col(Prospect.email).in_(chunk))) if i is not None)
        return sorted(found)


# ---------------------------------------------------------------- suppression

def suppression_value(text: str) -> tuple[str, str]:
    """``'@Acme.com'`` -> ``('@acme.com', 'domain')``; ``'Bob@X.com'`` -> ``('bob@x.com', 'address')``."""
    v = text.strip().lower()
    return (v, "domain") if v.startswith("@") else (v, "address")


def unsuppress(engine: Engine, value: str) -> bool:
    with session_scope(engine) as session:
        result = session.execute(delete(Suppression).where(col(Suppression.value) == suppression_value(value)[0]))
        return bool(getattr(result, "rowcount", 0))


def suppressed_reason(session: Session, email: str) -> str | None:
    """Why an address may not be mailed (its own entry or its domain's), else None."""
    email = email.lower()
    domain = "@" + email.rsplit("@", 1)[-1]
    row = session.scalars(select(Suppression).where(or_(col(Suppression.value) == email, col(Suppression.value) == domain))).first()
    return None if row is None else f"suppressed ({row.value}): {row.reason}"


def suppressed_among(session: Session | Connection, emails: list[str]) -> dict[str, str]:
    """Address -> reason for every suppressed address in the list, in one query per 5,000 values."""
    if not emails:
        return {}
    domains = {e: "@" + e.rsplit("@", 1)[-1] for e in emails}
    values = list(set(emails) | set(domains.values()))
    table = table_of(Suppression)
    by_value: dict[str, str] = {}
    for start in range(0, len(values), IN_CHUNK):
        query = sa_select(table.c.value, table.c.reason).where(table.c.value.in_(values[start:start + IN_CHUNK]))
        by_value.update((value, reason) for value, reason in session.execute(query))
    out: dict[str, str] = {}
    for e in emails:
        value = e if e in by_value else domains[e]
        if value in by_value:
            out[e] = f"suppressed ({value}): {by_value[value]}"
    return out


def list_suppressions(engine: Engine, limit: int | None = None) -> list[Suppression]:
    with session_scope(engine) as session:
        query = select(Suppression).order_by(col(Suppression.created_at).desc(), Suppression.value)
        if limit:
            query = query.limit(limit)
        return list(session.scalars(query))


def count_prospects(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Prospect)) or 0)
