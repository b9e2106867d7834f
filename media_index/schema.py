"""The media index's own tables, kept in the record's database beside the record's tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

media_clips = Table(
    "media_clips", metadata,
    Column("id", String(36), primary_key=True),
    Column("path", Text, nullable=False, index=True),
    Column("content_hash", String(64), nullable=True, index=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    # present | missing (file gone; kept, never dropped) | unreadable (probe failed)
    Column("status", String(16), nullable=False),
    Column("problem", Text, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("fps", Float, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("video_codec", String(32), nullable=True),
    Column("audio_codec", String(32), nullable=True),
    Column("audio_channels", Integer, nullable=True),
    Column("max_keyframe_interval_s", Float, nullable=True),
    Column("sidecar_mtime_ns", BigInteger, nullable=True),
    Column("tag_problem", Text, nullable=True),
    Column("proxy_path", Text, nullable=True),
    # A copy this PC plays in real time where the original is too much for it (made by
    # `branchpoint media proxies --playback`); the projector plays it in the original's place.
    Column("playback_proxy_path", Text, nullable=True),
    Column("indexed_utc", DateTime(timezone=True), nullable=False),
)

# One row per tag. ``person`` is empty for tags of the clip (its setting) and a person id
# for the demographics of someone shown; several values of one attribute are several rows.
media_tags = Table(
    "media_tags", metadata,
    Column("clip_id", String(36), ForeignKey("media_clips.id"), primary_key=True),
    Column("person", String(64), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(200), primary_key=True),
)
