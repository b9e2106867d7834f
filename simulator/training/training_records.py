"""Training records: an officer's training, the agency's summary, and class rosters.

Each use case goes through the `Gate`, which checks the role and logs what is about to be
read before it is; the command line prints what comes back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from simulator.access import Permission
from simulator.protocol import TRAINING, RunKind
from simulator.review.training import AgencySummary, OfficerRecord, agency_summary, officer_record
from simulator.roster import RosterEntry
from simulator.training.gate import Gate

# The filters as the person gave them (dates as typed), for the access log's detail.
Given = Mapping[str, object]


class TrainingRecords:
    """Training records for the person at ``gate``: a coordinator's, but for rosters."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._record = gate.record

    def officer(self, name: str, *, since: datetime | None = None,
                until: datetime | None = None, kinds: Collection[RunKind] = TRAINING,
                given: Given | None = None) -> OfficerRecord:
        """Every run the trainee ``name`` trained in, in ``[since, until)`` (logged).

        Raises:
            ValueError: the record holds no trainee of that name.
        """
        self._gate.check(Permission.coordinate)
        trainee_id = self._record.people.find("trainee", name)
        if trainee_id is None:
            raise ValueError(f"no trainee named `{name}` in the record")
        self._gate.enter(Permission.coordinate, "officer_record", trainee_id,
                         {**(given or {}), "kinds": list(kinds)})
        return officer_record(self._record, trainee_id, since=since, until=until, kinds=kinds)

    def agency(self, agency: str | None, *, since: datetime | None = None,
               until: datetime | None = None, kinds: Collection[RunKind] = TRAINING,
               given: Given | None = None) -> AgencySummary:
        """What ``agency`` (None: the whole record) delivered in ``[since, until)`` (logged).

        Raises:
            ValueError: the record has no agency of that name.
        """
        self._gate.check(Permission.coordinate)
        agency_id = self._record.agencies.named(agency)
        self._gate.enter(Permission.coordinate, "agency_summary", agency or "record",
                         {**(given or {}), "kinds": list(kinds)})
        return agency_summary(self._record, since=since, until=until, agency_id=agency_id,
                              kinds=kinds)

    def import_roster(self, entries: Sequence[RosterEntry], agency: str | None) -> list[str]:
        """Add a roster's trainees (with badges and cohorts) to the record; its cohorts.

        Raises:
            ValueError: the agency's name holds a character no name may.
        """
        # Not the file's name: rosters are often named after the people in them.
        self._gate.enter(Permission.run, "roster_import", "roster",
                         {"trainees": len(entries), "agency": agency})
        record = self._record
        agency_id = record.agencies.ensure(agency) if agency else None
        for entry in entries:
            trainee_id = record.people.find_or_add("trainee", entry.name, agency_id=agency_id,
                                                   external_ref=entry.badge)
            if entry.cohort:
                record.cohorts.add(entry.cohort, [trainee_id])
        return sorted({e.cohort for e in entries if e.cohort})
