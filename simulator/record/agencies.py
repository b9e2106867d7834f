"""Agencies by name, and the settings an administrator keeps for each."""

from __future__ import annotations

from sqlalchemy import Row, insert, select, update

from simulator.names import check_name
from simulator.record.rows import new_id, now
from simulator.record.schema import agencies, agency_settings
from simulator.record.unit import UnitOfWork

# The key of the settings for people and sessions of no agency (a single-PC record).
NO_AGENCY = "*"

# An agency's retention period in days, idle sign-out in minutes, whether trainees may be
# recorded, and the folder recordings are kept in; None: not set.
StoredSettings = tuple[int | None, int | None, bool | None, str | None]


class Agencies:
    """The agencies of one record."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def ensure(self, name: str) -> str:
        """The id of the agency called ``name``, adding it if new.

        ValueError if the name holds a control or text-direction character.
        """
        check_name(name, "an agency's name")
        with self._unit.writing() as c:
            found = c.execute(select(agencies.c.id).where(agencies.c.name == name)).scalar()
            if found:
                return str(found)
            agency_id = new_id()
            c.execute(insert(agencies).values(id=agency_id, name=name, created_utc=now()))
            return agency_id

    def find(self, name: str) -> str | None:
        """The id of the agency called ``name``, if the record has one."""
        with self._unit.reading() as c:
            found = c.execute(select(agencies.c.id).where(agencies.c.name == name)).scalar()
        return str(found) if found else None

    def named(self, name: str | None) -> str | None:
        """The id of the agency ``name`` (None for no name); ValueError if there is none."""
        if name is None:
            return None
        found = self.find(name)
        if found is None:
            raise ValueError(f"--agency {name!r}: no agency of that name in the record")
        return found


class AgencySettingsStore:
    """Each agency's stored settings, as a `StoredSettings` tuple."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def of(self, agency_id: str | None) -> StoredSettings | None:
        """The settings of an agency (of no agency: ``None``), if any are stored."""
        with self._unit.reading() as c:
            row = c.execute(select(agency_settings).where(
                agency_settings.c.agency_key == (agency_id or NO_AGENCY))).first()
        return None if row is None else _stored(row)

    def all(self) -> dict[str | None, StoredSettings]:
        """Every agency's stored settings, by agency id (None: people of no agency)."""
        with self._unit.reading() as c:
            rows = c.execute(select(agency_settings)).all()
        return {None if r.agency_key == NO_AGENCY else str(r.agency_key): _stored(r)
                for r in rows}

    def keep(self, agency_id: str | None, settings: StoredSettings) -> None:
        """Store an agency's settings, replacing what it had."""
        key = agency_id or NO_AGENCY
        retention_days, idle_minutes, record_trainees, recordings_store = settings
        values = {"retention_days": retention_days, "idle_minutes": idle_minutes,
                  "record_trainees": record_trainees, "recordings_store": recordings_store}
        with self._unit.writing() as c:
            if c.execute(update(agency_settings).where(agency_settings.c.agency_key == key)
                         .values(**values)).rowcount == 0:
                c.execute(insert(agency_settings).values(agency_key=key, **values))


def _stored(row: Row[tuple[object, ...]]) -> StoredSettings:
    m = row._mapping
    record_trainees = m["record_trainees"]
    return (m["retention_days"], m["idle_minutes"],
            None if record_trainees is None else bool(record_trainees), m["recordings_store"])
