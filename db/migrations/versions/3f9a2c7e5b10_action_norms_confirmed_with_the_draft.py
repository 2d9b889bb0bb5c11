"""action.norms: the Burgernet norms confirmed with the draft, on the action itself

The norms a centralist confirmed were only written into the audit trail with the draft, and the
start read them back from there. They are the action's own state, so they get a column; the
audit trail keeps recording them. Existing rows take the norms of their latest
`action.created` / `action.changed` audit event.

Revision ID: 3f9a2c7e5b10
Revises: 7db8bbca97de
Create Date: 2026-11-28 22:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "3f9a2c7e5b10"
down_revision = "7db8bbca97de"
branch_labels = None
depends_on = None

action = sa.table("action", sa.column("id", sa.Integer), sa.column("norms", sa.JSON))
audit = sa.table("audit_event", sa.column("id", sa.Integer), sa.column("event", sa.String),
                 sa.column("target_type", sa.String), sa.column("target_id", sa.Integer),
                 sa.column("detail", sa.JSON))


def upgrade() -> None:
    with op.batch_alter_table("action") as batch:
        batch.add_column(sa.Column("norms", sa.JSON(), nullable=True))
    bind = op.get_bind()
    latest: dict[int, dict] = {}
    rows = bind.execute(
        sa.select(audit.c.target_id, audit.c.detail)
        .where(audit.c.target_type == "action",
               audit.c.event.in_(("action.created", "action.changed")))
        .order_by(audit.c.id)
    )
    for target_id, detail in rows:
        if target_id is not None and isinstance(detail, dict) and "norms" in detail:
            latest[target_id] = detail["norms"]
    for action_id, norms in latest.items():
        bind.execute(action.update().where(action.c.id == action_id).values(norms=norms))


def downgrade() -> None:
    with op.batch_alter_table("action") as batch:
        batch.drop_column("norms")
