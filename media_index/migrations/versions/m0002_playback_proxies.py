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
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the table media_tags
    # refers to.
    op.drop_column('media_clips', 'playback_proxy_path')
