"""Cohort members: the named groups of trainees the audit can be narrowed to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cohort_members',
    sa.Column('cohort', sa.String(length=100), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('added_utc', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_cohort_members_person_id_people')),
    sa.PrimaryKeyConstraint('cohort', 'person_id', name=op.f('pk_cohort_members'))
    )


def downgrade() -> None:
    op.drop_table('cohort_members')
