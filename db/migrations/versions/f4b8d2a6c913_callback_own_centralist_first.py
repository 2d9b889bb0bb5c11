"""The call-back queue puts an action's callers through to its own centralist first

- control_room.callback_own_centralist_first: with a call queue, a caller about a running
  action first rings the desk of the centralist who started it (when available and not
  talking to another caller), and joins the queue when nobody answers there.

Revision ID: f4b8d2a6c913
Revises: e3a91c7d5f20
Create Date: 2026-11-29 08:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "f4b8d2a6c913"
down_revision = "e3a91c7d5f20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("control_room") as batch:
        batch.add_column(
            sa.Column(
                "callback_own_centralist_first", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("control_room") as batch:
        batch.drop_column("callback_own_centralist_first")
