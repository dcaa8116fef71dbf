"""address verification: each prospect's last verification result (status, reasons, when)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verify_status", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("verify_reasons", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("verified_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_prospects_verify_status", ["verify_status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.drop_index("ix_prospects_verify_status")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("verify_reasons")
        batch_op.drop_column("verify_status")
