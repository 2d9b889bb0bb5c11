"""The alert call's truth: what each answered call played, and who ended it

- delivery.message_started_at: when the alert message began on this attempt.
- delivery.listened_s: seconds of the message the participant heard.
- delivery.heard: none | part | all (how much of the message was played).
- delivery.hangup_by: participant | ivr | network.
- daily_aggregate.answered: calls picked up by a person or messages handed over, the figure
  that was called "reached" before; "reached" now counts who heard the message.
- Calls that ended before: those whose IVR recorded the message as heard are "all"; the rest
  stay unknown (NULL, not counted as heard).

Revision ID: e3a91c7d5f20
Revises: e3a91c5d7f20
Create Date: 2026-11-29 04:00:00
"""

import sqlalchemy as sa

from alembic import op
from db.types import UTCDateTime

revision = "e3a91c7d5f20"
down_revision = "e3a91c5d7f20"
branch_labels = None
depends_on = None


def _sqlite_foreign_keys(on: bool) -> None:
    """SQLite rebuilds the delivery table for a batch change; with foreign keys on, dropping
    the old table would cascade into delivery_event."""
    if op.get_bind().dialect.name == "sqlite":
        with op.get_context().autocommit_block():
            op.execute(sa.text(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"))


def upgrade() -> None:
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("message_started_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("listened_s", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column(
                "heard",
                sa.Enum(
                    "none",
                    "part",
                    "all",
                    name="message_heard",
                    native_enum=False,
                    create_constraint=True,
                    length=24,
                ),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column(
                "hangup_by",
                sa.Enum(
                    "participant",
                    "ivr",
                    "network",
                    name="hangup_by",
                    native_enum=False,
                    create_constraint=True,
                    length=24,
                ),
                nullable=True,
            )
        )
    with op.batch_alter_table("daily_aggregate") as batch:
        batch.add_column(sa.Column("answered", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE daily_aggregate SET answered = reached")
    op.execute(
        "UPDATE delivery SET heard = 'all' WHERE channel = 'voice' AND state IN ('completed', 'machine')"
        " AND id IN (SELECT delivery_id FROM delivery_event WHERE event = 'ivr.message_heard')"
    )
    _sqlite_foreign_keys(True)


def downgrade() -> None:
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("daily_aggregate") as batch:
        batch.drop_column("answered")
    with op.batch_alter_table("delivery") as batch:
        # The enums' check constraints first (SQLite rebuilds the table without the columns).
        batch.drop_constraint(op.f("ck_delivery_hangup_by"), type_="check")
        batch.drop_constraint(op.f("ck_delivery_message_heard"), type_="check")
        batch.drop_column("hangup_by")
        batch.drop_column("heard")
        batch.drop_column("listened_s")
        batch.drop_column("message_started_at")
    _sqlite_foreign_keys(True)
