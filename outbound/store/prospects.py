"""Prospect, account and suppression queries. Imports are batched: one query per batch, not per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, or_
from sqlmodel import Session, col, select

from outbound.prospects.values import STANDARD_FIELDS, ProspectData
from outbound.store.db import session_scope, utcnow
from outbound.store.tables import Account, Prospect, Suppression

_COLUMNS = tuple(f for f in STANDARD_FIELDS if f != "email")


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def to_data(row: Prospect) -> ProspectData:
    return ProspectData(email=row.email, **{c: getattr(row, c) for c in _COLUMNS}, fields=dict(row.fields or {}))


def upsert_prospects(engine: Engine, batch: list[ProspectData]) -> UpsertCounts:
    """Inserts new prospects and updates changed ones; an identical row is left untouched.

    A value missing from the new row never erases a stored one (a partial CSV does not wipe data).
    """
    counts = UpsertCounts()
    if not batch:
        return counts
    now = utcnow()
    with session_scope(engine) as session:
        emails = [p.email for p in batch]
        existing = {r.email: r for r in session.scalars(select(Prospect).where(col(Prospect.email).in_(emails)))}
        for data in batch:
            row = existing.get(data.email)
            if row is None:
                row = Prospect(email=data.email, **{c: getattr(data, c) for c in _COLUMNS},
                               fields=dict(data.fields), created_at=now, updated_at=now)
                session.add(row)
                existing[data.email] = row
                counts.inserted += 1
                continue
            changed = False
            for c in _COLUMNS:
                new = getattr(data, c)
                if new not in (None, "") and getattr(row, c) != new:
                    setattr(row, c, new)
                    changed = True
            merged = {**(row.fields or {}), **{k: v for k, v in data.fields.items() if v not in (None, "")}}
            if merged != (row.fields or {}):
                row.fields = merged
                changed = True
            if changed:
                row.updated_at = now
                counts.updated += 1
            else:
                counts.unchanged += 1
        _ensure_accounts(session, {d.company_domain: d.company for d in batch if d.company_domain})
    return counts


def _ensure_accounts(session: Session, domains: dict[str, str | None]) -> None:
    if not domains:
        return
    known = set(session.scalars(select(col(Account.domain)).where(col(Account.domain).in_(list(domains)))))
    now = utcnow()
    for domain, name in domains.items():
        if domain not in known:
            session.add(Account(domain=domain, name=name, created_at=now))


def get_prospect(engine: Engine, email: str) -> Prospect | None:
    with session_scope(engine) as session:
        return session.scalars(select(Prospect).where(col(Prospect.email) == email.strip().lower())).first()


def prospect_ids(engine: Engine, *, source: str | None = None, emails: Iterable[str] = ()) -> list[int]:
    with session_scope(engine) as session:
        query = select(col(Prospect.id))
        wanted = [e.strip().lower() for e in emails]
        if source is not None:
            query = query.where(col(Prospect.source) == source)
        if wanted:
            query = query.where(col(Prospect.email).in_(wanted))
        return [i for i in session.scalars(query.order_by(col(Prospect.id))) if i is not None]


# ---------------------------------------------------------------- suppression

def suppression_value(text: str) -> tuple[str, str]:
    """``'@Acme.com'`` -> ``('@acme.com', 'domain')``; ``'Bob@X.com'`` -> ``('bob@x.com', 'address')``."""
    v = text.strip().lower()
    return (v, "domain") if v.startswith("@") else (v, "address")


def suppress(engine: Engine, values: Iterable[str], reason: str) -> int:
    """Adds addresses or ``@domains``; returns how many were new. Existing entries keep their reason."""
    with session_scope(engine) as session:
        return suppress_in(session, values, reason, utcnow())


def suppress_in(session: Session, values: Iterable[str], reason: str, now: datetime) -> int:
    wanted = dict(suppression_value(v) for v in values if v.strip())
    if not wanted:
        return 0
    known = set(session.scalars(select(col(Suppression.value)).where(col(Suppression.value).in_(list(wanted)))))
    new = [Suppression(value=v, kind=k, reason=reason, created_at=now) for v, k in wanted.items() if v not in known]
    session.add_all(new)
    session.flush()
    return len(new)


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


def suppressed_among(session: Session, emails: list[str]) -> dict[str, str]:
    """Address -> reason for every suppressed address in the list, in two queries."""
    if not emails:
        return {}
    domains = {e: "@" + e.rsplit("@", 1)[-1] for e in emails}
    rows = session.scalars(select(Suppression).where(
        col(Suppression.value).in_(list(set(emails) | set(domains.values()))))).all()
    by_value = {r.value: r for r in rows}
    out: dict[str, str] = {}
    for e in emails:
        row = by_value.get(e) or by_value.get(domains[e])
        if row is not None:
            out[e] = f"suppressed ({row.value}): {row.reason}"
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
