"""selection index: SQLite R*Tree over address coordinates, kept in sync by triggers

On SQLite, circle selection reads candidates from the R*Tree virtual table `address_rtree`
(one degenerate box per geocoded address), maintained by three triggers on `address`.
On PostgreSQL the B-tree `ix_address_lat_lon` from the initial schema serves the bounding box;
nothing is created there.

Caution for later migrations: a batch ("move and copy") rebuild of `address` on SQLite drops
these triggers with the old table. Re-create them afterwards with
`participants.spatial_index.create_sqlite_rtree(op.get_bind())`; the test
tests/participants/test_spatial_index.py checks they exist at head.

Revision ID: 5e1ec7a0b2d1
Revises: 0001
Create Date: 2026-11-28 03:45:00
"""
from alembic import op

from participants.spatial_index import create_sqlite_rtree, drop_sqlite_rtree

revision = "5e1ec7a0b2d1"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        create_sqlite_rtree(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        drop_sqlite_rtree(bind)
