"""verdict history, action items added after close

Revision ID: 0005
Revises: 0004

Adds `hypothesis_verdict`: every verdict on a hypothesis, kept when a later one replaces it (the hypothesis row
still holds the final one). Each hypothesis that has a verdict gets it as its first history row; verdicts it had
before that were overwritten and live on only in the incident's timeline. Adds `action_item.after_close`, set on
items added while their incident was closed (none before). Going back down drops the history.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import storage.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hypothesis_verdict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('hypothesis_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hypothesis_id'], ['hypothesis.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hypothesis_id', 'seq', name='uq_hypothesis_verdict_seq')
    )
    with op.batch_alter_table('hypothesis_verdict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hypothesis_verdict_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hypothesis_verdict_team_id'), ['team_id'], unique=False)
    # The verdict each hypothesis holds becomes its first history row; when it was recorded is not known apart
    # from when it was reached, so both are the verdict's time.
    hypothesis = sa.table('hypothesis', sa.column('id'), sa.column('team_id'), sa.column('incident_id'),
                          sa.column('number'), sa.column('verdict'), sa.column('verdict_evidence'),
                          sa.column('verdict_note'), sa.column('verdict_by'), sa.column('verdict_at'))
    history = sa.table('hypothesis_verdict', sa.column('team_id'), sa.column('incident_id'),
                       sa.column('hypothesis_id'), sa.column('number'), sa.column('seq'), sa.column('verdict'),
                       sa.column('evidence'), sa.column('note'), sa.column('decided_by'), sa.column('decided_at'),
                       sa.column('recorded_at'))
    op.execute(history.insert().from_select(
        ['team_id', 'incident_id', 'hypothesis_id', 'number', 'seq', 'verdict', 'evidence', 'note', 'decided_by',
         'decided_at', 'recorded_at'],
        sa.select(hypothesis.c.team_id, hypothesis.c.incident_id, hypothesis.c.id, hypothesis.c.number,
                  sa.literal(1), hypothesis.c.verdict, hypothesis.c.verdict_evidence, hypothesis.c.verdict_note,
                  sa.func.coalesce(hypothesis.c.verdict_by, ''), hypothesis.c.verdict_at, hypothesis.c.verdict_at)
        .where(hypothesis.c.verdict != 'open', hypothesis.c.verdict_at.is_not(None))))
    with op.batch_alter_table('action_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('after_close', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('action_item', schema=None) as batch_op:
        batch_op.drop_column('after_close')
    with op.batch_alter_table('hypothesis_verdict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hypothesis_verdict_team_id'))
        batch_op.drop_index(batch_op.f('ix_hypothesis_verdict_incident_id'))
    op.drop_table('hypothesis_verdict')
