"""Small reads that several paths need before they ask the rulebook."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session

from outbound.store.tables import Event, Prospect, Send

_P = Prospect.__table__  # type: ignore[attr-defined]
_S = Send.__table__  # type: ignore[attr-defined]
_EV = Event.__table__  # type: ignore[attr-defined]
_CHUNK = 1000


def prospect_ids(session: Session, emails: Iterable[str]) -> dict[str, int]:
    """Address -> prospect id for the known ones."""
    wanted = sorted(set(emails))
    out: dict[str, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        out.update((str(e), int(p)) for e, p in session.connection().execute(
            select(_P.c.email, _P.c.id).where(_P.c.email.in_(wanted[i:i + _CHUNK]))))
    return out


def company_domains(session: Session, ids: Iterable[int]) -> dict[int, str | None]:
    wanted = sorted(set(ids))
    out: dict[int, str | None] = {}
    for i in range(0, len(wanted), _CHUNK):
        out.update((int(p), d) for p, d in session.connection().execute(
            select(_P.c.id, _P.c.company_domain).where(_P.c.id.in_(wanted[i:i + _CHUNK]))))
    return out


def known_event_keys(session: Session, keys: Iterable[str]) -> set[str]:
    wanted = sorted(set(keys))
    out: set[str] = set()
    for i in range(0, len(wanted), _CHUNK):
        out.update(str(k) for (k,) in session.connection().execute(
            select(_EV.c.dedupe_key).where(_EV.c.dedupe_key.in_(wanted[i:i + _CHUNK]))))
    return out


def last_mailboxes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Prospect id -> the mailbox of the newest send to them (who a complaint counts against)."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = session.connection().execute(select(_S.c.prospect_id, _S.c.mailbox).where(
            _S.c.prospect_id.in_(wanted[i:i + _CHUNK])).order_by(_S.c.id))
        out.update((int(p), str(m)) for p, m in rows)  # the newest wins
    return out
