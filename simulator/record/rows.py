"""The values every table of the record is keyed and stamped with: ids and UTC times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """A time read from the record, as the UTC it was stored in.

    SQLite hands it back without a zone, PostgreSQL in the server's own zone.
    """
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def now() -> datetime:
    """The time to stamp a new row with."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new row's id."""
    return str(uuid.uuid4())
