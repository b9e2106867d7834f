"""Settings an administrator keeps per agency: retention of personal data, idle sign-out."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.record import Record

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
    stored = record.agency_settings.of(agency_id)
    return AgencySettings() if stored is None else AgencySettings(*stored)


def all_settings(record: Record) -> dict[str | None, AgencySettings]:
    """Every agency's settings that are set, by agency id (None: people of no agency)."""
    return {agency_id: AgencySettings(*stored)
            for agency_id, stored in record.agency_settings.all().items()}


def keep_settings(record: Record, agency_id: str | None, settings: AgencySettings) -> None:
    """Store an agency's settings (replacing what it had)."""
    if settings.retention_days is not None and settings.retention_days < 1:
        raise ValueError("a retention period is at least 1 day")
    if settings.idle_minutes is not None and not 1 <= settings.idle_minutes <= 240:
        raise ValueError("the idle sign-out is between 1 and 240 minutes")
    record.agency_settings.keep(agency_id, settings.retention_days, settings.idle_minutes)
