"""Training records for the pledge: what each officer trained, and what the agency delivered.

Hours are the time the scenarios ran (first event to last), not time in the building: the
records claim only what the record holds. A run counts for every trainee it names, under
each focus area and IACP pledge area of the exact scenario version it played.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from simulator.agency import AgencyProfile
from simulator.protocol import TRAINING, RunKind
from simulator.record import Record
from simulator.record.runs import TrainingRun
from simulator.scenario import Scenario


@dataclass(frozen=True)
class TrainingEntry:
    """One run an officer trained in."""

    run_id: str
    session_id: str
    started: datetime
    hours: float
    scenario_id: str
    title: str
    focus_areas: tuple[str, ...]
    pledge_areas: tuple[str, ...]
    outcome: str


@dataclass(frozen=True)
class OfficerRecord:
    """An officer's training in a period."""

    trainee_id: str
    name: str
    entries: tuple[TrainingEntry, ...]

    @property
    def hours(self) -> float:
        """Hours of scenario time."""
        return sum(e.hours for e in self.entries)

    @property
    def sessions(self) -> int:
        """Sittings attended."""
        return len({e.session_id for e in self.entries})

    def hours_by_focus_area(self) -> dict[str, float]:
        """Hours under each focus area (a run with two areas counts under both)."""
        totals: dict[str, float] = defaultdict(float)
        for entry in self.entries:
            for area in entry.focus_areas:
                totals[area] += entry.hours
        return dict(sorted(totals.items()))


@dataclass
class AreaTotal:
    """What was delivered under one pledge area."""

    officers: set[str] = field(default_factory=set)
    hours: float = 0.0
    runs: int = 0


@dataclass(frozen=True)
class AgencySummary:
    """Training delivered in a period, by IACP pledge area."""

    since: datetime | None
    until: datetime | None
    officers: int
    hours: float
    runs: int
    by_pledge_area: Mapping[str, AreaTotal]

    def sentences(self, profile: AgencyProfile) -> list[str]:
        """One plain sentence per pledge area, as a chief reports it."""
        period = _period(self.since, self.until)
        return [f"Scenario-based training in {profile.pledge_areas.get(area, area)} was "
                f"delivered to {len(total.officers)} officer"
                f"{'s' if len(total.officers) != 1 else ''}, {total.hours:.1f} hours over "
                f"{total.runs} scenario run{'s' if total.runs != 1 else ''}, {period}."
                for area, total in self.by_pledge_area.items()]


def _period(since: datetime | None, until: datetime | None) -> str:
    # ``until`` is exclusive: the period ends before it.
    if since and until:
        return f"from {since:%d %B %Y} until before {until:%d %B %Y}"
    if since:
        return f"since {since:%d %B %Y}"
    return f"before {until:%d %B %Y}" if until else "in all the record holds"


def _entry(run: TrainingRun, scenario: Scenario, played_s: float) -> TrainingEntry:
    hours = played_s / 3600
    outcome = run.outcome_kind or ("ended by the instructor" if run.status == "ended"
                                   else "did not finish")
    return TrainingEntry(run.run_id, run.session_id, run.first_utc, hours, scenario.id,
                         scenario.title, scenario.focus_areas, scenario.pledge_areas, outcome)


def officer_record(record: Record, trainee_id: str, *, since: datetime | None = None,
                   until: datetime | None = None,
                   kinds: Collection[RunKind] = TRAINING) -> OfficerRecord:
    """Every run the officer trained in, in ``[since, until)``.

    ``kinds``: which kinds of run count; demonstrations and tests are not training.
    """
    runs = record.runs.training_runs(kinds=kinds, since=since, until=until, trainee_id=trainee_id)
    played = record.runs.played_seconds([r.run_id for r in runs])
    name = record.people.display_names([trainee_id]).get(trainee_id, "(name erased)")
    return OfficerRecord(trainee_id, name, tuple(
        _entry(r, record.scenario_versions.get(r.scenario_hash).scenario, played[r.run_id])
        for r in runs))


def agency_summary(record: Record, *, since: datetime | None = None,
                   until: datetime | None = None, agency_id: str | None = None,
                   kinds: Collection[RunKind] = TRAINING) -> AgencySummary:
    """Officers, hours and runs in ``[since, until)``, overall and by pledge area.

    ``kinds``: which kinds of run count; demonstrations and tests are not training.
    """
    areas: dict[str, AreaTotal] = defaultdict(AreaTotal)
    officers: set[str] = set()
    hours, count = 0.0, 0
    runs = [run for run in record.runs.training_runs(kinds=kinds, since=since, until=until)
            if agency_id is None or run.agency_id == agency_id]
    played = record.runs.played_seconds([run.run_id for run in runs])
    for run in runs:
        entry = _entry(run, record.scenario_versions.get(run.scenario_hash).scenario,
                       played[run.run_id])
        officers.update(run.trainee_ids)
        hours += entry.hours
        count += 1
        for area in entry.pledge_areas:
            areas[area].officers.update(run.trainee_ids)
            areas[area].hours += entry.hours
            areas[area].runs += 1
    return AgencySummary(since, until, len(officers), hours, count, dict(sorted(areas.items())))
