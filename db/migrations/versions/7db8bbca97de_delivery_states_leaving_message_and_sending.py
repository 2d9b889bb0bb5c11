"""delivery states said out loud: leaving_message and sending replace states hidden in columns

Two sub-states lived in other columns; they become states of their own:
- an answering machine still listening was `machine` with `finished_at` NULL: now
  `leaving_message` (`machine` is the result once the message was left);
- an SMS or email a dialer worker had claimed was `queued` with `claimed_by` set: now `sending`.

The enumeration is stored as a short string with a CHECK constraint (no native enum), so the
constraint is replaced and existing rows are mapped. SQLite rebuilds the table for that: its
foreign keys are switched off meanwhile (outside a transaction, the only place SQLite accepts
it), because dropping the old table would otherwise cascade to the delivery events. The event
log is rewritten in the same vocabulary, so that it reads like the new state machine and the
retry policy still counts each answering machine once: `call.machine` now enters
`leaving_message`, and the message left (or the dialer giving up on the call) leaves it.

Revision ID: 7db8bbca97de
Revises: d7b2e4f6a813
Create Date: 2026-11-29 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "7db8bbca97de"
down_revision = "d7b2e4f6a813"
branch_labels = None
depends_on = None

CONSTRAINT = "ck_delivery_delivery_state"
OLD_STATES = ("queued", "held", "dialing", "ringing", "answered", "completed", "busy", "no_answer",
              "failed", "machine", "cancelled", "opted_out", "sent", "delivered")
NEW_STATES = ("queued", "held", "dialing", "ringing", "answered", "leaving_message", "completed",
              "busy", "no_answer", "failed", "machine", "cancelled", "opted_out", "sending",
              "sent", "delivered")


def _check(states: tuple[str, ...]) -> str:
    return "state IN (" + ", ".join(f"'{state}'" for state in states) + ")"


def _replace_constraint(states: tuple[str, ...]) -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f(CONSTRAINT), _check(states))


def _drop_constraint() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CONSTRAINT), type_="check")


def _sqlite_foreign_keys(on: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.get_context().autocommit_block():
            op.execute(sa.text(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"))


def upgrade() -> None:
    _sqlite_foreign_keys(False)
    _drop_constraint()
    op.execute(sa.text(
        "UPDATE delivery SET state = 'leaving_message' "
        "WHERE state = 'machine' AND finished_at IS NULL"))
    op.execute(sa.text(
        "UPDATE delivery SET state = 'sending' "
        "WHERE state = 'queued' AND claimed_by IS NOT NULL AND channel <> 'voice'"))
    # The event log in the new vocabulary.
    op.execute(sa.text(
        "UPDATE delivery_event SET to_state = 'leaving_message' "
        "WHERE event = 'call.machine' AND to_state = 'machine'"))
    op.execute(sa.text(
        "UPDATE delivery_event SET from_state = 'leaving_message' "
        "WHERE from_state = 'machine' AND to_state = 'machine' "
        "AND event IN ('call.machine_message_left', 'dialer.reconciled')"))
    _replace_constraint(NEW_STATES)
    _sqlite_foreign_keys(True)


def downgrade() -> None:
    _sqlite_foreign_keys(False)
    _drop_constraint()
    op.execute(sa.text(
        "UPDATE delivery_event SET from_state = 'machine' "
        "WHERE from_state = 'leaving_message' AND to_state = 'machine'"))
    op.execute(sa.text(
        "UPDATE delivery_event SET to_state = 'machine' WHERE to_state = 'leaving_message'"))
    op.execute(sa.text(
        "UPDATE delivery_event SET to_state = 'queued' WHERE to_state = 'sending'"))
    op.execute(sa.text(
        "UPDATE delivery_event SET from_state = 'queued' WHERE from_state = 'sending'"))
    op.execute(sa.text(
        "UPDATE delivery SET state = 'machine', finished_at = NULL "
        "WHERE state = 'leaving_message'"))
    op.execute(sa.text("UPDATE delivery SET state = 'queued' WHERE state = 'sending'"))
    _replace_constraint(OLD_STATES)
    _sqlite_foreign_keys(True)
