"""operator.session_generation: log-out and deactivation end every copy of a session

The console's session lived only in the signed cookie, so a copied cookie kept working after
log-out. Each session now carries the operator's generation at log-in, compared on every
request; log-out, deactivation and a password reset raise it. Existing operators start at 0.

Revision ID: a6c0e2d4f813
Revises: 3f9a2c7e5b10
Create Date: 2026-11-28 22:40:00
"""

import sqlalchemy as sa

from alembic import op

revision = "a6c0e2d4f813"
down_revision = "3f9a2c7e5b10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operator") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("operator") as batch:
        batch.drop_column("session_generation")
