"""``branchpoint export``, ``score`` and ``records``: the record as debriefs and reports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simulator.access import Permission
from simulator.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_DENIED,
    EXIT_PROBLEMS,
    DbOption,
    NonTrainingOption,
    ProfileOption,
    emit,
    err,
    fail,
    names_or_exit,
    open_gate,
    out_console,
    print_problems,
    run_kinds,
    said_no,
    shown,
    vocabularies_from,
)
from simulator.documents import DocumentError
from simulator.recording.fragments import RecordingError
from simulator.review.export import ExportFormat
from simulator.review.rubric import Rubric, bundled_rubric, load_rubric
from simulator.review.xapi import DEFAULT_BASE
from simulator.roster import read_roster
from simulator.training import (
    AccessLogUnwritable,
    NotTheRater,
    RecordError,
    Reviewing,
    TrainingRecords,
)

records_app = typer.Typer(help="Training records: per officer, the agency's summary, "
                          "and class rosters.",
                          no_args_is_help=True)


RubricOption = Annotated[Path | None, typer.Option(
    "--rubric", exists=True, dir_okay=False,
    help="Rubric YAML (default: the bundled de-escalation rubric).")]


def rubric_or_exit(path: Path | None) -> tuple[Rubric, str]:
    """The rubric at ``path`` (default: the bundled one), or exit naming its problems."""
    try:
        return load_rubric(path or bundled_rubric())
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def _read_back() -> Iterator[None]:
    """Exit saying why when a run cannot be read back from the record.

    An access log that cannot be written is the record failing, not the run: it goes on
    to `main`, which says so.
    """
    try:
        yield
    except AccessLogUnwritable:
        raise
    except RecordError as exc:
        fail(str(exc))


def export(
    targets: Annotated[list[str], typer.Argument(help="Run or session ids (or their first "
                                                "characters); a session exports its runs.")],
    to: Annotated[ExportFormat, typer.Option("--format", help="What to write.")],
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="File to write (default: CSV and xAPI to standard "
        "output; HTML and PDF to after-action-RUN.html/.pdf in the current folder).")]
    = None,
    pseudonymise: Annotated[bool, typer.Option(
        "--pseudonymise", help="Replace every trainee's and instructor's name and id (and "
        "the run and session ids) by pseudonyms; leave out free-text notes.")] = False,
    with_recording: Annotated[bool, typer.Option(
        "--with-recording", help="An HTML or PDF report (with --out) shows the trainee at "
        "each decision from their recording, and each run's recording is exported beside "
        "it as OUT-recording.mp4. Never with --pseudonymise.")] = False,
    rubric: RubricOption = None,
    xapi_base: Annotated[str, typer.Option(
        "--xapi-base", help="IRI under which activities, verbs and extensions are named "
        "(your agency's namespace).")] = DEFAULT_BASE,
    include_non_training: NonTrainingOption = False,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Export runs as CSV (events or decisions), xAPI statements, or an HTML/PDF report."""
    the_rubric, _ = rubric_or_exit(rubric)
    if with_recording and out is None:
        # The recording is named after the report and linked from it: the report's name
        # must be known before either is written.
        fail("--with-recording exports the recording beside the report: give --out FILE")
    reviewing = Reviewing(open_gate(db, Permission.debrief))
    with said_no(), _read_back():
        try:
            exported = reviewing.export(
                targets, to, profile=vocabularies_from(profile), rubric=the_rubric,
                pseudonymise=pseudonymise, xapi_base=xapi_base,
                include_non_training=include_non_training,
                recording_beside=out if with_recording else None)
        except RecordingError as exc:
            fail(str(exc), EXIT_PROBLEMS)
    for recording in exported.recordings:
        err.print(f"trainee recording written to {shown(str(recording.absolute()))}",
                  soft_wrap=True)
    data, runs = exported.data, exported.runs
    # A pseudonymised report goes to people who must not link it to the record: its name
    # carries no run id.
    named = (f"pseudonymised-{date.today():%Y-%m-%d}" if pseudonymise else
             runs[0].id[:8] + (f"-and-{len(runs) - 1}-more" if len(runs) > 1 else ""))
    emit(data, out, f"{to.value} of {len(runs)} run{'s' if len(runs) != 1 else ''}",
         default_file=f"after-action-{named}{to.suffix}"
         if to in (ExportFormat.html, ExportFormat.pdf) else None)
    # The head hashes, to keep apart from the record: they catch even a rewrite of a run
    # that recomputed its whole chain.
    for summary in runs:
        err.print(f"run {summary.id}: {summary.event_count} events, head "
                  f"hash {summary.head_hash}", soft_wrap=True)


def score(
    run: Annotated[str, typer.Argument(help="Run id (or its first characters).")],
    levels: Annotated[list[str], typer.Argument(help="item=level for each item scored, e.g. "
                                                "communication=competent.")],
    trainee: Annotated[str, typer.Option("--trainee", help="The trainee scored: a name or "
                                         "an id of the run's trainees.")],
    rater: Annotated[str | None, typer.Option(
        "--rater", help="Who scores (name; added as an instructor if new). A signed-in "
        "instructor scores as themselves; a coordinator by default under their user name.")]
    = None,
    rubric: RubricOption = None,
    note: Annotated[str | None, typer.Option("--note", help="A short debrief note.")] = None,
    db: DbOption = None,
) -> None:
    """Score a trainee's run on a rubric; a rater's later score of an item replaces theirs."""
    names_or_exit("--rater", rater)
    reviewing = Reviewing(open_gate(db, Permission.debrief))
    if rater is None and reviewing.gate.account is None:
        fail("give --rater NAME: who scores")
    with said_no(), _read_back():
        reviewed = reviewing.run_to_score(run)
    the_rubric, rubric_hash = rubric_or_exit(rubric)
    pairs = {}
    for pair in levels:
        item, sep, level = pair.partition("=")
        if not sep:
            fail(f"`{pair}`: give item=level, e.g. communication=competent")
        pairs[item.strip()] = level.strip()
    # The trainee among this run's, by name or id: the record may hold others of that name.
    trainees = reviewed.started.trainee_ids
    matching = [t for t in trainees if trainee in (t, reviewed.names.get(t))]
    if len(matching) != 1:
        known = ", ".join(f"{reviewed.names.get(t, '(name erased)')} ({t})" for t in trainees)
        fail(f"`{trainee}` is {'not' if not matching else 'more than one'} of this run's "
             f"trainees: {known}; give the name or the id")
    with said_no():
        try:
            rater = reviewing.score(reviewed, matching[0], pairs, rater=rater,
                                    rubric=(the_rubric, rubric_hash), note=note)
        except NotTheRater as exc:
            fail(f"--rater {rater!r}: {exc}", EXIT_DENIED)
    err.print(f"scored {len(pairs)} items of run {reviewed.summary.id[:8]} for "
              f"{shown(trainee)} by {shown(rater)} on `{the_rubric.id}`")


def moment(text: str | None, option: str) -> datetime | None:
    """A date option as a UTC moment, or exit saying how to write it."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: give a date as YYYY-MM-DD")
    # A date or time without a zone is UTC, as the record keeps time; one with a zone is
    # converted, not relabelled.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


SinceOption = Annotated[str | None, typer.Option("--since", help="From this date (YYYY-MM-DD).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Before this date.")]


@records_app.command("officer")
def officer(
    name: Annotated[str, typer.Argument(help="The officer's name as the record holds it.")],
    since: SinceOption = None,
    until: UntilOption = None,
    include_non_training: NonTrainingOption = False,
    db: DbOption = None,
) -> None:
    """An officer's training: each run with its scenario, focus areas and length."""
    kinds = run_kinds(include_non_training)
    records = TrainingRecords(open_gate(db, Permission.coordinate))
    with said_no():
        found = records.officer(name, since=moment(since, "--since"),
                                until=moment(until, "--until"), kinds=kinds,
                                given={"since": since, "until": until})
    table = Table(title=f"Training of {shown(found.name)}: {len(found.entries)} runs in "
                  f"{found.sessions} sessions, {found.hours:.2f} hours")
    for column in ("date", "scenario", "focus areas", "pledge areas", "minutes", "outcome"):
        table.add_column(column)
    for e in found.entries:
        table.add_row(f"{e.started:%Y-%m-%d}", shown(e.title), ", ".join(e.focus_areas),
                      ", ".join(e.pledge_areas), f"{e.hours * 60:.1f}", shown(e.outcome))
    out = out_console()
    out.print(table)
    for area, hours in found.hours_by_focus_area().items():
        out.print(f"{area}: {hours:.2f} hours")


@records_app.command("agency")
def agency(
    since: SinceOption = None,
    until: UntilOption = None,
    months: Annotated[int | None, typer.Option("--months", min=1, max=600,
                                               help="The last N months (instead of --since).")]
    = None,
    agency: Annotated[str | None, typer.Option(
        "--agency", help="Only this agency's sessions (on a database several share).")]
    = None,
    include_non_training: NonTrainingOption = False,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """What the agency delivered, by IACP pledge area, in plain sentences."""
    start = moment(since, "--since")
    if months is not None:
        if start is not None:
            fail("give --since or --months, not both")
        start = datetime.now(UTC) - timedelta(days=round(months * 30.44))
    kinds = run_kinds(include_non_training)
    records = TrainingRecords(open_gate(db, Permission.coordinate))
    with said_no():
        summary = records.agency(agency, since=start, until=moment(until, "--until"),
                                 kinds=kinds,
                                 given={"since": since, "until": until, "months": months})
    out = out_console()
    out.print(f"{summary.officers} officers, {summary.hours:.1f} hours of scenarios, "
              f"{summary.runs} runs")
    for sentence in summary.sentences(vocabularies_from(profile)):
        out.print(sentence)


@records_app.command("roster")
def roster(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="Class roster CSV: name, badge, cohort.")],
    agency: Annotated[str | None, typer.Option(
        "--agency", help="Agency the trainees belong to (added if new).")] = None,
    db: DbOption = None,
) -> None:
    """Add a class roster's trainees to the record, with their badges and cohorts.

    The console does the same as each trainee takes their turn; this is for a class whose
    cohort the audit should know before or without the console.
    """
    names_or_exit("--agency", agency)
    try:
        entries = read_roster(file)
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    records = TrainingRecords(open_gate(db, Permission.run))
    with said_no():
        cohorts = records.import_roster(entries, agency)
    err.print(f"{len(entries)} trainees on record"
              + (f", in the cohort{'s' if len(cohorts) > 1 else ''} "
                 f"{shown(', '.join(cohorts))}" if cohorts else ""))
