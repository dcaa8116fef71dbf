"""scoring: watermarks, rule actions, webhook deliveries, mailbox health

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import outbound.store.scoring_tables  # noqa: F401  (the models these tables mirror)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "scoring_watermarks",
        sa.Column("name", _STR(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "scoring_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _STR(length=400), nullable=False),
        sa.Column("rule", _STR(), nullable=False),
        sa.Column("kind", _STR(), nullable=False),
        sa.Column("subject_kind", _STR(), nullable=False),
        sa.Column("subject", _STR(), nullable=False),
        sa.Column("prospect_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("reason", _STR(), nullable=False),
        sa.Column("state", _STR(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("done_at", _TIME(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("scoring_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scoring_actions_rule"), ["rule"], unique=False)
        batch_op.create_index(batch_op.f("ix_scoring_actions_prospect_id"), ["prospect_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _STR(length=400), nullable=False),
        sa.Column("webhook", _STR(), nullable=False),
        sa.Column("body", _STR(), nullable=False),
        sa.Column("state", _STR(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME(), nullable=False),
        sa.Column("last_error", _STR(), nullable=True),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("delivered_at", _TIME(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_due", ["state", "next_attempt_at"], unique=False)
    op.create_table(
        "mailbox_health",
        sa.Column("address", _STR(), nullable=False),
        sa.Column("seen_paused", sa.Boolean(), nullable=False),
        sa.Column("paused_by_health", sa.Boolean(), nullable=False),
        sa.Column("pause_kind", _STR(), nullable=True),
        sa.Column("paused_at", _TIME(), nullable=True),
        sa.Column("resume_at", _TIME(), nullable=True),
        sa.Column("ignore_before", _TIME(), nullable=True),
        sa.PrimaryKeyConstraint("address"),
    )


def downgrade() -> None:
    op.drop_table("mailbox_health")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_due")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("scoring_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scoring_actions_prospect_id"))
        batch_op.drop_index(batch_op.f("ix_scoring_actions_rule"))
    op.drop_table("scoring_actions")
