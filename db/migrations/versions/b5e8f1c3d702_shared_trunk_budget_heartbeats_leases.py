"""Production: the trunk's shared CPS budget, process heartbeats, leases, recording status

- trunk.tokens / trunk.tokens_at: the calls-per-second token bucket every dialer on a trunk
  shares, kept in the trunk row.
- process_heartbeat: each running process's last sign of life (for /readyz and admin status).
- lease: named expiring leases (the leadership of the cluster-wide jobs).
- sighting.recording_status / recording_error: a caller's recording that was cut or could not
  be stored is flagged, never silently missing.

Revision ID: b5e8f1c3d702
Revises: a6c0e2d4f813
Create Date: 2026-11-29 00:30:00
"""

import sqlalchemy as sa

from alembic import op
from db.types import UTCDateTime

revision = "b5e8f1c3d702"
down_revision = "a6c0e2d4f813"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trunk") as batch:
        batch.add_column(sa.Column("tokens", sa.Float(), nullable=True))
        batch.add_column(sa.Column("tokens_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("sighting") as batch:
        batch.add_column(sa.Column("recording_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("recording_error", sa.String(200), nullable=True))
    op.create_table(
        "process_heartbeat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("host", sa.String(120), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("beat_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_process_heartbeat"),
        sa.UniqueConstraint("name", name="uq_process_heartbeat_name"),
    )
    op.create_index("ix_process_heartbeat_role", "process_heartbeat", ["role"])
    op.create_index("ix_process_heartbeat_beat_at", "process_heartbeat", ["beat_at"])
    op.create_table(
        "lease",
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("holder", sa.String(160), nullable=True),
        sa.Column("acquired_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_lease"),
    )


def downgrade() -> None:
    op.drop_table("lease")
    op.drop_index("ix_process_heartbeat_beat_at", "process_heartbeat")
    op.drop_index("ix_process_heartbeat_role", "process_heartbeat")
    op.drop_table("process_heartbeat")
    with op.batch_alter_table("sighting") as batch:
        batch.drop_column("recording_error")
        batch.drop_column("recording_status")
    with op.batch_alter_table("trunk") as batch:
        batch.drop_column("tokens_at")
        batch.drop_column("tokens")
