"""Changing a running action: its revisions, and update deliveries (vervolgbericht)

- action_revision: each change to a running action (an update of the description or free
  text, a wider circle or a moved point), who made it, before and after, and what it did.
- delivery.kind gains 'update'; delivery.revision says which revision a row belongs to (0 for
  the alert), and the one-row-per-contact rule includes it, so a second update reaches the
  same contact point again while the alert still reaches nobody twice.

SQLite rebuilds the delivery table for the constraints: its foreign keys are switched off
meanwhile (outside a transaction), as in 7db8bbca97de.

Revision ID: 5bdeee48b4b7
Revises: b5e8f1c3d702
Create Date: 2026-11-29 04:00:00
"""

import sqlalchemy as sa

from alembic import op
from db.types import UTCDateTime

revision = "5bdeee48b4b7"
down_revision = "b5e8f1c3d702"
branch_labels = None
depends_on = None

KIND_CONSTRAINT = "ck_delivery_delivery_kind"
OLD_KINDS = ("alert", "outcome", "verification")
NEW_KINDS = ("alert", "outcome", "update", "verification")


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _sqlite_foreign_keys(on: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.get_context().autocommit_block():
            op.execute(sa.text(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"))


def upgrade() -> None:
    op.create_table(
        "action_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("update", "area", name="revision_kind", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("supervisor_confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("updates_queued", sa.Integer(), nullable=False),
        sa.Column("pending_with_new_text", sa.Integer(), nullable=False),
        sa.Column("recipients_added", sa.Integer(), nullable=False),
        sa.Column("recipients_total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], name="fk_action_revision_action_id_action"),
        sa.ForeignKeyConstraint(["operator_id"], ["operator.id"], name="fk_action_revision_operator_id_operator"),
        sa.ForeignKeyConstraint(
            ["supervisor_confirmed_by_id"],
            ["operator.id"],
            name="fk_action_revision_supervisor_confirmed_by_id_operator",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_action_revision"),
        sa.UniqueConstraint("action_id", "number", name="one_number"),
    )
    op.create_index("ix_action_revision_action_id", "action_revision", ["action_id"])
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch.drop_constraint("one_per_contact", type_="unique")
        batch.create_unique_constraint(
            "one_per_contact", ["action_id", "kind", "channel", "target", "revision"]
        )
        batch.drop_constraint(op.f(KIND_CONSTRAINT), type_="check")
        batch.create_check_constraint(op.f(KIND_CONSTRAINT), _kinds(NEW_KINDS))
    _sqlite_foreign_keys(True)


def downgrade() -> None:
    _sqlite_foreign_keys(False)
    op.execute(sa.text("DELETE FROM delivery_event WHERE delivery_id IN (SELECT id FROM delivery WHERE kind = 'update')"))
    op.execute(sa.text("DELETE FROM delivery WHERE kind = 'update'"))
    with op.batch_alter_table("delivery") as batch:
        batch.drop_constraint(op.f(KIND_CONSTRAINT), type_="check")
        batch.create_check_constraint(op.f(KIND_CONSTRAINT), _kinds(OLD_KINDS))
        batch.drop_constraint("one_per_contact", type_="unique")
        batch.create_unique_constraint("one_per_contact", ["action_id", "kind", "channel", "target"])
        batch.drop_column("revision")
    _sqlite_foreign_keys(True)
    op.drop_index("ix_action_revision_action_id", table_name="action_revision")
    op.drop_table("action_revision")
