"""Recordings of the trainee (room camera and microphone), and the agency's setting for them.

`recordings` holds one row per recording of a run's time base, and `recording_fragments`
each fragment file's hash, size and time base; the files themselves live outside the
database. Two agency settings say whether trainees may be recorded at all (NULL: no, as
for every agency until an administrator says otherwise) and where the files are kept.

What verify rests on is guarded as the events are (0005): the database refuses UPDATE and
DELETE on `recording_fragments` (and SQLite's REPLACE, which deletes without a DELETE
trigger), DELETE on `recordings`, and every UPDATE of a recording but the one erasure makes:
`erased_utc` set once, from NULL, with nothing else changed. So no one can unmark an
erasure, move a recording's folder or PC, or mark it not held to keep `verify` from
checking its files.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, in place on SQLite, as 0006 adds its column.
    op.add_column('agency_settings', sa.Column('record_trainees', sa.Boolean(),
                                               nullable=True))
    op.add_column('agency_settings', sa.Column('recordings_store', sa.Text(), nullable=True))
    op.create_table('recordings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('base_seq', sa.Integer(), nullable=False),
    sa.Column('folder', sa.Text(), nullable=False),
    sa.Column('host', sa.String(length=100), nullable=True),
    sa.Column('camera', sa.String(length=200), nullable=True),
    sa.Column('microphone', sa.String(length=200), nullable=True),
    sa.Column('video_size', sa.String(length=16), nullable=True),
    sa.Column('fps', sa.Float(), nullable=True),
    sa.Column('audio_rate', sa.Integer(), nullable=True),
    sa.Column('started_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_utc', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_recordings_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    op.create_index(op.f('ix_recordings_run_id'), 'recordings', ['run_id'], unique=False)
    op.create_table('recording_fragments',
    sa.Column('recording_id', sa.String(length=36), nullable=False),
    sa.Column('index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('base_seq', sa.Integer(), nullable=False),
    sa.Column('first_ns', sa.BigInteger(), nullable=False),
    sa.Column('last_ns', sa.BigInteger(), nullable=False),
    sa.Column('video_frames', sa.Integer(), nullable=False),
    sa.Column('audio_samples', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('time_base', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'],
                            name=op.f('fk_recording_fragments_recording_id_recordings')),
    sa.PrimaryKeyConstraint('recording_id', 'index', name=op.f('pk_recording_fragments'))
    )
    if op.get_bind().dialect.name == "postgresql":
        _guard_postgresql()
    else:
        _guard_sqlite()


# Every column of `recordings` but `erased_utc`: none of them ever changes.
KEPT = ("id", "run_id", "base_seq", "folder", "host", "camera", "microphone", "video_size",
        "fps", "audio_rate", "started_utc", "held")
ERASED_ONCE = "recordings are only marked erased, once"
APPEND_ONLY = "are append-only"
FRAGMENTS = f"recording_fragments {APPEND_ONLY}"


def _guard_sqlite() -> None:
    for operation in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER recording_fragments_refuse_{operation.lower()} "
                   f"BEFORE {operation} ON recording_fragments "
                   f"BEGIN SELECT RAISE(ABORT, '{FRAGMENTS}: {operation} refused'); END")
    op.execute("CREATE TRIGGER recording_fragments_refuse_replace "
               "BEFORE INSERT ON recording_fragments WHEN EXISTS (SELECT 1 FROM "
               "recording_fragments WHERE recording_id = NEW.recording_id "
               "AND \"index\" = NEW.\"index\") "
               f"BEGIN SELECT RAISE(ABORT, '{FRAGMENTS}: REPLACE refused'); END")
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in KEPT)
    op.execute("CREATE TRIGGER recordings_erased_once BEFORE UPDATE ON recordings "
               f"WHEN OLD.erased_utc IS NOT NULL OR NEW.erased_utc IS NULL OR {changed} "
               f"BEGIN SELECT RAISE(ABORT, '{ERASED_ONCE}: UPDATE refused'); END")
    op.execute("CREATE TRIGGER recordings_refuse_delete BEFORE DELETE ON recordings "
               f"BEGIN SELECT RAISE(ABORT, '{ERASED_ONCE}: DELETE refused'); END")
    op.execute("CREATE TRIGGER recordings_refuse_replace BEFORE INSERT ON recordings "
               "WHEN EXISTS (SELECT 1 FROM recordings WHERE id = NEW.id) "
               f"BEGIN SELECT RAISE(ABORT, '{ERASED_ONCE}: REPLACE refused'); END")


def _guard_postgresql() -> None:
    # branchpoint_refuse_change() is 0005's.
    op.execute("CREATE TRIGGER recording_fragments_refuse_change BEFORE UPDATE OR DELETE "
               "ON recording_fragments FOR EACH ROW "
               f"EXECUTE FUNCTION branchpoint_refuse_change('{APPEND_ONLY}')")
    op.execute("CREATE TRIGGER recording_fragments_refuse_truncate BEFORE TRUNCATE "
               "ON recording_fragments FOR EACH STATEMENT "
               f"EXECUTE FUNCTION branchpoint_refuse_change('{APPEND_ONLY}')")
    op.execute(f"""
        CREATE FUNCTION branchpoint_recordings_erased_once() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'UPDATE' OR OLD.erased_utc IS NOT NULL OR NEW.erased_utc IS NULL
                    OR to_jsonb(NEW) - 'erased_utc' IS DISTINCT FROM
                       to_jsonb(OLD) - 'erased_utc' THEN
                RAISE EXCEPTION '{ERASED_ONCE}: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER recordings_erased_once BEFORE UPDATE OR DELETE ON recordings "
               "FOR EACH ROW EXECUTE FUNCTION branchpoint_recordings_erased_once()")
    op.execute("CREATE TRIGGER recordings_refuse_truncate BEFORE TRUNCATE ON recordings "
               "FOR EACH STATEMENT EXECUTE FUNCTION branchpoint_recordings_erased_once()")


def downgrade() -> None:
    # The tables' triggers go with them; the function is the migration's own.
    op.drop_table('recording_fragments')
    op.drop_index(op.f('ix_recordings_run_id'), table_name='recordings')
    op.drop_table('recordings')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION branchpoint_recordings_erased_once()")
    # In place on SQLite too (3.35 and later), as 0006 drops its column.
    op.drop_column('agency_settings', 'recordings_store')
    op.drop_column('agency_settings', 'record_trainees')
