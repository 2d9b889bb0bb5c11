"""selection grid on PostgreSQL: covering index and PL/pgSQL triggers

PostgreSQL gets the same selection grid as SQLite, read through the covering B-tree index
selection_grid_cells (index-only scans), kept in sync by PL/pgSQL triggers on address,
participant and phone_number (see participants/spatial_index_pg.py). It replaces the bounding
box on ix_address_lat_lon followed by random lookups into participant and phone_number.

Caution for later migrations: the triggers call functions that read `selection_grid_source`;
a change to address, participant or phone_number columns it uses must recreate the view
(`create_pg_grid(op.get_bind())` is idempotent).

Revision ID: d7b2e4f6a813
Revises: c41a7e9d0b35
Create Date: 2026-11-28 04:30:00
"""
from alembic import op

from participants.spatial_index_pg import create_pg_grid, drop_pg_grid

revision = "d7b2e4f6a813"
down_revision = "c41a7e9d0b35"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        create_pg_grid(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        drop_pg_grid(bind)
