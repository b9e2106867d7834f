"""Settings an administrator keeps per agency: retention, idle sign-out, trainee recording.

Recording trainees (room camera and microphone) is off until an administrator allows it
for the agency; the recordings are kept in the data folder, or in the agency's own store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.paths import check_store, recording_folder, recordings_dir
from simulator.record import Record

DEFAULT_IDLE_MINUTES = 10


@dataclass(frozen=True)
class AgencySettings:
    """One agency's settings; None: not set.

    Unset, personal data is kept, the idle time is the default, trainees are not recorded,
    and recordings would go to the data folder.
    """

    retention_days: int | None = None
    idle_minutes: int | None = None
    # Recording trainees is off until an administrator turns it on (and then each class
    # chooses); None and False alike mean off.
    record_trainees: bool | None = None
    # An absolute folder, for an agency keeping recordings on its own storage.
    recordings_store: str | None = None

    @property
    def idle_seconds(self) -> float:
        """How long the console waits without input before it signs out."""
        return 60.0 * (self.idle_minutes if self.idle_minutes is not None
                       else DEFAULT_IDLE_MINUTES)

    @property
    def may_record_trainees(self) -> bool:
        """Whether the agency allows its classes to record trainees at all."""
        return self.record_trainees is True

    def recording_folder(self, run_id: str) -> tuple[Path, str]:
        """Where run ``run_id``'s recording goes, and the folder to tell the record.

        In the data folder's store the record holds the run's id alone (the data folder
        may move); in an agency's store, the absolute folder.

        Raises:
            ValueError: ``run_id`` is not a run's id.
        """
        if self.recordings_store is None:
            return recording_folder(recordings_dir(), run_id), run_id
        folder = recording_folder(Path(self.recordings_store), run_id)
        return folder, str(folder)


def settings_of(record: Record, agency_id: str | None) -> AgencySettings:
    """The settings of an agency (or of no agency: ``None``)."""
    stored = record.agency_settings.of(agency_id)
    return AgencySettings() if stored is None else AgencySettings(*stored)


def all_settings(record: Record) -> dict[str | None, AgencySettings]:
    """Every agency's settings that are set, by agency id (None: people of no agency)."""
    return {agency_id: AgencySettings(*stored)
            for agency_id, stored in record.agency_settings.all().items()}


def keep_settings(record: Record, agency_id: str | None, settings: AgencySettings) -> None:
    """Store an agency's settings (replacing what it had).

    Raises:
        ValueError: a value out of range, or a recordings store that is not an absolute
            folder this PC can make, saying which and what to give instead.
    """
    if settings.retention_days is not None and settings.retention_days < 1:
        raise ValueError("a retention period is at least 1 day")
    if settings.idle_minutes is not None and not 1 <= settings.idle_minutes <= 240:
        raise ValueError("the idle sign-out is between 1 and 240 minutes")
    if settings.recordings_store is not None:
        check_store(settings.recordings_store)
    record.agency_settings.keep(agency_id, (settings.retention_days, settings.idle_minutes,
                                            settings.record_trainees,
                                            settings.recordings_store))
