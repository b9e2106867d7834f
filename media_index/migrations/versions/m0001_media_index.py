"""Media index: clips and their tags.

Revision ID: m0001
Revises: (none)
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = 'm0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_clips',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('fps', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('video_codec', sa.String(length=32), nullable=True),
    sa.Column('audio_codec', sa.String(length=32), nullable=True),
    sa.Column('audio_channels', sa.Integer(), nullable=True),
    sa.Column('max_keyframe_interval_s', sa.Float(), nullable=True),
    sa.Column('sidecar_mtime_ns', sa.BigInteger(), nullable=True),
    sa.Column('tag_problem', sa.Text(), nullable=True),
    sa.Column('proxy_path', sa.Text(), nullable=True),
    sa.Column('indexed_utc', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_clips'))
    )
    with op.batch_alter_table('media_clips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_clips_content_hash'), ['content_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_clips_path'), ['path'], unique=False)

    op.create_table('media_tags',
    sa.Column('clip_id', sa.String(length=36), nullable=False),
    sa.Column('person', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['clip_id'], ['media_clips.id'], name=op.f('fk_media_tags_clip_id_media_clips')),
    sa.PrimaryKeyConstraint('clip_id', 'person', 'key', 'value', name=op.f('pk_media_tags'))
    )


def downgrade() -> None:
    op.drop_table('media_tags')
    with op.batch_alter_table('media_clips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_clips_path'))
        batch_op.drop_index(batch_op.f('ix_media_clips_content_hash'))

    op.drop_table('media_clips')
