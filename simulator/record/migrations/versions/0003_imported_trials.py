"""Imported trials: the bias audit's trials from CSV, with no events behind them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imported_trials',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('import_id', sa.String(length=36), nullable=False),
    sa.Column('imported_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('trainee_id', sa.String(length=100), nullable=False),
    sa.Column('session_id', sa.String(length=100), nullable=False),
    sa.Column('scenario_id', sa.String(length=100), nullable=False),
    sa.Column('variant_id', sa.String(length=100), nullable=False),
    sa.Column('cue_id', sa.String(length=100), nullable=False),
    sa.Column('threat', sa.Boolean(), nullable=False),
    sa.Column('response', sa.String(length=16), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('force_level', sa.String(length=64), nullable=False),
    sa.Column('response_source', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_trials'))
    )
    with op.batch_alter_table('imported_trials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_trials_import_id'), ['import_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('imported_trials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_trials_import_id'))

    op.drop_table('imported_trials')
