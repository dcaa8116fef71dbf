"""lead vendor: each prospect's optional vendor (or list name), for the funnel by vendor

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vendor", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index("ix_prospects_vendor", ["vendor"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.drop_index("ix_prospects_vendor")
        batch_op.drop_column("vendor")
