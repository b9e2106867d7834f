"""The record's tables.

``events`` is append-only and holds pseudonymous ids only. Anything that names a person or
holds free text sits in a side table (``person_identities``, ``notes``) that can be erased
on request without touching an event: each event keeps only a salted digest of its note.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = String(36)
Hash = String(64)

agencies = Table(
    "agencies", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_utc", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name"),
)

people = Table(
    "people", metadata,
    Column("id", Id, primary_key=True),
    Column("agency_id", Id, ForeignKey("agencies.id"), nullable=True),
    Column("kind", String(16), nullable=False),  # trainee | instructor
    Column("created_utc", DateTime(timezone=True), nullable=False),
)

person_identities = Table(
    "person_identities", metadata,
    Column("person_id", Id, ForeignKey("people.id"), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("external_ref", String(100), nullable=True),  # badge or employee number
)

scenario_versions = Table(
    "scenario_versions", metadata,
    Column("content_hash", Hash, primary_key=True),
    Column("scenario_id", String(64), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("first_seen_utc", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Id, primary_key=True),
    Column("agency_id", Id, ForeignKey("agencies.id"), nullable=True),
    Column("instructor_id", Id, ForeignKey("people.id"), nullable=True),
    Column("started_utc", DateTime(timezone=True), nullable=False, index=True),
    Column("ended_utc", DateTime(timezone=True), nullable=True),
    Column("label", String(200), nullable=False, default=""),
)

# Cohorts: named groups of trainees (an academy class, a shift, an in-service year) that the
# audit can be narrowed to. Membership says who trained with whom, so it sits beside the
# identity tables, erasable with them, and never in an event.
cohort_members = Table(
    "cohort_members", metadata,
    Column("cohort", String(100), primary_key=True),
    Column("person_id", Id, ForeignKey("people.id"), primary_key=True),
    Column("added_utc", DateTime(timezone=True), nullable=False),
)

session_trainees = Table(
    "session_trainees", metadata,
    Column("session_id", Id, ForeignKey("sessions.id"), primary_key=True),
    Column("person_id", Id, ForeignKey("people.id"), primary_key=True),
    Column("position", Integer, nullable=False),  # roster order, as the instructor set it
)

runs = Table(
    "runs", metadata,
    Column("id", Id, primary_key=True),
    Column("session_id", Id, ForeignKey("sessions.id"), nullable=False, index=True),
    Column("scenario_hash", Hash, ForeignKey("scenario_versions.content_hash"), nullable=False),
    Column("scenario_id", String(64), nullable=False),
    Column("variant_id", String(64), nullable=False),
    Column("player_backend", String(32), nullable=False),
    Column("timing_mode", String(32), nullable=False),
    # training | demo | test: only training runs count in the audit and training records.
    # The run's `run_started` event says the same, inside the hash chain.
    Column("kind", String(16), nullable=False, server_default="training", index=True),
    Column("status", String(16), nullable=False),
    Column("outcome_kind", String(64), nullable=True),
    Column("started_utc", DateTime(timezone=True), nullable=False),
    Column("ended_utc", DateTime(timezone=True), nullable=True),
    # Kept with every event so that a cut-off tail is visible even for a run that never
    # ended (a crash, a restore from an old backup).
    Column("event_count", Integer, nullable=False, default=0),
    Column("head_hash", Hash, nullable=False),
    Column("state", Text, nullable=False),
)

run_clips = Table(
    "run_clips", metadata,
    Column("run_id", Id, ForeignKey("runs.id"), primary_key=True),
    Column("clip_id", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("content_hash", Hash, nullable=True),  # None: the file was not there to hash
    Column("size_bytes", BigInteger, nullable=True),
)

events = Table(
    "events", metadata,
    Column("run_id", Id, ForeignKey("runs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("type", String(40), nullable=False),
    Column("t_ns", BigInteger, nullable=False),
    Column("utc", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("hash", Hash, nullable=False),
)

notes = Table(
    "notes", metadata,
    Column("run_id", Id, ForeignKey("runs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("salt", String(64), nullable=False),
    Column("text", Text, nullable=False),
)

# Rubric scores: one row per item a rater scored for a trainee's run. A rater who changes
# their mind adds a row; the latest counts, and the earlier ones stay. ``note`` is the rater's
# free text, erasable on its own.
rubric_scores = Table(
    "rubric_scores", metadata,
    Column("id", Id, primary_key=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False, index=True),
    Column("trainee_id", Id, ForeignKey("people.id"), nullable=False),
    Column("rater_id", Id, ForeignKey("people.id"), nullable=False),
    Column("rubric_id", String(64), nullable=False),
    Column("rubric_hash", Hash, nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("level_id", String(40), nullable=False),
    Column("score", Integer, nullable=False),
    Column("scored_utc", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=True),
)

# Trials imported from CSV (historical data, or another tool's), for the bias audit. Runs in
# the record give their trials by themselves; these have no events behind them.
imported_trials = Table(
    "imported_trials", metadata,
    Column("id", Id, primary_key=True),
    Column("import_id", Id, nullable=False, index=True),
    Column("imported_utc", DateTime(timezone=True), nullable=False),
    Column("source", String(500), nullable=False),
    Column("trainee_id", String(100), nullable=False),
    Column("session_id", String(100), nullable=False),
    Column("scenario_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("cue_id", String(100), nullable=False),
    Column("threat", Boolean, nullable=False),
    Column("response", String(16), nullable=False),
    Column("latency_ms", Float, nullable=True),
    Column("force_level", String(64), nullable=False),
    Column("response_source", String(16), nullable=False),
    Column("subject", Text, nullable=False),  # JSON: attribute -> group
)


# Who may use Branchpoint, and as what. Accounts are staff (instructors, coordinators,
# administrators); trainees are recorded, never signed in. An account is disabled, never
# deleted, so the access log always names who it was; the database refuses a DELETE.
accounts = Table(
    "accounts", metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),  # instructor | coordinator | administrator
    # The instructor this account is, in sessions it runs (None for other roles).
    Column("person_id", Id, ForeignKey("people.id"), nullable=True),
    Column("agency_id", Id, ForeignKey("agencies.id"), nullable=True),
    Column("password_hash", String(200), nullable=False),  # argon2id, with its parameters
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_utc", DateTime(timezone=True), nullable=False),
    Column("password_changed_utc", DateTime(timezone=True), nullable=False),
    # The name as accounts are told apart (NFKC, case-folded: `Chief` is `chief`), so no
    # two hold one. None only for an account made before 0007 whose name an older one
    # already held in another case: it signs in as spelled.
    Column("username_key", String(256), nullable=True, index=True, unique=True),
    UniqueConstraint("username"),
)

# Who saw or changed personal data: every view and export, with the filter used, every
# sign-in and account change. Append-only, like the events: the database refuses UPDATE and
# DELETE. It names accounts and ids, never a trainee's name, so erasing a trainee leaves it
# whole.
access_log = Table(
    "access_log", metadata,
    Column("id", Id, primary_key=True),
    Column("utc", DateTime(timezone=True), nullable=False, index=True),
    Column("account_id", Id, nullable=True),  # None: a record with no accounts yet
    Column("username", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the filters, the format, the outcome
)

# Notices the command line shows once per record, not on every command (the warning that a
# record with no accounts is open to anyone), with when each was first shown.
record_notices = Table(
    "record_notices", metadata,
    Column("notice", String(40), primary_key=True),
    Column("shown_utc", DateTime(timezone=True), nullable=False),
)

# Per-agency settings an administrator keeps. ``agency_key`` is an agency id, or "*" for
# people and sessions that belong to no agency.
agency_settings = Table(
    "agency_settings", metadata,
    Column("agency_key", String(36), primary_key=True),
    # Personal data of trainees with no session for this many days is erased (None: kept).
    Column("retention_days", Integer, nullable=True),
    # The console signs out after this many idle minutes, never during a live run.
    Column("idle_minutes", Integer, nullable=True),
    # Whether the room camera and microphone may record trainees (None or False: never).
    Column("record_trainees", Boolean, nullable=True),
    # The absolute folder recordings are kept in (None: the data folder's `recordings`).
    Column("recordings_store", Text, nullable=True),
)

# A recording of the trainee during a run (room camera and microphone), one per time base
# of the run: a run recovered after a crash continues in the same folder under a new one.
# The files are personal data and live outside the database; the record keeps what proves
# them: each fragment's hash and time base. Erasure deletes the files and sets
# ``erased_utc``; the rows and hashes stay, so the record still says what there was. The
# database refuses any other change to a row, and setting ``erased_utc`` twice (0008).
recordings = Table(
    "recordings", metadata,
    Column("id", Id, primary_key=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False, index=True),
    # The seq of the event that began the run's time base (run_started or run_recovered).
    Column("base_seq", Integer, nullable=False),
    # `<run id>` inside the data folder's recordings, or `<agency store>/<run id>`, absolute.
    Column("folder", Text, nullable=False),
    # In the data folder's store: the installation whose data folder holds the files
    # (`simulator.paths.installation`), since a shared record has several. NULL in an
    # agency's store, which every PC of the agency reaches.
    Column("host", String(100), nullable=True),
    Column("camera", String(200), nullable=True),  # the devices' names, as they gave them
    Column("microphone", String(200), nullable=True),
    Column("video_size", String(16), nullable=True),  # "1280x720"
    Column("fps", Float, nullable=True),
    Column("audio_rate", Integer, nullable=True),
    Column("started_utc", DateTime(timezone=True), nullable=False),
    Column("erased_utc", DateTime(timezone=True), nullable=True),
    # False: restored from a backup without its files, which this record does not hold.
    Column("held", Boolean, nullable=False),
)

# The fragments of a recording, each a file of half a second, as the recorder finished
# it. Only ever added (the database refuses UPDATE and DELETE): erasure deletes the file
# and keeps the row.
recording_fragments = Table(
    "recording_fragments", metadata,
    Column("recording_id", Id, ForeignKey("recordings.id"), primary_key=True),
    Column("index", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("base_seq", Integer, nullable=False),
    Column("first_ns", BigInteger, nullable=False),
    Column("last_ns", BigInteger, nullable=False),
    Column("video_frames", Integer, nullable=False),
    Column("audio_samples", BigInteger, nullable=False),
    Column("sha256", Hash, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("time_base", String(32), nullable=False),
)
