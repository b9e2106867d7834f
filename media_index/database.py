"""Creating and upgrading the index's tables in a database it shares with the record."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

VERSION_TABLE = "media_index_version"


class MediaIndexError(RuntimeError):
    """The index cannot be used as asked; the message says what to do."""


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "media_index:migrations")
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the index's tables up to date; refuse a schema from a newer release."""
    config = _config(engine)
    scripts = ScriptDirectory.from_config(config)
    with engine.connect() as connection:
        current = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE}).get_current_revision()
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        raise MediaIndexError(
            f"the media index in this database was written by a newer Branchpoint (schema "
            f"{current}); update Branchpoint to use it")
    if current != scripts.get_current_head():
        command.upgrade(config, "head")
