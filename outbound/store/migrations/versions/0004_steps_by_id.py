"""steps by id: enrollments record the ids of the steps they are done with, so a sequence can be edited live

Revision ID: 0004
Revises: 0003

``done_steps`` is backfilled from what already happened: the sends that are done with their step
(``sent``, or ``bounced`` without stopping the enrollment) and the ``step_skipped`` events. Live
enrollments get ``sequence_version = 0``, so the engine brings each one onto the sequence as it
is now (and records ``next_step_id``) the first time it runs with that sequence.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
CHUNK = 5000  # enrollments backfilled per statement batch


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_steps", _STR(), nullable=True))
        batch_op.add_column(sa.Column("next_step_id", _STR(), nullable=True))
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    meta = sa.MetaData()
    enrollments = sa.Table("enrollments", meta, sa.Column("id", sa.Integer), sa.Column("state", _STR()),
                           sa.Column("done_steps", _STR()), sa.Column("sequence_version", sa.Integer))
    sends = sa.Table("sends", meta, sa.Column("enrollment_id", sa.Integer), sa.Column("step_id", _STR()),
                     sa.Column("step_index", sa.Integer), sa.Column("state", _STR()))
    events = sa.Table("events", meta, sa.Column("enrollment_id", sa.Integer), sa.Column("type", _STR()),
                      sa.Column("data", sa.JSON))
    skipped: dict[int, list[str]] = defaultdict(list)  # far fewer than sends: read once
    for enrollment_id, data in conn.execute(sa.select(events.c.enrollment_id, events.c.data).where(
            events.c.type == "step_skipped", events.c.enrollment_id.is_not(None))):
        step = (data or {}).get("step") if isinstance(data, dict) else None
        if isinstance(step, str) and step:
            skipped[enrollment_id].append(step)
    top = conn.execute(sa.select(sa.func.max(enrollments.c.id))).scalar() or 0
    update = (sa.update(enrollments).where(enrollments.c.id == sa.bindparam("p_id"))
              .values(done_steps=sa.bindparam("p_done")))
    for low in range(0, top + 1, CHUNK):
        high = low + CHUNK
        done: dict[int, list[str]] = defaultdict(list)
        for enrollment_id, step_id in conn.execute(
                sa.select(sends.c.enrollment_id, sends.c.step_id)
                .where(sends.c.enrollment_id >= low, sends.c.enrollment_id < high,
                       sends.c.state.in_(["sent", "bounced"]))
                .order_by(sends.c.enrollment_id, sends.c.step_index)):
            done[enrollment_id].append(step_id)
        for enrollment_id in range(low, high):
            if enrollment_id in skipped:
                done[enrollment_id].extend(skipped[enrollment_id])
        rows: list[dict[str, Any]] = [{"p_id": i, "p_done": " ".join(dict.fromkeys(steps))}
                                      for i, steps in done.items() if steps]
        if rows:
            conn.execute(update, rows)
    conn.execute(sa.update(enrollments).where(enrollments.c.state.in_(["active", "paused", "blocked"]))
                 .values(sequence_version=0))


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("next_step_id")
        batch_op.drop_column("done_steps")
