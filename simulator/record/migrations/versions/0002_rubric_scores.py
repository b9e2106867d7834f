"""Rubric scores: a rater's level for each item of a trainee's run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rubric_scores',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('trainee_id', sa.String(length=36), nullable=False),
    sa.Column('rater_id', sa.String(length=36), nullable=False),
    sa.Column('rubric_id', sa.String(length=64), nullable=False),
    sa.Column('rubric_hash', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.String(length=40), nullable=False),
    sa.Column('level_id', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('scored_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['rater_id'], ['people.id'], name=op.f('fk_rubric_scores_rater_id_people')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_rubric_scores_run_id_runs')),
    sa.ForeignKeyConstraint(['trainee_id'], ['people.id'], name=op.f('fk_rubric_scores_trainee_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rubric_scores'))
    )
    with op.batch_alter_table('rubric_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_scores_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rubric_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_scores_run_id'))

    op.drop_table('rubric_scores')
