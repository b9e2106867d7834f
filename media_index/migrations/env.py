"""Alembic environment of the media index: its own version table, on the connection given.

As for the record (``simulator/record/migrations/env.py``): the migrations run in the one
locked transaction of ``media_index.database.upgrade_schema``, or take one on the engine
given, and Alembic never commits on its own.
"""

from contextlib import nullcontext

from alembic import context

from media_index.database import VERSION_TABLE, schema_transaction
from media_index.schema import metadata

given = context.config.attributes.get("connection")


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # The record's tables share the database; the index compares only its own.
    return type_ != "table" or name in metadata.tables


with (nullcontext(given) if given is not None
      else schema_transaction(context.config.attributes["engine"], VERSION_TABLE)) as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      version_table=VERSION_TABLE, include_object=_ours,
                      render_as_batch=connection.dialect.name == "sqlite",
                      transactional_ddl=True, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()
