"""Address verification results on the prospects: which to check, storing what was found, and the
skip reason enrollment and the claim give an invalid or risky address."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, case, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session

from outbound.spec.sequence import VerifyPolicy
from outbound.store.prospects import IN_CHUNK, table_of
from outbound.store.tables import Enrollment, EnrollmentState, Prospect

_P = table_of(Prospect)
_E = table_of(Enrollment)
STALE_STATUSES = ("unknown",)  # retried by every verify, whatever its age


@dataclass(frozen=True)
class Stored:
    status: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ToVerify:
    prospect_id: int
    email: str


def to_verify(engine: Engine, *, now: datetime, older_than: timedelta | None, source: str | None = None,
              sequence: str | None = None, prospect_ids: Iterable[int] | None = None,
              first_touch_only: bool = False, unchecked: bool = True, limit: int | None = None) -> list[ToVerify]:
    """The prospects (of a source, of a sequence's enrollments, among these ids, or all) never
    checked (unless not ``unchecked``), last found ``unknown``, or checked before ``now - older_than``
    (None: only the first two). ``first_touch_only``: only those with an active enrollment that has
    sent nothing yet (the daemon's re-check)."""
    query = sa_select(_P.c.id, _P.c.email).order_by(_P.c.id)
    due: list[ColumnElement[bool]] = [_P.c.verify_status.in_(STALE_STATUSES)]
    if unchecked:
        due.append(_P.c.verify_status.is_(None))
    if older_than is not None:
        due.append(_P.c.verified_at < now - older_than)
    query = query.where(or_(*due))
    if source is not None:
        query = query.where(_P.c.source == source)
    if sequence is not None or first_touch_only:
        enrolled = sa_select(_E.c.prospect_id)
        if sequence is not None:
            enrolled = enrolled.where(_E.c.sequence_name == sequence)
        if first_touch_only:
            enrolled = enrolled.where(_E.c.state == EnrollmentState.active.value, _E.c.started_at.is_(None),
                                      _E.c.last_sent_at.is_(None))
        query = query.where(_P.c.id.in_(enrolled))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        if prospect_ids is None:
            return [ToVerify(int(i), e) for i, e in conn.execute(query)]
        ids = sorted(set(prospect_ids))
        out: list[ToVerify] = []
        for start in range(0, len(ids), IN_CHUNK):
            out.extend(ToVerify(int(i), e) for i, e in conn.execute(query.where(_P.c.id.in_(ids[start:start + IN_CHUNK]))))
        return sorted(out, key=lambda t: t.prospect_id)


_SAVE = (update(_P).where(_P.c.id == bindparam("p_id"))
         .values(verify_status=bindparam("p_status"), verify_reasons=bindparam("p_reasons", type_=_P.c.verify_reasons.type),
                 verified_at=bindparam("p_at", type_=_P.c.verified_at.type)))


def save_results(engine: Engine, results: Sequence[tuple[int, str, Sequence[str]]], at: datetime, *, batch: int = 5000) -> int:
    """(prospect id, status, reasons) each, one executemany per batch; the number saved."""
    for start in range(0, len(results), batch):
        rows = [{"p_id": pid, "p_status": status, "p_reasons": list(reasons), "p_at": at}
                for pid, status, reasons in results[start:start + batch]]
        with engine.begin() as conn:
            conn.execute(_SAVE, rows)
    return len(results)


def stored_among(session: Session | Connection, prospect_ids: Iterable[int]) -> dict[int, Stored]:
    """Prospect id -> its stored result, for the invalid, risky and unknown ones among these (one query per 5,000)."""
    wanted = sorted(set(prospect_ids))
    out: dict[int, Stored] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        query = sa_select(_P.c.id, _P.c.verify_status, _P.c.verify_reasons).where(
            _P.c.id.in_(wanted[start:start + IN_CHUNK]), _P.c.verify_status.in_(["invalid", "risky", "unknown"]))
        out.update((int(i), Stored(str(s), tuple(r or ()))) for i, s, r in session.execute(query))
    return out


INVALID = "address invalid: "
RISKY = "address risky (verify_policy skip): "


def skip_reason(stored: Stored | None, policy: VerifyPolicy, *, brief: bool = False) -> str | None:
    """Why an address is not mailed: always when invalid; when risky, if the sequence's
    verify_policy skips one of its risky reasons. None: mail it. ``brief``: the reason code only
    (an enrollment's reason, grouped by ``status``), not the detail naming the address or domain."""
    if stored is None:
        return None
    if stored.status == "invalid":
        first = stored.reasons[0] if stored.reasons else "no reason recorded"
        return INVALID + (first.split(":", 1)[0] if brief else first)
    skipped = [r for r in stored.reasons if policy.skips(r.split(":", 1)[0])]
    if stored.status in ("risky", "unknown") and skipped:  # a role address is one whatever DNS said
        return RISKY + (skipped[0].split(":", 1)[0] if brief else skipped[0])
    return None


@dataclass(frozen=True)
class SourceShare:
    source: str
    checked: int
    invalid: int
    risky: int


def shares_by_source(engine: Engine) -> dict[str, SourceShare]:
    """Per lead source: prospects verified (any status), and how many came out invalid and risky."""
    src = func.coalesce(_P.c.source, "(none)")
    query = (sa_select(src, func.count(_P.c.verify_status), func.count(case((_P.c.verify_status == "invalid", 1))),
                       func.count(case((_P.c.verify_status == "risky", 1))))
             .group_by(src))
    with engine.connect() as conn:
        return {str(s): SourceShare(str(s), int(c), int(i), int(r)) for s, c, i, r in conn.execute(query)}
