"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 03:21:16.999627
"""
from alembic import op
import sqlalchemy as sa
import db.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('control_room',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('region', sa.String(length=120), nullable=False),
    sa.Column('transfer_target', sa.String(length=200), nullable=False),
    sa.Column('callback_number', sa.String(length=32), nullable=True),
    sa.Column('quiet_hours_start', sa.String(length=5), nullable=True),
    sa.Column('quiet_hours_end', sa.String(length=5), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_room')),
    sa.UniqueConstraint('name', name=op.f('uq_control_room_name'))
    )
    op.create_table('gazetteer_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postcode', sa.String(length=6), nullable=False),
    sa.Column('house_number', sa.Integer(), nullable=False),
    sa.Column('house_number_addition', sa.String(length=10), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=120), nullable=True),
    sa.Column('municipality', sa.String(length=120), nullable=True),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gazetteer_address')),
    sa.UniqueConstraint('postcode', 'house_number', 'house_number_addition', name=op.f('uq_gazetteer_address_postcode'))
    )
    op.create_table('municipality',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_municipality')),
    sa.UniqueConstraint('name', name=op.f('uq_municipality_name'))
    )
    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_ref', sa.String(length=80), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_verified', sa.Boolean(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('active', 'paused', 'opted_out', name='participant_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('paused_until', db.types.UTCDateTime(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('consent_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('birth_year >= 1900', name=op.f('ck_participant_birth_year_plausible')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_participant_external_ref'))
    )
    op.create_table('address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('home', 'work', name='address_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('postcode', sa.String(length=6), nullable=False),
    sa.Column('house_number', sa.Integer(), nullable=False),
    sa.Column('house_number_addition', sa.String(length=10), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('municipality', sa.String(length=120), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('geocode_status', sa.Enum('ok', 'pending', 'failed', name='geocode_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('geocode_error', sa.String(length=300), nullable=True),
    sa.Column('window_days', sa.Integer(), nullable=True),
    sa.Column('window_start_min', sa.Integer(), nullable=True),
    sa.Column('window_end_min', sa.Integer(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_address_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_address'))
    )
    with op.batch_alter_table('address', schema=None) as batch_op:
        batch_op.create_index('ix_address_lat_lon', ['lat', 'lon'], unique=False)
        batch_op.create_index(batch_op.f('ix_address_municipality'), ['municipality'], unique=False)
        batch_op.create_index(batch_op.f('ix_address_participant_id'), ['participant_id'], unique=False)

    op.create_table('operator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('centralist', 'supervisor', 'admin', name='role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('control_room_id', sa.Integer(), nullable=False),
    sa.Column('transfer_target', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', db.types.UTCDateTime(), nullable=True),
    sa.Column('last_login_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('api_token_hash', sa.String(length=255), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['control_room_id'], ['control_room.id'], name=op.f('fk_operator_control_room_id_control_room')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator')),
    sa.UniqueConstraint('username', name=op.f('uq_operator_username'))
    )
    op.create_table('phone_number',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('e164', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.Enum('landline', 'mobile', name='phone_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('verified_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_phone_number_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_number')),
    sa.UniqueConstraint('participant_id', 'e164', name=op.f('uq_phone_number_participant_id'))
    )
    with op.batch_alter_table('phone_number', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_number_e164'), ['e164'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_number_participant_id'), ['participant_id'], unique=False)

    op.create_table('trunk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('backend', sa.String(length=20), nullable=False),
    sa.Column('max_channels', sa.Integer(), nullable=False),
    sa.Column('cps', sa.Float(), nullable=False),
    sa.Column('prefix_caps', sa.JSON(), nullable=False),
    sa.Column('control_room_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['control_room_id'], ['control_room.id'], name=op.f('fk_trunk_control_room_id_control_room')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trunk')),
    sa.UniqueConstraint('name', name=op.f('uq_trunk_name'))
    )
    op.create_table('verification_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=254), nullable=False),
    sa.Column('code_hash', sa.String(length=255), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('used_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_verification_code_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_code'))
    )
    with op.batch_alter_table('verification_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_code_participant_id'), ['participant_id'], unique=False)

    op.create_table('action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('control_room_id', sa.Integer(), nullable=False),
    sa.Column('incident_type', sa.Enum('suspect', 'missing_person', 'missing_child', 'vehicle', 'other', name='incident_type', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('description', sa.JSON(), nullable=False),
    sa.Column('free_text', sa.Text(), nullable=False),
    sa.Column('voice_text', sa.Text(), nullable=True),
    sa.Column('sms_text', sa.Text(), nullable=True),
    sa.Column('location_label', sa.String(length=300), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('radius_m', sa.Integer(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('training', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'running', 'ended', name='action_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('outcome', sa.Enum('arrested', 'found', 'vehicle_found', 'no_result', 'other', name='outcome', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.Column('supervisor_confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('ended_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('outcome_sent_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['control_room_id'], ['control_room.id'], name=op.f('fk_action_control_room_id_control_room')),
    sa.ForeignKeyConstraint(['created_by_id'], ['operator.id'], name=op.f('fk_action_created_by_id_operator')),
    sa.ForeignKeyConstraint(['ended_by_id'], ['operator.id'], name=op.f('fk_action_ended_by_id_operator')),
    sa.ForeignKeyConstraint(['started_by_id'], ['operator.id'], name=op.f('fk_action_started_by_id_operator')),
    sa.ForeignKeyConstraint(['supervisor_confirmed_by_id'], ['operator.id'], name=op.f('fk_action_supervisor_confirmed_by_id_operator')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action'))
    )
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_control_room_id'), ['control_room_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_status'), ['status'], unique=False)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', db.types.UTCDateTime(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('event', sa.String(length=60), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=True),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operator.id'], name=op.f('fk_audit_event_operator_id_operator')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_event'), ['event'], unique=False)

    op.create_table('daily_aggregate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('phone_kind', sa.String(length=10), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('reached', sa.Integer(), nullable=False),
    sa.Column('acknowledged', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_daily_aggregate_action_id_action')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_aggregate')),
    sa.UniqueConstraint('action_id', 'channel', 'phone_kind', name='one_row')
    )
    with op.batch_alter_table('daily_aggregate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_daily_aggregate_action_id'), ['action_id'], unique=False)

    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('alert', 'outcome', 'verification', name='delivery_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('channel', sa.Enum('voice', 'sms', 'email', name='channel', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('target', sa.String(length=254), nullable=True),
    sa.Column('phone_kind', sa.Enum('landline', 'mobile', name='phone_kind', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'held', 'dialing', 'ringing', 'answered', 'completed', 'busy', 'no_answer', 'failed', 'machine', 'cancelled', 'opted_out', 'sent', 'delivered', name='delivery_state', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('trunk_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=20), nullable=True),
    sa.Column('provider_id', sa.String(length=120), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('result', sa.String(length=40), nullable=True),
    sa.Column('hangup_cause', sa.String(length=60), nullable=True),
    sa.Column('answered_by', sa.String(length=20), nullable=True),
    sa.Column('acknowledged', sa.Boolean(), nullable=False),
    sa.Column('transfer_requested', sa.Boolean(), nullable=False),
    sa.Column('opt_out_requested', sa.Boolean(), nullable=False),
    sa.Column('menu_choices', sa.String(length=60), nullable=False),
    sa.Column('last_attempt_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('answered_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('finished_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_delivery_action_id_action')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_delivery_participant_id_participant'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['trunk_id'], ['trunk.id'], name=op.f('fk_delivery_trunk_id_trunk')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('action_id', 'kind', 'channel', 'target', name='one_per_contact')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_action_id'), ['action_id'], unique=False)
        batch_op.create_index('ix_delivery_claim', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index('ix_delivery_provider', ['provider', 'provider_id'], unique=False)

    op.create_table('delivery_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('at', db.types.UTCDateTime(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], name=op.f('fk_delivery_event_delivery_id_delivery'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_event'))
    )
    with op.batch_alter_table('delivery_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_event_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('sighting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('control_room_id', sa.Integer(), nullable=True),
    sa.Column('caller_number', sa.String(length=32), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('recording_path', sa.String(length=500), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('provider', sa.String(length=20), nullable=True),
    sa.Column('provider_call_id', sa.String(length=120), nullable=True),
    sa.Column('received_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('transferred', sa.Boolean(), nullable=False),
    sa.Column('transfer_result', sa.String(length=40), nullable=True),
    sa.Column('handled', sa.Boolean(), nullable=False),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('handled_at', db.types.UTCDateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['action.id'], name=op.f('fk_sighting_action_id_action')),
    sa.ForeignKeyConstraint(['control_room_id'], ['control_room.id'], name=op.f('fk_sighting_control_room_id_control_room')),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], name=op.f('fk_sighting_delivery_id_delivery')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['operator.id'], name=op.f('fk_sighting_handled_by_id_operator')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_sighting_participant_id_participant'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sighting'))
    )
    with op.batch_alter_table('sighting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sighting_action_id'), ['action_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sighting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sighting_action_id'))

    op.drop_table('sighting')
    with op.batch_alter_table('delivery_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_event_delivery_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_event_at'))

    op.drop_table('delivery_event')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_provider')
        batch_op.drop_index(batch_op.f('ix_delivery_participant_id'))
        batch_op.drop_index('ix_delivery_claim')
        batch_op.drop_index(batch_op.f('ix_delivery_action_id'))

    op.drop_table('delivery')
    with op.batch_alter_table('daily_aggregate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_daily_aggregate_action_id'))

    op.drop_table('daily_aggregate')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_event'))
        batch_op.drop_index(batch_op.f('ix_audit_event_at'))

    op.drop_table('audit_event')
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_status'))
        batch_op.drop_index(batch_op.f('ix_action_control_room_id'))

    op.drop_table('action')
    with op.batch_alter_table('verification_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_code_participant_id'))

    op.drop_table('verification_code')
    op.drop_table('trunk')
    with op.batch_alter_table('phone_number', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_number_participant_id'))
        batch_op.drop_index(batch_op.f('ix_phone_number_e164'))

    op.drop_table('phone_number')
    op.drop_table('operator')
    with op.batch_alter_table('address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_address_participant_id'))
        batch_op.drop_index(batch_op.f('ix_address_municipality'))
        batch_op.drop_index('ix_address_lat_lon')

    op.drop_table('address')
    op.drop_table('participant')
    op.drop_table('municipality')
    op.drop_table('gazetteer_address')
    op.drop_table('control_room')
