"""selection grid: contact points per chosen channel instead of channels and raw phones

The grid row now carries the participant's verified contact points per channel of their
choice (voice_landlines, voice_mobiles, sms_mobiles, email), so selection reads fewer and
smaller strings and decides nothing per row that the database already knew. The grid is
derived data: it is dropped and rebuilt from address, participant and phone_number.
Downgrade rebuilds the same current grid (the older layout is not worth restoring: it
carried the same facts).

Revision ID: c41a7e9d0b35
Revises: 8c3d5f2a9e71
Create Date: 2026-11-28 04:15:00
"""
from alembic import op

from participants.spatial_index import create_sqlite_grid, drop_sqlite_grid

revision = "c41a7e9d0b35"
down_revision = "8c3d5f2a9e71"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        drop_sqlite_grid(bind)
        create_sqlite_grid(bind)


def downgrade() -> None:
    upgrade()
