"""The whole bias audit from the record, in one call, for the command line and the console."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pandas as pd

from simulator.agency import AgencyProfile
from simulator.audit.branches import branch_audit, choices_of_run
from simulator.audit.report import audit_html, audit_pdf
from simulator.audit.source import runs_played, with_imported
from simulator.audit.statistics import audit
from simulator.audit.trials import SUBJECT, frame, trials_of_run
from simulator.protocol import TRAINING, RunKind
from simulator.record import Record

AuditFormat = Literal["json", "html", "pdf"]


@dataclass(frozen=True)
class AuditScope:
    """Which trials the audit covers, and against which reference groups."""

    references: Mapping[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    scenario_ids: Collection[str] | None = None
    trainee: str | None = None
    agency: str | None = None
    cohort: str | None = None
    # Demonstrations and tests are not training: they count only when asked for.
    kinds: Collection[RunKind] = TRAINING

    def describe(self) -> str:
        """The scope in words, for the top of the report."""
        parts = ["Trials of the training runs in the record" if set(self.kinds) == {"training"}
                 else f"Trials of the runs in the record ({', '.join(sorted(self.kinds))})"]
        if self.agency is not None:
            parts.append(f"of {self.agency}")
        if self.cohort is not None:
            parts.append(f"played by the cohort {self.cohort}")
        if self.includes_imported:
            parts.append("and the trials imported into it")
        if self.since is not None:
            parts.append(f"from {self.since:%d %B %Y}")
        if self.until is not None:
            parts.append(f"until before {self.until:%d %B %Y}")
        if self.scenario_ids:
            parts.append(f"in the scenarios {', '.join(sorted(self.scenario_ids))}")
        text = " ".join(parts) + "."
        if self.trainee is not None:
            text = (f"The trials of one trainee ({self.trainee}), for their own coaching: "
                    "the paired tests need many trainees and are not given. " + text)
        return text

    @property
    def includes_imported(self) -> bool:
        """Whether imported trials fit: they carry no date, agency or cohort."""
        return (self.since is None and self.until is None and self.agency is None
                and self.cohort is None)


def scope_detail(record: Record, scope: AuditScope) -> dict[str, object]:
    """The scope as the access log keeps it: every filter, with a trainee by id, not name.

    The log is append-only and outlives an erasure, so it must never hold a name.
    """
    trainee = None
    if scope.trainee is not None:
        agency_id = record.agencies.find(scope.agency) if scope.agency else None
        trainee = (record.people.find("trainee", scope.trainee, agency_id=agency_id)
                   or "(not a recorded trainee: an imported id)")
    return {"references": dict(scope.references),
            "since": scope.since.isoformat() if scope.since else None,
            "until": scope.until.isoformat() if scope.until else None,
            "scenarios": sorted(scope.scenario_ids) if scope.scenario_ids else None,
            "trainee": trainee, "agency": scope.agency, "cohort": scope.cohort,
            "kinds": sorted(scope.kinds)}


def scoped_trials(record: Record, profile: AgencyProfile, scope: AuditScope
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trial table and the instructors' branch choices of the runs in ``scope``.

    ValueError names a filter that matches nothing in the record: an agency or a cohort.
    """
    agency_id = record.agencies.named(scope.agency)
    trainee_ids: set[str] | None = None
    if scope.cohort is not None:
        trainee_ids = record.cohorts.members(scope.cohort, agency_id=agency_id)
        if not trainee_ids:
            where = f"of {scope.agency}" if scope.agency is not None else "in the record"
            known = ", ".join(record.cohorts.names(agency_id=agency_id)) or (
                "none yet (a roster's cohort column adds them)")
            raise ValueError(f"--cohort {scope.cohort!r}: no trainee {where} is in that "
                             f"cohort; the cohorts {where}: {known}")
    if scope.trainee is not None:
        in_cohort = None if trainee_ids is None else (str(scope.cohort), trainee_ids)
        trainee_ids = _trainee(record, scope.trainee, agency_id, in_cohort)
    # One pass over the runs for both the trials and the branch choices.
    trial_rows: list[dict[str, object]] = []
    choice_rows: list[dict[str, object]] = []
    for events, scenario in runs_played(record, since=scope.since, until=scope.until,
                                        scenario_ids=scope.scenario_ids,
                                        agency_id=agency_id, trainee_ids=trainee_ids,
                                        kinds=scope.kinds):
        trial_rows += trials_of_run(events, scenario, profile)
        choice_rows += choices_of_run(events, scenario, profile)
    table = frame(trial_rows)
    if scope.includes_imported:
        table = with_imported(record, table, scenario_ids=scope.scenario_ids)
    if trainee_ids is not None:
        # A multi-officer run is kept whole above; only the wanted trainees' trials count.
        table = table[table["trainee_id"].isin(trainee_ids)]
    return table, pd.DataFrame(choice_rows)


def _trainee(record: Record, trainee: str, agency_id: str | None,
             cohort: tuple[str, set[str]] | None) -> set[str]:
    """The ids ``--trainee`` names.

    Within a cohort (its name and members), the member of that name. Otherwise the
    recorded trainee of that name, and the imported trials' own trainee id.
    """
    if cohort is not None:
        name, members = cohort
        found = {person for person, shown in record.people.display_names(sorted(members)).items()
                 if shown == trainee}
        if not found:
            raise ValueError(f"--trainee {trainee!r} is not in the cohort {name!r}; leave "
                             "out one of the two")
        return found
    person = record.people.find("trainee", trainee, agency_id=agency_id)
    return {trainee} | ({person} if person else set())


def audit_document(record: Record, profile: AgencyProfile, scope: AuditScope,
                   to: AuditFormat) -> str | bytes:
    """The audit of the trials in ``scope`` as JSON, HTML or PDF bytes.

    ValueError says what is wrong with the scope: no trials, an unknown attribute or group.
    """
    table, choices = scoped_trials(record, profile, scope)
    if table.empty:
        raise ValueError("no trials: the record has no scored cues in that scope (and no "
                         "imported trials); widen the filters or import trials first")
    carried = {c.removeprefix(SUBJECT) for c in table.columns if c.startswith(SUBJECT)}
    unknown = sorted(set(scope.references) - carried)
    if unknown:
        raise ValueError(f"--reference: no trials carry {', '.join(unknown)}; they carry "
                         f"{', '.join(sorted(carried))}")
    references = {attribute: _group_id(table, profile, attribute, group)
                  for attribute, group in scope.references.items()}
    result = audit(table, references)
    result["branch_choices"] = branch_audit(choices, references)
    # Which runs the figures rest on: training only, unless the report was asked otherwise.
    result["run_kinds"] = sorted(scope.kinds)
    if to == "json":
        # Every statistic is a number or null: the contract never carries NaN.
        return json.dumps(result, indent=2, allow_nan=False) + "\n"
    render = audit_html if to == "html" else audit_pdf
    return render(result, table, profile, scope.describe(), datetime.now(UTC))


def _group_id(table: pd.DataFrame, profile: AgencyProfile, attribute: str, given: str) -> str:
    """The group a reference names, by its id or the agency's label (``race=White``)."""
    groups = {str(g) for g in table[SUBJECT + attribute].unique()}
    if given in groups:
        return given
    by_label = {profile.demographic_label(attribute, g).casefold(): g for g in groups}
    return by_label.get(given.casefold(), given)
