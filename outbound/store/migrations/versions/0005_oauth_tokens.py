"""oauth tokens: the sealed OAuth2 tokens of the mailboxes that log in with XOAUTH2

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import outbound.store.token_tables  # noqa: F401  (the model this table mirrors)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "oauth_tokens",
        sa.Column("mailbox", _STR(), nullable=False),
        sa.Column("provider", _STR(), nullable=False),
        sa.Column("sealed_refresh", _STR(), nullable=False),
        sa.Column("sealed_access", _STR(), nullable=True),
        sa.Column("access_expires_at", _TIME(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("connected_at", _TIME(), nullable=False),
        sa.Column("refreshed_at", _TIME(), nullable=True),
        sa.Column("refresh_owner", _STR(), nullable=True),
        sa.Column("refresh_until", _TIME(), nullable=True),
        sa.Column("failing_since", _TIME(), nullable=True),
        sa.Column("failure", _STR(), nullable=True),
        sa.Column("refused_at", _TIME(), nullable=True),
        sa.PrimaryKeyConstraint("mailbox"),
    )


def downgrade() -> None:
    op.drop_table("oauth_tokens")
