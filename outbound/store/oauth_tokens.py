"""Reading and writing the sealed OAuth2 tokens of the mailboxes (the rows of ``oauth_tokens``).

Every write is one conditional UPDATE or an upsert, so daemons sharing a database agree on who
refreshes: :func:`take_refresh` is won by one worker at a time, and only its result is stored.
Values here are sealed already: this module never sees a token in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from outbound.rulebook.decide import decide
from outbound.rulebook.facts import TokenRefused
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply
from outbound.store.token_tables import OAuthToken

_T = OAuthToken.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TokenRow:
    mailbox: str
    provider: str
    sealed_refresh: str
    sealed_access: str | None
    access_expires_at: datetime | None
    generation: int
    connected_at: datetime
    refreshed_at: datetime | None
    refresh_until: datetime | None
    failing_since: datetime | None
    failure: str | None
    refused_at: datetime | None


def _row(r: object) -> TokenRow:
    return TokenRow(**{name: getattr(r, name) for name in TokenRow.__dataclass_fields__})


def save_connected(engine: Engine, mailbox: str, provider: str, sealed_refresh: str, now: datetime, *,
                   sealed_access: str | None = None, expires_at: datetime | None = None) -> None:
    """A mailbox (re)connected: its new refresh token replaces the old one, failures are forgotten."""
    values = {"mailbox": mailbox, "provider": provider, "sealed_refresh": sealed_refresh, "sealed_access": sealed_access,
              "access_expires_at": expires_at, "connected_at": now, "refreshed_at": now if sealed_access else None,
              "refresh_owner": None, "refresh_until": None, "failing_since": None, "failure": None, "refused_at": None}
    with session_scope(engine) as session:
        make = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
        stmt = make(_T).values(generation=1, **values)
        session.connection().execute(stmt.on_conflict_do_update(
            index_elements=["mailbox"], set_={**{k: v for k, v in values.items() if k != "mailbox"},
                                              "generation": _T.c.generation + 1}))


def get(engine: Engine, mailbox: str) -> TokenRow | None:
    with engine.connect() as conn:
        r = conn.execute(select(_T).where(_T.c.mailbox == mailbox)).first()
    return _row(r) if r is not None else None


def all_rows(engine: Engine) -> dict[str, TokenRow]:
    with engine.connect() as conn:
        return {r.mailbox: _row(r) for r in conn.execute(select(_T).order_by(_T.c.mailbox))}


def take_refresh(engine: Engine, mailbox: str, worker: str, now: datetime, until: datetime, *,
                 older_than: int | None = None) -> bool:
    """The refresh lease of ``mailbox`` for ``worker`` until ``until``: True for exactly one worker at a
    time (an expired lease may be taken over). ``older_than``: only while the stored token is still of
    that generation (someone else's refresh since makes this one needless)."""
    where = [_T.c.mailbox == mailbox, _T.c.refused_at.is_(None),
             or_(_T.c.refresh_until.is_(None), _T.c.refresh_until < now, _T.c.refresh_owner == worker)]
    if older_than is not None:
        where.append(_T.c.generation <= older_than)
    with session_scope(engine) as session:
        done = session.connection().execute(update(_T).where(*where).values(refresh_owner=worker, refresh_until=until))
        return bool(done.rowcount)


def store_refreshed(engine: Engine, mailbox: str, worker: str, now: datetime, *, sealed_access: str,
                    expires_at: datetime, sealed_refresh: str | None) -> bool:
    """The result of ``worker``'s refresh, only while its lease holds; failures are forgotten."""
    values: dict[str, object] = {"sealed_access": sealed_access, "access_expires_at": expires_at, "refreshed_at": now,
                                 "generation": _T.c.generation + 1, "refresh_owner": None, "refresh_until": None,
                                 "failing_since": None, "failure": None}
    if sealed_refresh is not None:  # the server rotated the refresh token
        values["sealed_refresh"] = sealed_refresh
    with session_scope(engine) as session:
        done = session.connection().execute(update(_T).where(_T.c.mailbox == mailbox, _T.c.refresh_owner == worker)
                                            .values(**values))
        return bool(done.rowcount)


def record_failure(engine: Engine, mailbox: str, worker: str, failure: str, now: datetime, *, refused: bool) -> None:
    """A refresh that failed (``refused``: for good, until the mailbox is connected again); the lease is freed."""
    values: dict[str, object] = {"failing_since": func.coalesce(_T.c.failing_since, now), "failure": failure[:500],
                                 "refresh_owner": None, "refresh_until": None}
    if refused:
        values |= {"refused_at": now, "sealed_access": None, "access_expires_at": None}
    with session_scope(engine) as session:
        session.connection().execute(update(_T).where(_T.c.mailbox == mailbox, or_(
            _T.c.refresh_owner == worker, _T.c.refresh_owner.is_(None))).values(**values))


def forget(engine: Engine, mailbox: str) -> bool:
    with session_scope(engine) as session:
        return bool(session.connection().execute(_T.delete().where(_T.c.mailbox == mailbox)).rowcount)


def apply_refusal(engine: Engine, fact: TokenRefused) -> list[str]:
    """A refused token, as the rulebook decides (it pauses the mailbox): the store applies it with
    the record of the refusal, both in one transaction."""
    with session_scope(engine) as session:
        return apply(session, decide(fact), Subject(mailbox=fact.mailbox), fact.at).actions
