"""Run kinds (training, demo, test) and the notices a record has already shown.

Runs recorded before this revision were all counted as training, and their `run_started`
events say nothing else, so they stay `training`: relabelling them here would contradict
their hash chains.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, which SQLite does in place: a batch copy of `runs` would drop and
    # recreate the table that every event refers to.
    op.add_column('runs', sa.Column('kind', sa.String(length=16), server_default='training',
                                    nullable=False))
    op.create_index(op.f('ix_runs_kind'), 'runs', ['kind'], unique=False)
    op.create_table('record_notices',
    sa.Column('notice', sa.String(length=40), nullable=False),
    sa.Column('shown_utc', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('notice', name=op.f('pk_record_notices'))
    )


def downgrade() -> None:
    op.drop_table('record_notices')
    op.drop_index(op.f('ix_runs_kind'), table_name='runs')
    # In place on SQLite too (3.35 and later): a batch copy would drop `runs`, which the
    # events refer to.
    op.drop_column('runs', 'kind')
