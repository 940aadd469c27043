"""closing the loop

Revision ID: 0008
Revises: 0007

Adds what happens after an incident: `action_verification` (an action item's rollback, re-check cadence and
verification state) and `action_check` (each verification outcome per stage), `incident_link` (recurrences offered,
confirmed or dismissed), `process_audit` (audits of the retrospective process, kept with their digest), `pattern` and
`pattern_use` (the library of validated patterns, and where each was suggested, used or created). Going back down
drops them all; incidents, actions and their chains stay.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import storage.types  # noqa: F401

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('process_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('period_start', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('run_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('run_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('score', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('report_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('process_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_audit_team_id'), ['team_id'], unique=False)

    op.create_table('incident_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('earlier_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('offered_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.ForeignKeyConstraint(['earlier_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('incident_id', 'earlier_id', name='uq_incident_link')
    )
    with op.batch_alter_table('incident_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_link_earlier_id'), ['earlier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_link_team_id'), ['team_id'], unique=False)

    op.create_table('pattern',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('symptoms', sa.JSON(), nullable=False),
    sa.Column('hypothesis', sa.JSON(), nullable=False),
    sa.Column('mitigations', sa.JSON(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('validated_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'number', name='uq_pattern_number')
    )
    op.create_table('action_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence_number', sa.Integer(), nullable=True),
    sa.Column('scheduled', sa.Boolean(), nullable=False),
    sa.Column('checked_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('checked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['action_item.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('action_check', schema=None) as batch_op:
        batch_op.create_index('ix_action_check_action', ['action_id', 'stage', 'checked_at'], unique=False)

    op.create_table('action_verification',
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('rollback', sa.Text(), nullable=True),
    sa.Column('recheck_seconds', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('verified_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('regressed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['action_item.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('action_id')
    )
    with op.batch_alter_table('action_verification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_verification_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_verification_team_id'), ['team_id'], unique=False)

    op.create_table('pattern_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('pattern_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('how', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['pattern_id'], ['pattern.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pattern_id', 'incident_id', 'how', name='uq_pattern_use')
    )
    with op.batch_alter_table('pattern_use', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pattern_use_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pattern_use_pattern_id'), ['pattern_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pattern_use', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pattern_use_pattern_id'))
        batch_op.drop_index(batch_op.f('ix_pattern_use_incident_id'))

    op.drop_table('pattern_use')
    with op.batch_alter_table('action_verification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_verification_team_id'))
        batch_op.drop_index(batch_op.f('ix_action_verification_incident_id'))

    op.drop_table('action_verification')
    with op.batch_alter_table('action_check', schema=None) as batch_op:
        batch_op.drop_index('ix_action_check_action')

    op.drop_table('action_check')
    op.drop_table('pattern')
    with op.batch_alter_table('incident_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_link_team_id'))
        batch_op.drop_index(batch_op.f('ix_incident_link_earlier_id'))

    op.drop_table('incident_link')
    with op.batch_alter_table('process_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_audit_team_id'))

    op.drop_table('process_audit')
