"""Creating and upgrading tables in a database the index shares with the record.

``upgrade_schema`` serves both: each keeps its own Alembic migrations and version table.
"""

from __future__ import annotations

from sqlalchemy import Engine, column, inspect, select, table

VERSION_TABLE = "media_index_version"
# The newest migration: an up-to-date index opens with one query, without importing
# Alembic; a test keeps it equal to Alembic's head.
SCHEMA_HEAD = "m0001"


class MediaIndexError(RuntimeError):
    """The index cannot be used as asked; the message says what to do."""


class NewerSchema(RuntimeError):
    """The database was written by a newer release than this one."""

    def __init__(self, revision: str) -> None:
        super().__init__(revision)
        self.revision = revision


def stored_revision(engine: Engine, version_table: str) -> str | None:
    """The schema revision in ``version_table``, None where there is no such table yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(version_table):
            return None
        return connection.execute(
            select(column("version_num")).select_from(table(version_table))).scalar()


def upgrade_schema(engine: Engine, *, script_location: str, version_table: str,
                   head: str) -> None:
    """Run the migrations at ``script_location`` up to their head.

    An up-to-date database costs one query: Alembic, which takes more than half a second
    to import, is loaded only when there is something to do.

    Raises:
        NewerSchema: the stored revision is not one of ours (a newer release wrote it).
    """
    current = stored_revision(engine, version_table)
    if current == head:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["engine"] = engine
    scripts = ScriptDirectory.from_config(config)
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        raise NewerSchema(current)
    if current != scripts.get_current_head():
        command.upgrade(config, "head")


def migrate(engine: Engine) -> None:
    """Bring the index's tables up to date; refuse a schema from a newer release."""
    try:
        upgrade_schema(engine, script_location="media_index:migrations",
                       version_table=VERSION_TABLE, head=SCHEMA_HEAD)
    except NewerSchema as exc:
        raise MediaIndexError(
            f"the media index in this database was written by a newer Branchpoint (schema "
            f"{exc.revision}); update Branchpoint to use it") from None
