"""The bias audit: its report, and the trial table in and out.

Each use case goes through the `Gate`: the audit is a coordinator's, and what it reads is
logged, with its scope, before it is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from simulator.access import Permission
from simulator.agency import AgencyProfile
from simulator.audit.document import (
    AuditFormat,
    AuditScope,
    audit_document,
    scope_detail,
    scoped_trials,
)
from simulator.audit.source import import_trials
from simulator.protocol import TRAINING
from simulator.review.people import People
from simulator.training.gate import Gate


@dataclass(frozen=True)
class AuditChoices:
    """What an audit's filters can offer: scenarios, cohorts and trainees on record."""

    scenarios: list[str]
    cohorts: list[str]
    trainees: list[str]


class Auditing:
    """The bias audit's use cases, for the person at ``gate``."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._record = gate.record

    def report(self, scope: AuditScope, profile: AgencyProfile, to: AuditFormat) -> str | bytes:
        """The audit of the trials in ``scope`` as JSON, HTML or PDF bytes (logged).

        Raises:
            ValueError: what is wrong with the scope (no trials, an unknown group...).
        """
        # Made first, so a scope with no trials logs nothing; nothing of it leaves here
        # before its line is written.
        self._gate.check(Permission.coordinate)
        document = audit_document(self._record, profile, scope, to)
        self._gate.enter(Permission.coordinate, "audit_report", "record",
                         {**scope_detail(self._record, scope), "format": to,
                          **self._gate.place})
        return document

    def export_trials(self, scope: AuditScope, profile: AgencyProfile, *,
                      identified: bool = False) -> pd.DataFrame:
        """The trial table of ``scope`` (logged); pseudonymous unless ``identified``.

        Pseudonyms hold within this table only.

        Raises:
            ValueError: a filter matches nothing in the record.
        """
        self._gate.check(Permission.coordinate)
        table, _choices = scoped_trials(self._record, profile, scope)
        self._gate.enter(Permission.coordinate, "trials_export", "record",
                         {**scope_detail(self._record, scope), "identified": identified})
        if identified:
            return table
        people = People.pseudonymous()
        return table.assign(trainee_id=table["trainee_id"].map(people.ref),
                            session_id=table["session_id"].map(people.ref))

    def import_trials(self, tables: Iterable[pd.DataFrame], source: str) -> tuple[str, int]:
        """Store trial tables (read a batch at a time) in the record, all or none.

        Returns the import's id and the number of trials stored.

        Raises:
            DocumentError: a batch does not fit; nothing is stored.
        """
        self._gate.check(Permission.coordinate)
        import_id, trials = import_trials(self._record, tables, source)
        self._gate.done("trials_import", import_id, {"trials": trials})
        return import_id, trials

    def choices(self, agency: str | None) -> AuditChoices:
        """What an audit of ``agency``'s sessions can be narrowed to.

        Under an agency, only that agency's; without one, the imported trials' scenarios too.
        Logged before it is read: it names every trainee of the agency's recent sittings.
        """
        self._gate.enter(Permission.coordinate, "audit_choices", "record",
                         {"agency": agency, **self._gate.place})
        record = self._record
        agency_id = record.agencies.find(agency) if agency else None
        scenarios = {r.scenario_id for r in record.runs.training_runs(kinds=TRAINING)
                     if agency_id is None or r.agency_id == agency_id}
        if agency_id is None:
            scenarios.update(record.trial_imports.scenarios())
        return AuditChoices(sorted(scenarios), record.cohorts.names(agency_id=agency_id),
                            sorted(record.people.recent_trainees(agency_id=agency_id)))
