"""Enrolling prospects into sequences, and recording sequence versions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import col, select

from outbound.prospects.values import ProspectData
from outbound.spec.sequence import Sequence
from outbound.store.db import session_scope, utcnow
from outbound.store.prospects import suppressed_among, to_data
from outbound.store.tables import Enrollment, EnrollmentState, Prospect, SequenceVersion


@dataclass
class EnrollResult:
    enrolled: int = 0
    blocked: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)


def sequence_hash(sequence: Sequence) -> str:
    return hashlib.sha256(sequence.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


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


def enroll(engine: Engine, sequence: Sequence, prospect_ids: list[int], *, batch: int = 1000,
           now: datetime | None = None) -> EnrollResult:
    """Enrolls prospects: never a suppressed one; one lacking a required field is enrolled as blocked."""
    result = EnrollResult()
    version = record_version(engine, sequence)
    for start in range(0, len(prospect_ids), batch):
        chunk = prospect_ids[start:start + batch]
        with session_scope(engine) as session:
            prospects = list(session.scalars(select(Prospect).where(col(Prospect.id).in_(chunk))))
            already = set(session.scalars(select(col(Enrollment.prospect_id)).where(
                col(Enrollment.sequence_name) == sequence.name, col(Enrollment.prospect_id).in_(chunk))))
            suppressed = suppressed_among(session, [p.email for p in prospects])
            at = now or utcnow()  # simulations enroll at their own clock
            for p in prospects:
                if p.id in already:
                    result.already += 1
                    continue
                if p.email in suppressed:
                    result.skipped.append((p.email, suppressed[p.email]))
                    continue
                lacking = missing_fields(sequence, to_data(p))
                state, reason = EnrollmentState.active, None
                if lacking:
                    state, reason = EnrollmentState.blocked, f"missing required field(s): {', '.join(lacking)}"
                    result.blocked += 1
                else:
                    result.enrolled += 1
                assert p.id is not None
                session.add(Enrollment(prospect_id=p.id, sequence_name=sequence.name, sequence_version=version,
                                       state=state, reason=reason, created_at=at, updated_at=at))
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
