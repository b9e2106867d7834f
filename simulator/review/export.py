"""Every export of runs in one place, for the command line and the console alike."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum

from simulator.agency import AgencyProfile
from simulator.record import Record
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.report import RecordingLink, Still, as_html, as_pdf, build_run_report
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


def check_with_recording(to: ExportFormat, pseudonymise: bool) -> None:
    """Go on only if an export of format ``to`` may be made with the trainee recording.

    Raises:
        ValueError: it is pseudonymised, or not an HTML or PDF report.
    """
    if pseudonymise:
        raise ValueError("a pseudonymised report never holds the trainee recording nor stills "
                         "of it (a face and a voice are not pseudonymous): export it without "
                         "the recording, or not pseudonymised")
    if to not in (ExportFormat.html, ExportFormat.pdf):
        raise ValueError(f"only an HTML or PDF report can be made with the trainee recording, "
                         f"not {to.value}")


def export_runs(record: Record, runs: Sequence[ReviewedRun], to: ExportFormat, *,
                profile: AgencyProfile, rubric: Rubric, pseudonymise: bool = False,
                xapi_base: str = DEFAULT_BASE,
                stills: Mapping[str, Mapping[int, Still]] | None = None,
                recordings: Mapping[str, RecordingLink] | None = None) -> str | bytes:
    """``runs`` in format ``to``: text, or bytes for a PDF.

    Pseudonymised, every person, run and session is a keyed pseudonym (a fresh key each
    time, so two exports cannot be linked) and free-text notes are left out.

    A report may be made with the trainee recording: ``stills`` of the trainee by run id
    (each by decision seq, see `build_run_report`), and by run id what became of each
    recorded run's recording (``recordings``).

    Raises:
        ValueError: stills or recordings given for an export `check_with_recording` refuses.
    """
    if stills is not None or recordings is not None:
        check_with_recording(to, pseudonymise)
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
    reports = [build_run_report(run, people, profile, scored[run.summary.id], rubric,
                                stills=(stills or {}).get(run.summary.id),
                                recording=(recordings or {}).get(run.summary.id))
               for run in runs]
    heading = "After-action report" + (" (pseudonymised)" if pseudonymise else "")
    now = datetime.now(UTC)
    return as_html(reports, heading, now) if to is ExportFormat.html else as_pdf(
        reports, heading, now)
