"""selection index: replace the SQLite R*Tree by the clustered selection grid

On SQLite, circle selection now reads `selection_grid`: a WITHOUT ROWID table clustered on
0.005-degree cells holding, per geocoded address, its coordinates and window and a copy of
the participant's reachability (status, channels, verified email and phone numbers), kept in
sync by triggers on address, participant and phone_number (see participants/spatial_index.py).
The R*Tree found candidates fast, but each candidate then cost three random lookups.
PostgreSQL is unchanged: it keeps the B-tree ix_address_lat_lon.

Caution for later migrations: a batch ("move and copy") rebuild of address, participant or
phone_number on SQLite drops the triggers with the old table. Call
`participants.spatial_index.create_sqlite_grid(op.get_bind())` afterwards; the test
tests/participants/test_selection.py::test_grid_and_its_triggers_exist_at_head checks them.

Revision ID: 8c3d5f2a9e71
Revises: 51779e1f1144
Create Date: 2026-11-28 03:50:00
"""
from alembic import op

from participants.spatial_index import (
    create_sqlite_grid,
    create_sqlite_rtree,
    drop_sqlite_grid,
    drop_sqlite_rtree,
)

revision = "8c3d5f2a9e71"
down_revision = "51779e1f1144"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        drop_sqlite_rtree(bind)
        create_sqlite_grid(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        drop_sqlite_grid(bind)
        create_sqlite_rtree(bind)
