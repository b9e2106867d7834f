"""Alembic environment: migrations run on the connection the record's upgrade opened.

``media_index.database.upgrade_schema`` hands over a connection already in its one locked
transaction (``connection``); given only an engine (``engine``, as tests and tools do), the
migrations take such a transaction here. Either way Alembic never begins or commits one of
its own: on SQLite it would otherwise commit after every migration, and leave a record half
upgraded if stopped between two.
"""

from contextlib import nullcontext

from alembic import context

from media_index.database import schema_transaction
from simulator.record.database import VERSION_TABLE
from simulator.record.schema import metadata

given = context.config.attributes.get("connection")


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # The media index keeps its own tables in the same database, under its own migrations.
    return type_ != "table" or name in metadata.tables


with (nullcontext(given) if given is not None
      else schema_transaction(context.config.attributes["engine"], VERSION_TABLE)) as connection:
    context.configure(connection=connection, target_metadata=metadata, include_object=_ours,
                      render_as_batch=connection.dialect.name == "sqlite",
                      transactional_ddl=True, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()
