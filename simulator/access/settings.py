"""Settings an administrator keeps per agency: retention of personal data, idle sign-out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from simulator.record import Record
from simulator.record.schema import agency_settings

# The key of the settings for people and sessions of no agency (a single-PC record).
NO_AGENCY = "*"
DEFAULT_IDLE_MINUTES = 10


@dataclass(frozen=True)
class AgencySettings:
    """One agency's settings; None: not set (personal data kept; the default idle time)."""

    retention_days: int | None = None
    idle_minutes: int | None = None

    @property
    def idle_seconds(self) -> float:
        """How long the console waits without input before it signs out."""
        return 60.0 * (self.idle_minutes if self.idle_minutes is not None
                       else DEFAULT_IDLE_MINUTES)


def settings_of(record: Record, agency_id: str | None) -> AgencySettings:
    """The settings of an agency (or of no agency: ``None``)."""
    with record.engine.connect() as c:
        row = c.execute(select(agency_settings).where(
            agency_settings.c.agency_key == (agency_id or NO_AGENCY))).first()
    if row is None:
        return AgencySettings()
    return AgencySettings(row.retention_days, row.idle_minutes)


def all_settings(record: Record) -> dict[str | None, AgencySettings]:
    """Every agency's settings that are set, by agency id (None: people of no agency)."""
    with record.engine.connect() as c:
        rows = c.execute(select(agency_settings)).all()
    return {None if r.agency_key == NO_AGENCY else str(r.agency_key):
            AgencySettings(r.retention_days, r.idle_minutes) for r in rows}


def keep_settings(record: Record, agency_id: str | None, settings: AgencySettings) -> None:
    """Store an agency's settings (replacing what it had)."""
    if settings.retention_days is not None and settings.retention_days < 1:
        raise ValueError("a retention period is at least 1 day")
    if settings.idle_minutes is not None and not 1 <= settings.idle_minutes <= 240:
        raise ValueError("the idle sign-out is between 1 and 240 minutes")
    key = agency_id or NO_AGENCY
    values = {"retention_days": settings.retention_days,
              "idle_minutes": settings.idle_minutes}
    with record.engine.begin() as c:
        if c.execute(update(agency_settings).where(agency_settings.c.agency_key == key)
                     .values(**values)).rowcount == 0:
            c.execute(insert(agency_settings).values(agency_key=key, **values))
