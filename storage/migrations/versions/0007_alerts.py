"""alert intake

Revision ID: 0007
Revises: 0006

Adds `alert_group` (one row per alert group a monitor keeps notifying about: its key, the incident it declared or
joined, and the claim a worker holds while it processes the group) and `alert_notice` (each notification received,
kept as parsed with the SHA-256 of its raw body, unique per workspace so that a re-sent notification is a no-op).
Going back down drops both; incidents declared from alerts stay.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import storage.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('group_key', sa.Text(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('pending', sa.Boolean(), nullable=False),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('claim_expires_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_starts_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'source', 'key_hash', name='uq_alert_group_key')
    )
    with op.batch_alter_table('alert_group', schema=None) as batch_op:
        batch_op.create_index('ix_alert_group_pending', ['pending', 'claim_expires_at'], unique=False)

    op.create_table('alert_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('payload_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('batch', sa.JSON(), nullable=False),
    sa.Column('received_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('finished_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['alert_group.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'payload_sha256', name='uq_alert_notice_payload')
    )
    with op.batch_alter_table('alert_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_notice_group_id'), ['group_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alert_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_notice_group_id'))

    op.drop_table('alert_notice')
    with op.batch_alter_table('alert_group', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_group_pending')

    op.drop_table('alert_group')
