"""Enrolling prospects into sequences, recording sequence versions, and unblocking enrollments."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from outbound.prospects.values import ProspectData
from outbound.spec.sequence import Sequence
from outbound.store.db import session_scope, utcnow
from outbound.store.prospects import (
    IN_CHUNK,
    prospect_columns,
    prospect_data,
    stopped_accounts_among,
    suppressed_among,
    table_of,
)
from outbound.store.tables import Enrollment, EnrollmentState, Prospect, Send, SendState, SequenceVersion
from outbound.store.verification import INVALID, RISKY, skip_reason, stored_among


@dataclass
class EnrollResult:
    enrolled: int = 0
    blocked: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)
    account_stopped: int = 0  # of the skipped: their account is stopped
    address_skipped: int = 0  # of the skipped: verified invalid, or risky and the sequence's verify_policy skips it

    @property
    def suppressed(self) -> int:
        return len(self.skipped) - self.account_stopped - self.address_skipped


def sequence_hash(sequence: Sequence) -> str:
    # verify_policy is read live at each claim: a change to it (or its arrival, 0006) is no new version
    return hashlib.sha256(sequence.model_dump_json(by_alias=True, exclude={"verify_policy"}).encode()).hexdigest()[:16]


def record_version(engine: Engine, sequence: Sequence) -> int:
    """The version number of this content of the sequence (a new one when the file changed)."""
    digest = sequence_hash(sequence)
    with session_scope(engine) as session:
        row = session.scalars(select(SequenceVersion).where(
            col(SequenceVersion.name) == sequence.name, col(SequenceVersion.content_hash) == digest)).first()
        if row is not None:
            return row.version
        latest = session.scalar(select(func.max(col(SequenceVersion.version))).where(col(SequenceVersion.name) == sequence.name))
        version = int(latest or 0) + 1
        session.add(SequenceVersion(name=sequence.name, content_hash=digest, version=version, created_at=utcnow()))
        return version


def missing_fields(sequence: Sequence, prospect: ProspectData) -> list[str]:
    return [f for f in sequence.required_fields if prospect.value(f) is None]


# the reason of an enrollment blocked because its prospect lacks a required field (re-checked by ``unblock``)
MISSING_FIELDS = "missing required field(s): "


ADDRESS_BLOCKS = (INVALID, RISKY)  # the reasons the claim blocks a verified address with


def missing_reason(lacking: list[str]) -> str:
    return MISSING_FIELDS + ", ".join(lacking)


def enroll(engine: Engine, sequence: Sequence, prospect_ids: list[int], *, batch: int = 2000,
           now: datetime | None = None) -> EnrollResult:
    """Enrolls prospects: never a suppressed one, one whose account is stopped, nor one whose address
    was verified invalid (or risky, as the sequence's ``verify_policy`` says); one lacking a required
    field is enrolled as blocked.

    Core statements per batch (a select of the prospects, of existing enrollments, of suppressions,
    and one multi-row insert): 100,000 prospects enroll in seconds.
    """
    result = EnrollResult()
    version = record_version(engine, sequence)
    prospects, enrollments = table_of(Prospect), table_of(Enrollment)
    at = now or utcnow()  # simulations enroll at their own clock
    for start in range(0, len(prospect_ids), batch):
        chunk = prospect_ids[start:start + batch]
        with engine.begin() as conn:
            rows = list(conn.execute(sa_select(*prospect_columns()).where(prospects.c.id.in_(chunk)).order_by(prospects.c.id)))
            already = set(conn.scalars(sa_select(enrollments.c.prospect_id).where(
                enrollments.c.sequence_name == sequence.name, enrollments.c.prospect_id.in_(chunk))))
            suppressed = suppressed_among(conn, [r.email for r in rows])
            stopped = stopped_accounts_among(conn, [r.company_domain for r in rows])
            verified = stored_among(conn, [r.id for r in rows])
            new: list[dict[str, Any]] = []
            for r in rows:
                if r.id in already:
                    result.already += 1
                    continue
                if r.email in suppressed:
                    result.skipped.append((r.email, suppressed[r.email]))
                    continue
                if r.company_domain in stopped:
                    result.skipped.append((r.email, stopped[r.company_domain]))
                    result.account_stopped += 1
                    continue
                unsendable = skip_reason(verified.get(r.id), sequence.verify_policy)
                if unsendable is not None:
                    result.skipped.append((r.email, unsendable))
                    result.address_skipped += 1
                    continue
                lacking = missing_fields(sequence, prospect_data(r))
                state, reason = EnrollmentState.active, None
                if lacking:
                    state, reason = EnrollmentState.blocked, missing_reason(lacking)
                    result.blocked += 1
                else:
                    result.enrolled += 1
                new.append({"prospect_id": r.id, "sequence_name": sequence.name, "sequence_version": version,
                            "state": str(state), "next_step": 0, "next_step_id": sequence.steps[0].id,
                            "reason": reason, "created_at": at, "updated_at": at})
            if new:
                conn.execute(insert(enrollments), new)
    return result


def resume_paused(engine: Engine, now: datetime) -> int:
    """Paused enrollments whose pause has run out (an out-of-office return date) become active again."""
    with session_scope(engine) as session:
        rows = list(session.exec(select(Enrollment).where(
            col(Enrollment.state) == EnrollmentState.paused, col(Enrollment.paused_until).is_not(None),
            col(Enrollment.paused_until) <= now)))
        for row in rows:
            row.state, row.paused_until, row.next_due_at, row.reason, row.updated_at = (
                EnrollmentState.active, None, None, None, now)
        return len(rows)


# ---------------------------------------------------------------- unblocking

@dataclass(frozen=True)
class BlockedEnrollment:
    enrollment_id: int
    email: str
    sequence: str
    reason: str


@dataclass
class UnblockResult:
    unblocked: int = 0        # blocked for missing fields that are there now: active, due now
    still_missing: int = 0    # still lack a required field (the reason names what is missing now)
    forced: int = 0           # blocked for another reason and made active by ``force``
    other: list[BlockedEnrollment] = field(default_factory=list)  # blocked for another reason, left alone
    no_sequence: int = 0      # blocked for missing fields, but their sequence is not in the workspace
    address_ok: int = 0       # blocked at claim for their verified address, which a new check now lets through
    address_still: int = 0    # blocked for their address, and still invalid or skipped by the policy


UNBLOCK_BATCH = 2000


def unblock(engine: Engine, sequences: Mapping[str, Sequence], *, prospect_ids: Iterable[int] | None = None,
            sequence: str | None = None, force: bool = False, now: datetime | None = None) -> UnblockResult:
    """Re-checks blocked enrollments (of these prospects, of this sequence, or all).

    One blocked for missing fields is checked against its sequence's ``required_fields`` as the
    workspace has them now and becomes active, due now (the planner keeps it within the window),
    once nothing is missing. Any other block (a send that gave up after its retries, a template
    that cannot render, no usable mailbox) is only listed, unless ``force``: then it is active
    again and a send that gave up is retried from its first attempt. Each change is conditional on
    the enrollment still being blocked, so running it twice, or beside a daemon, changes nothing more.
    """
    at = now or utcnow()
    result = UnblockResult()
    if prospect_ids is None:
        _unblock_batches(engine, sequences, None, sequence, force, at, result)
        return result
    ids = sorted(set(prospect_ids))
    for start in range(0, len(ids), IN_CHUNK):
        _unblock_batches(engine, sequences, ids[start:start + IN_CHUNK], sequence, force, at, result)
    return result


_E = table_of(Enrollment)
_S = table_of(Send)
_P = table_of(Prospect)
_UNBLOCK = (update(_E).where(_E.c.id == bindparam("p_id"), _E.c.state == EnrollmentState.blocked.value)
            .values(state=EnrollmentState.active.value, reason=None, next_due_at=None,
                    updated_at=bindparam("p_now", type_=_E.c.updated_at.type)))
_STILL_MISSING = (update(_E).where(_E.c.id == bindparam("p_id"), _E.c.state == EnrollmentState.blocked.value)
                  .values(reason=bindparam("p_reason"), updated_at=bindparam("p_now", type_=_E.c.updated_at.type)))


def _unblock_batches(engine: Engine, sequences: Mapping[str, Sequence], prospect_ids: list[int] | None,
                     sequence: str | None, force: bool, now: datetime, result: UnblockResult) -> None:
    after = 0
    while True:
        query = (sa_select(_E.c.id.label("enrollment_id"), _E.c.sequence_name, _E.c.reason, *prospect_columns())
                 .join(_P, _P.c.id == _E.c.prospect_id)
                 .where(_E.c.state == EnrollmentState.blocked.value, _E.c.id > after)
                 .order_by(_E.c.id).limit(UNBLOCK_BATCH))
        if prospect_ids is not None:
            query = query.where(_E.c.prospect_id.in_(prospect_ids))
        if sequence is not None:
            query = query.where(_E.c.sequence_name == sequence)
        with engine.begin() as conn:
            rows = list(conn.execute(query))
            if not rows:
                return
            _unblock_rows(conn, sequences, rows, force, now, result)
        after = rows[-1].enrollment_id
        if len(rows) < UNBLOCK_BATCH:
            return


def _unblock_rows(conn: Connection, sequences: Mapping[str, Sequence], rows: list[Any], force: bool, now: datetime,
                  result: UnblockResult) -> None:
    active: list[int] = []
    forced: list[int] = []
    reasons: list[dict[str, object]] = []
    address_ok: list[int] = []
    verified = stored_among(conn, [r.id for r in rows if _address_block(r.reason)])
    for r in rows:
        reason = r.reason or ""
        if _address_block(reason) and (current := sequences.get(r.sequence_name)) is not None:
            # blocked at claim for a verified address: goes on once a new verify (or the policy) lets it through
            if skip_reason(verified.get(r.id), current.verify_policy) is None:
                address_ok.append(r.enrollment_id)
                continue
            if not force:
                result.address_still += 1
                continue
        if not reason.startswith(MISSING_FIELDS):
            if force:
                forced.append(r.enrollment_id)
            else:
                result.other.append(BlockedEnrollment(r.enrollment_id, r.email, r.sequence_name,
                                                      reason or "no reason recorded"))
            continue
        seq = sequences.get(r.sequence_name)
        if seq is None:
            result.no_sequence += 1
            continue
        lacking = missing_fields(seq, prospect_data(r))
        if not lacking:
            active.append(r.enrollment_id)
            continue
        result.still_missing += 1
        if missing_reason(lacking) != reason:  # e.g. one of two missing fields is there now
            reasons.append({"p_id": r.enrollment_id, "p_reason": missing_reason(lacking), "p_now": now})
    if active or forced or address_ok:
        conn.execute(_UNBLOCK, [{"p_id": i, "p_now": now} for i in active + forced + address_ok])
    result.unblocked += len(active)
    result.address_ok += len(address_ok)
    result.forced += len(forced)
    if forced:
        # a send that gave up is the step's row (one per step): back to ``retry`` from its first attempt
        conn.execute(update(_S).where(_S.c.enrollment_id.in_(forced), _S.c.state == SendState.failed.value)
                     .values(state=SendState.retry.value, attempts=0, not_before=now, lease_owner=None, lease_until=None))
    if reasons:
        conn.execute(_STILL_MISSING, reasons)


def _address_block(reason: str | None) -> bool:
    return reason is not None and reason.startswith(ADDRESS_BLOCKS)


def steps_passed(session: Session | Connection, enrollment_ids: list[int]) -> dict[int, list[str]]:
    """Enrollment id -> the step ids it has sends for that are done with: ``sent``, or ``bounced``
    (a soft bounce that did not stop the enrollment moves it on), in one query per 5,000 ids."""
    out: dict[int, list[str]] = {}
    done = (SendState.sent.value, SendState.bounced.value)
    for start in range(0, len(enrollment_ids), IN_CHUNK):
        chunk = enrollment_ids[start:start + IN_CHUNK]
        for enrollment_id, step_id in session.execute(sa_select(_S.c.enrollment_id, _S.c.step_id).where(
                _S.c.enrollment_id.in_(chunk), _S.c.state.in_(done)).order_by(_S.c.enrollment_id, _S.c.step_index)):
            out.setdefault(enrollment_id, []).append(step_id)
    return out


# ---------------------------------------------------------------- where enrollments stand (for `outbound validate`)

@dataclass(frozen=True)
class StepCount:
    state: str
    done_steps: str | None
    next_step_id: str | None
    next_step: int
    count: int


def step_counts(engine: Engine, sequence: str) -> list[StepCount]:
    """The enrollments of a sequence counted by state and step columns (few groups, one query)."""
    e = _E
    query = (sa_select(e.c.state, e.c.done_steps, e.c.next_step_id, e.c.next_step, func.count())
             .where(e.c.sequence_name == sequence)
             .group_by(e.c.state, e.c.done_steps, e.c.next_step_id, e.c.next_step))
    with engine.connect() as conn:
        return [StepCount(str(state), done, waiting, int(index), int(n)) for state, done, waiting, index, n in conn.execute(query)]


def sent_step_ids(engine: Engine, sequence: str) -> set[str]:
    """Every step id of the sequence that has sends (of any state)."""
    with engine.connect() as conn:
        return set(conn.scalars(sa_select(_S.c.step_id).where(_S.c.sequence_name == sequence).distinct()))
