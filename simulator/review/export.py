"""Every export of runs in one place, for the command line and the console alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from simulator.agency import AgencyProfile
from simulator.record import Record
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.report import as_html, as_pdf, build_run_report
from simulator.review.rubric import Rubric
from simulator.review.tables import decisions_csv, events_csv
from simulator.review.xapi import DEFAULT_BASE, statements


class ExportFormat(StrEnum):
    """What an export writes."""

    events_csv = "events-csv"
    decisions_csv = "decisions-csv"
    xapi = "xapi"
    html = "html"
    pdf = "pdf"

    @property
    def suffix(self) -> str:
        """The file name ending for this format."""
        return {"events-csv": ".events.csv", "decisions-csv": ".decisions.csv",
                "xapi": ".xapi.json", "html": ".html", "pdf": ".pdf"}[self.value]


def export_runs(record: Record, runs: Sequence[ReviewedRun], to: ExportFormat, *,
                profile: AgencyProfile, rubric: Rubric, pseudonymise: bool = False,
                xapi_base: str = DEFAULT_BASE) -> str | bytes:
    """``runs`` in format ``to``: text, or bytes for a PDF.

    Pseudonymised, every person, run and session is a keyed pseudonym (a fresh key each
    time, so two exports cannot be linked) and free-text notes are left out.
    """
    names = {k: v for run in runs for k, v in run.names.items()}
    people = People.pseudonymous() if pseudonymise else People(names)
    if to is ExportFormat.events_csv:
        return events_csv(runs, people)
    if to is ExportFormat.decisions_csv:
        return decisions_csv(runs, people)
    if to is ExportFormat.xapi:
        return json.dumps([s for run in runs for s in statements(run, people, xapi_base)],
                          indent=2, ensure_ascii=False) + "\n"
    scored = {run.summary.id: record.scores.standing(run_ids=[run.summary.id]) for run in runs}
    if not pseudonymise:
        raters = [s.rater_id for scores in scored.values() for s in scores]
        people = People({**names, **record.people.display_names(raters)})
    reports = [build_run_report(run, people, profile, scored[run.summary.id], rubric)
               for run in runs]
    heading = "After-action report" + (" (pseudonymised)" if pseudonymise else "")
    now = datetime.now(UTC)
    return as_html(reports, heading, now) if to is ExportFormat.html else as_pdf(
        reports, heading, now)
