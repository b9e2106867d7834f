"""``branchpoint audit``: the trial table in and out, and the bias-audit report."""

from __future__ import annotations

from datetime import date
from itertools import chain
from pathlib import Path
from typing import Annotated, cast

import typer

from simulator.access import Permission
from simulator.audit.document import AuditFormat, AuditScope
from simulator.audit.trials import trial_batches, trials_to_csv
from simulator.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    NonTrainingOption,
    ProfileOption,
    emit,
    err,
    fail,
    open_gate,
    print_problems,
    run_kinds,
    said_no,
    shown,
    vocabularies_from,
)
from simulator.cli.review import SinceOption, UntilOption, moment
from simulator.documents import DocumentError
from simulator.training import Auditing

audit_app = typer.Typer(help="Bias audit: decisions by the depicted person's demographics.",
                        no_args_is_help=True)

OutOption = Annotated[Path | None, typer.Option("--out", dir_okay=False,
                                                help="File to write (default: stdout).")]
ReportOutOption = Annotated[Path | None, typer.Option(
    "--out", dir_okay=False, help="File to write (default: JSON to standard output; HTML "
    "and PDF to bias-audit-DATE.html/.pdf in the current folder).")]
ScenarioFilter = Annotated[list[str] | None, typer.Option(
    "--scenario", help="Only these scenarios (repeat the option).")]
TraineeFilter = Annotated[str | None, typer.Option(
    "--trainee", help="One trainee's own figures (by name, or an imported trainee id): "
    "private feedback for coaching, never for discipline.")]
AgencyFilter = Annotated[str | None, typer.Option(
    "--agency", help="Only this agency's sessions (on a database several share).")]
CohortFilter = Annotated[str | None, typer.Option(
    "--cohort", help="Only the trainees of this cohort (a roster's cohort column).")]


@audit_app.command("import-trials")
def import_trials_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="Trials as CSV (docs/audit-json.md).")],
    db: DbOption = None,
) -> None:
    """Add trials from a CSV file (historical data, another tool's) to the record.

    The file is read and checked a batch at a time into a staging file, then copied into
    the record in one transaction: memory holds one batch, a bad line anywhere in the file
    leaves nothing stored, and the record is locked for writing only during the copy.
    """
    batches = trial_batches(file)
    try:
        # The header and the first batch are checked before signing in: a wrong file is
        # told at once, and the rest is checked as it is staged.
        first = next(batches, None)
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    auditing = Auditing(open_gate(db, Permission.coordinate))
    with said_no():
        try:
            import_id, trials = auditing.import_trials(
                chain([] if first is None else [first], batches), str(file))
        except DocumentError as exc:
            print_problems(exc.problems)
            err.print(f"nothing was imported from {shown(str(file))}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
    err.print(f"imported {trials} trials from {shown(str(file))} (import {import_id})")


@audit_app.command("export-trials")
def export_trials(
    out: OutOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    scenario: ScenarioFilter = None,
    trainee: TraineeFilter = None,
    agency: AgencyFilter = None,
    cohort: CohortFilter = None,
    identified: Annotated[bool, typer.Option(
        "--identified", help="Keep the record's trainee and session ids (default: "
        "pseudonyms that hold within this file only).")] = False,
    include_non_training: NonTrainingOption = False,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """The trial table as CSV, from the record's runs and the imported trials.

    Imported trials carry no date, agency or cohort, so those filters leave them out.
    Trainees and sessions are pseudonymised unless ``--identified``.
    """
    scope = AuditScope(since=moment(since, "--since"), until=moment(until, "--until"),
                       scenario_ids=scenario, trainee=trainee, agency=agency, cohort=cohort,
                       kinds=run_kinds(include_non_training))
    auditing = Auditing(open_gate(db, Permission.coordinate))
    with said_no():
        table = auditing.export_trials(scope, vocabularies_from(profile), identified=identified)
    emit(trials_to_csv(table), out, f"{len(table)} trials")


@audit_app.command("report")
def report(
    to: Annotated[str, typer.Option("--format", help="json (the documented contract), html "
                                    "or pdf (the report for people).")] = "json",
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="attribute=group to compare the others against, e.g. "
        "race=white (default: the group with the most trials).")] = None,
    out: ReportOutOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    scenario: ScenarioFilter = None,
    trainee: TraineeFilter = None,
    agency: AgencyFilter = None,
    cohort: CohortFilter = None,
    include_non_training: NonTrainingOption = False,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """The bias-audit statistics of the trials, per demographic attribute."""
    if to not in ("json", "html", "pdf"):
        fail(f"--format {to!r}: use json, html or pdf")
    references = {}
    for pair in reference or []:
        attribute, sep, group = pair.partition("=")
        if not sep or not attribute or not group:
            fail(f"--reference {pair!r}: give attribute=group, e.g. race=white")
        references[attribute.removeprefix("subject.")] = group
    scope = AuditScope(references, moment(since, "--since"), moment(until, "--until"),
                       scenario, trainee, agency, cohort, run_kinds(include_non_training))
    auditing = Auditing(open_gate(db, Permission.coordinate))
    with said_no():
        data = auditing.report(scope, vocabularies_from(profile), cast(AuditFormat, to))
    emit(data, out, f"the {to} audit",
         default_file=None if to == "json" else f"bias-audit-{date.today():%Y-%m-%d}.{to}")
