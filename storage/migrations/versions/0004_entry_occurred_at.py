"""when a timeline entry happened

Revision ID: 0004
Revises: 0003

Adds `timeline_entry.occurred_at`: when what an entry records happened, given with `at=`, kept beside `at` (when
it was recorded). Empty for every entry written before, whose hashes do not commit to it. Going back down refuses
while an entry holds one: its hash commits to it, so dropping it would break the incident's chain.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurred_at', storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    entry = sa.table('timeline_entry', sa.column('occurred_at'))
    held = op.get_bind().execute(sa.select(sa.func.count()).select_from(entry)
                                 .where(entry.c.occurred_at.is_not(None))).scalar_one()
    if held:
        raise RuntimeError(f"{held} timeline entries record when they happened (at=) and their hashes commit to it; "
                           "downgrading would break their chains, so nothing was changed")
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.drop_column('occurred_at')
