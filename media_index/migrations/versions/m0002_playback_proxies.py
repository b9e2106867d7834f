"""Media index: the copy of a clip the projector plays where this PC cannot play the original.

Revision ID: m0002
Revises: m0001
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = 'm0002'
down_revision = 'm0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('media_clips', sa.Column('playback_proxy_path', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media_clips') as batch:
        batch.drop_column('playback_proxy_path')
