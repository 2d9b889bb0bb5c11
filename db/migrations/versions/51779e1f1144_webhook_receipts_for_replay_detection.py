"""webhook receipts for replay detection: one row per signed Twilio request seen

Revision ID: 51779e1f1144
Revises: 5e1ec7a0b2d1
Create Date: 2026-11-28 03:29:01.135428
"""
from alembic import op
import sqlalchemy as sa
import db.types


revision = '51779e1f1144'
down_revision = '5e1ec7a0b2d1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=120), nullable=False),
    sa.Column('received_at', db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_receipt')),
    sa.UniqueConstraint('request_hash', name=op.f('uq_webhook_receipt_request_hash'))
    )
    with op.batch_alter_table('webhook_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_receipt_received_at'), ['received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_receipt_received_at'))

    op.drop_table('webhook_receipt')
