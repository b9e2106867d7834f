"""The PostgreSQL role Branchpoint should connect as: one that owns nothing.

The record's triggers refuse UPDATE and DELETE on the events and the access log for every
role, but a table's owner may drop a trigger. So an agency's database has two roles: the
owner, which creates and migrates the tables (run one Branchpoint command with it after an
upgrade), and the application role everyone connects as, granted here exactly what it
needs. That role cannot change an event even with the triggers gone: the database refuses
it twice.
"""

from __future__ import annotations

from sqlalchemy import text

from media_index.database import VERSION_TABLE as MEDIA_VERSION_TABLE
from media_index.schema import metadata as media_metadata
from simulator.record.database import VERSION_TABLE
from simulator.record.schema import metadata as record_metadata
from simulator.record.store import Record
from simulator.record.unit import translated

# What the application may do to each table, where it is less than everything.
RIGHTS = {
    "events": "SELECT, INSERT",
    "access_log": "SELECT, INSERT",
    "accounts": "SELECT, INSERT, UPDATE",
    # A fragment's hash is never changed; erasure only marks its recording erased, the one
    # column the application changes (a restore decides `held` and `host` before it
    # inserts the rows, and changes none after).
    "recording_fragments": "SELECT, INSERT",
    "recordings": "SELECT, INSERT, UPDATE (erased_utc)",
    VERSION_TABLE: "SELECT",
    MEDIA_VERSION_TABLE: "SELECT",
}
ALL_ROWS = "SELECT, INSERT, UPDATE, DELETE"


def grant_statements(record: Record, role: str) -> list[str]:
    """The GRANTs that give ``role`` what Branchpoint needs and nothing more."""
    quote = record.engine.dialect.identifier_preparer.quote
    tables = [t.name for t in (*record_metadata.sorted_tables, *media_metadata.sorted_tables)]
    statements = [f"GRANT USAGE ON SCHEMA public TO {quote(role)}"]
    for table in [*tables, VERSION_TABLE, MEDIA_VERSION_TABLE]:
        statements.append(f"GRANT {RIGHTS.get(table, ALL_ROWS)} ON {quote(table)} "
                          f"TO {quote(role)}")
    return statements


def grant_application_role(record: Record, role: str) -> list[str]:
    """Grant ``role`` its rights on the record (connected as the tables' owner).

    ValueError on SQLite, which has no roles: whoever can open the file has all of it;
    DatabaseFailed if the database refuses (no such role, not the tables' owner).
    """
    if record.engine.dialect.name != "postgresql":
        raise ValueError("SQLite has no roles: whoever holds the file holds the data; an "
                         "application role needs PostgreSQL")
    statements = grant_statements(record, role)
    with translated():
        record.media_index()  # its tables too, made now by the owner
        with record.engine.begin() as c:
            for statement in statements:
                c.execute(text(statement))
    return statements
