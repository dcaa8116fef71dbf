"""scale: indexes so a tick's queries stay proportional to the due work at millions of rows

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        # the hourly per-recipient-domain count reads one mailbox's last hour, not its whole history:
        # SQLite chose (mailbox, to_domain, claimed_at) for its GROUP BY order and walked every send
        batch_op.drop_index("ix_sends_mailbox_domain")
        batch_op.create_index("ix_sends_mailbox_claimed", ["mailbox", "claimed_at"], unique=False)
        # soft-bounce counts and matching inbound mail by the failed recipient
        batch_op.create_index("ix_sends_to_address", ["to_address"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        # the mailbox health pass reads a few event types within a time window
        batch_op.create_index("ix_events_type_at", ["type", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_type_at")
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_index("ix_sends_to_address")
        batch_op.drop_index("ix_sends_mailbox_claimed")
        batch_op.create_index("ix_sends_mailbox_domain", ["mailbox", "to_domain", "claimed_at"], unique=False)
