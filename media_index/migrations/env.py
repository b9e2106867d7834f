"""Alembic environment of the media index: its own version table, on the engine it is given."""

from alembic import context

from media_index.schema import metadata

VERSION_TABLE = "media_index_version"

engine = context.config.attributes["engine"]


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # The record's tables share the database; the index compares only its own.
    return type_ != "table" or name in metadata.tables


with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      version_table=VERSION_TABLE, include_object=_ours,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
