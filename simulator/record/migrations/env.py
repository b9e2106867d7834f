"""Alembic environment: migrations run on the engine the record opened, never on a URL here."""

from alembic import context

from simulator.record.schema import metadata

engine = context.config.attributes["engine"]


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # The media index keeps its own tables in the same database, under its own migrations.
    return type_ != "table" or name in metadata.tables


with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, include_object=_ours,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
