"""The call-back line under load: a queue per control room, the state of every call, presence

- control_room.callback_queue: the call queue (Asterisk app_queue / Twilio <Enqueue>) callers
  on the call-back number wait in for a centralist; null: put through directly, as before.
- operator.available: the centralist's presence (available, or busy: queue member paused).
- sighting.line_state (ivr | waiting | recording | connected | recorded | missed), queued_at,
  wait_s, answered_by, ended_at: where each call to the line is, and how long it waited;
  called_back_at / called_back_by_id: a missed caller called back from the console.

Revision ID: e3a91c5d7f20
Revises: 5bdeee48b4b7
Create Date: 2026-11-29 04:00:00
"""

import sqlalchemy as sa

from alembic import op
from db.types import UTCDateTime

revision = "e3a91c5d7f20"
down_revision = "5bdeee48b4b7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("control_room") as batch:
        batch.add_column(sa.Column("callback_queue", sa.String(80), nullable=True))
    with op.batch_alter_table("operator") as batch:
        batch.add_column(sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("sighting") as batch:
        batch.add_column(sa.Column("line_state", sa.String(20), nullable=True))
        batch.add_column(sa.Column("queued_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("wait_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("answered_by", sa.String(120), nullable=True))
        batch.add_column(sa.Column("ended_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("called_back_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("called_back_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_sighting_called_back_by", "operator", ["called_back_by_id"], ["id"])
        batch.create_index("ix_sighting_room_line_state", ["control_room_id", "line_state"])


def downgrade() -> None:
    with op.batch_alter_table("sighting") as batch:
        batch.drop_index("ix_sighting_room_line_state")
        batch.drop_constraint("fk_sighting_called_back_by", type_="foreignkey")
        for column in (
            "called_back_by_id",
            "called_back_at",
            "ended_at",
            "answered_by",
            "wait_s",
            "queued_at",
            "line_state",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("operator") as batch:
        batch.drop_column("available")
    with op.batch_alter_table("control_room") as batch:
        batch.drop_column("callback_queue")
