"""What every ``branchpoint`` command shares: output, options, exit codes, opening things."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from media_index import MediaIndex, MediaIndexError
from simulator.agency import AgencyProfile, load_profile
from simulator.documents import DocumentError, Problem
from simulator.paths import write_file
from simulator.record import DB_ENV, Record, RecordError

err = Console(stderr=True, highlight=False)

# Lint checks are named in the output so a line can be found in docs/scenario-format.md.
LINT_CODES = frozenset({
    "unknown-start", "unknown-target", "no-default", "unknown-default", "duplicate-hotkey",
    "duplicate-id", "dead-end", "cycle-without-exit", "no-outcome", "unreachable",
    "cue-outside-segment", "loop-outside-segment", "line-outside-segment",
    "undeclared-person", "unknown-vocabulary", "single-valued", "truth-contradiction",
    "truth-incomplete", "variant-missing-person", "variant-missing-clip",
    "demographics-incomplete", "clip-missing", "clip-not-indexed", "clip-unreadable",
    "clip-too-short", "clip-tags-invalid", "clip-tags-disagree", "id-mismatch",
})

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar=DB_ENV, help="Database URL (default: SQLite in the user data "
                 "folder).", show_envvar=True),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option("--profile", help="Agency profile that extends the built-in vocabularies.",
                 exists=True, dir_okay=False),
]

EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``message`` as an error and exit with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def print_problems(problems: list[Problem]) -> None:
    """Print problems, errors in red and warnings in yellow."""
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        check = f" [{problem.code}]" if problem.code in LINT_CODES else ""
        err.print(f"[{colour}]{escape(str(problem) + check)}[/]", soft_wrap=True)


def vocabularies_from(path: Path | None) -> AgencyProfile:
    """The agency profile (built-in, extended by ``path``), or exit naming what is wrong."""
    try:
        return load_profile(path)
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def open_record(db: str | None) -> Record:
    """The record at ``db`` (or the default), or exit saying why it cannot be opened."""
    try:
        return Record.open(db)
    except RecordError as exc:
        fail(str(exc))


def open_media_index(db: str | None) -> MediaIndex:
    """The media index in the record's database, or exit saying why not."""
    record = open_record(db)
    try:
        return MediaIndex.open(record.engine)
    except MediaIndexError as exc:
        fail(str(exc))


def emit(data: str | bytes, out: Path | None, written: str) -> None:
    """Text to standard output, or ``data`` to the file ``out`` with ``written`` said."""
    if out is None:
        sys.stdout.write(data if isinstance(data, str) else data.decode())
        return
    write_file(out, data)
    err.print(f"{written} written to {escape(str(out))}")
