"""Creating and upgrading the index's tables in a database it shares with the record."""

from __future__ import annotations

from sqlalchemy import Engine, column, inspect, select, table

VERSION_TABLE = "media_index_version"
# The newest migration: an up-to-date index opens with one query, without importing
# Alembic; a test keeps it equal to Alembic's head.
SCHEMA_HEAD = "m0001"


class MediaIndexError(RuntimeError):
    """The index cannot be used as asked; the message says what to do."""


def stored_revision(engine: Engine) -> str | None:
    """The index's schema revision in the database, None where it has no tables yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(
            select(column("version_num")).select_from(table(VERSION_TABLE))).scalar()


def migrate(engine: Engine) -> None:
    """Bring the index's tables up to date; refuse a schema from a newer release."""
    current = stored_revision(engine)
    if current == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "media_index:migrations")
    config.attributes["engine"] = engine
    scripts = ScriptDirectory.from_config(config)
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        raise MediaIndexError(
            f"the media index in this database was written by a newer Branchpoint (schema "
            f"{current}); update Branchpoint to use it")
    if current != scripts.get_current_head():
        command.upgrade(config, "head")
