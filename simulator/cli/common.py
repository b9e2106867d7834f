"""What every ``branchpoint`` command shares: output, options, exit codes, opening things."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from media_index import MediaIndex, MediaIndexError
from simulator.access import Account, Permission
from simulator.agency import AgencyProfile, load_profile
from simulator.documents import DocumentError, Problem
from simulator.names import inert, name_problem
from simulator.paths import write_file
from simulator.protocol import RUN_KINDS, TRAINING, RunKind
from simulator.record import DB_ENV, Record, RecordError
from simulator.training import COMMAND_LINE, AccessDenied, Gate, SignedOut, SignInError

err = Console(stderr=True, highlight=False)

# Piped output is read by a program or kept in a file: a row cut into several lines at some
# guessed width helps neither, so it is left as wide as its content.
PIPED_WIDTH = 10_000


def out_console() -> Console:
    """Standard output for tables: the terminal's width, or unbounded when piped."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)

# Lint checks are named in the output so a line can be found in docs/scenario-format.md.
LINT_CODES = frozenset({
    "unknown-start", "unknown-target", "no-default", "unknown-default", "duplicate-hotkey",
    "duplicate-id", "dead-end", "cycle-without-exit", "no-outcome", "unreachable",
    "cue-outside-segment", "loop-outside-segment", "line-outside-segment",
    "undeclared-person", "unknown-vocabulary", "single-valued", "truth-contradiction",
    "truth-incomplete", "variant-missing-person", "variant-missing-clip",
    "demographics-incomplete", "clip-missing", "clip-not-indexed", "clip-unreadable",
    "clip-too-short", "clip-tags-invalid", "clip-tags-disagree", "id-mismatch",
    "clip-outside-media-roots",
})

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar=DB_ENV, help="Database URL (default: SQLite in the user data "
                 "folder).", show_envvar=True),
]
NonTrainingOption = Annotated[
    bool,
    typer.Option("--include-non-training", help="Count demonstration and test runs too; "
                 "they are left out by default, since they are not training."),
]


def run_kinds(include_non_training: bool) -> tuple[RunKind, ...]:
    """The kinds of run a report counts: training only, unless asked for every kind."""
    return RUN_KINDS if include_non_training else TRAINING


ProfileOption = Annotated[
    Path | None,
    typer.Option("--profile", help="Agency profile that extends the built-in vocabularies.",
                 exists=True, dir_okay=False),
]

EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2
EXIT_DENIED = 3

# Credentials come from these, or from a prompt: never from arguments, which other users of
# the PC can read in the process list and which shells keep in their history.
USER_ENV = "BRANCHPOINT_USER"
PASSWORD_ENV = "BRANCHPOINT_PASSWORD"  # noqa: S105 - the variable's name, not a password


def shown(text: str) -> str:
    """Stored or typed ``text`` made safe to print with rich: markup and controls inert.

    An older record may hold names with escape sequences or bidi overrides in them; printed
    as they are, they could rewrite what is on the screen (a head hash, another name).
    """
    return escape(inert(text))


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``message`` as an error and exit with ``code``."""
    err.print(f"[bold red]error:[/] {shown(message)}")
    raise typer.Exit(code)


def names_or_exit(option: str, names: list[str] | str | None) -> None:
    """Exit, naming the character, if a name given as ``option`` holds one no name may."""
    for name in [names] if isinstance(names, str) else names or []:
        if (problem := name_problem(name)) is not None:
            fail(f"{option} {inert(name)!r}: {problem}")


def print_problems(problems: list[Problem]) -> None:
    """Print problems, errors in red and warnings in yellow."""
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        check = f" [{problem.code}]" if problem.code in LINT_CODES else ""
        err.print(f"[{colour}]{shown(str(problem) + check)}[/]", soft_wrap=True)


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


def gate_for(record: Record, permission: Permission, *, always_note: bool = False) -> Gate:
    """The gate of whoever runs the command, signed in if its role allows ``permission``.

    The name and password come from BRANCHPOINT_USER and BRANCHPOINT_PASSWORD, else from a
    prompt. A record with no accounts yet is open: a gate for no one, with a note saying how
    to protect it, the first time for the record (every time with ``always_note``). A
    refused sign-in or role is logged and exits with code 3.
    """
    gate = Gate(record, None, COMMAND_LINE)
    if not gate.guarded:
        first = record.notices.first(OPEN_RECORD_NOTICE)
        if first or always_note:
            note_open_record()
        return gate
    username = os.environ.get(USER_ENV) or typer.prompt("user name")
    password = os.environ.get(PASSWORD_ENV) or typer.prompt("password", hide_input=True)
    try:
        return Gate.sign_in(record, username, password, permission, where=COMMAND_LINE)
    except SignInError as exc:
        fail(f"cannot sign in: {exc}", EXIT_DENIED)
    except AccessDenied as exc:
        fail(str(exc), EXIT_DENIED)


def sign_in(record: Record, permission: Permission, *,
            always_note: bool = False) -> Account | None:
    """The account of whoever runs the command (None on an open record): see `gate_for`."""
    return gate_for(record, permission, always_note=always_note).account


OPEN_RECORD_NOTICE = "open_record"


def note_open_record() -> None:
    """Say that a record without accounts is open to anyone who can run Branchpoint."""
    err.print("[yellow]note:[/] this record has no accounts yet, so anyone who can run "
              "Branchpoint here can read and change it; protect it with `branchpoint "
              "accounts add NAME --role administrator`")


def open_gate(db: str | None, permission: Permission, *, always_note: bool = False) -> Gate:
    """The record's gate for whoever runs the command, allowed ``permission`` (`gate_for`)."""
    return gate_for(open_record(db), permission, always_note=always_note)


def open_record_as(db: str | None, permission: Permission, *,
                   always_note: bool = False) -> tuple[Record, Account | None]:
    """The record, and the signed-in account allowed ``permission`` (see `gate_for`)."""
    gate = open_gate(db, permission, always_note=always_note)
    return gate.record, gate.account


@contextmanager
def said_no() -> Iterator[None]:
    """Exit saying why when a use case says no.

    A refusal (a role, another instructor's session, an account signed out since) exits
    with code 3; input that names nothing or will not do, with code 2.
    """
    try:
        yield
    except (AccessDenied, SignedOut) as exc:
        fail(str(exc), EXIT_DENIED)
    except ValueError as exc:
        fail(str(exc))


def open_media_index(db: str | None) -> MediaIndex:
    """The media index in the record's database, or exit saying why not."""
    record = open_record(db)
    try:
        return record.media_index()
    except MediaIndexError as exc:
        fail(str(exc))


def emit(data: str | bytes, out: Path | None, written: str, *,
         default_file: str | None = None) -> None:
    """``data`` to the file ``out`` with ``written`` said, else to standard output.

    ``default_file``: a document for people (HTML, PDF) that has no place in a terminal.
    Without ``out`` it goes to a new file of that name in the current folder (``-2``,
    ``-3``... before the suffix rather than overwrite one), whose path is said.
    """
    new = out is None
    if out is None:
        if default_file is None:
            sys.stdout.write(data if isinstance(data, str) else data.decode())
            return
        out = Path.cwd() / default_file
    try:
        if new:
            out = write_new_file(out, data)
        else:
            write_file(out, data)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}; give --out a file in a folder you can "
             "write to")
    err.print(f"{written} written to {escape(str(out.absolute()))}", soft_wrap=True)


def write_new_file(wanted: Path, data: str | bytes) -> Path:
    """Write ``data`` to a file made new for it: ``wanted``, else ``name-2.ext``, ``-3``...

    Made with exclusive creation, so nothing already there is overwritten or followed: a
    name that exists, even as a link planted in a shared folder, is passed over.
    """
    content = data.encode() if isinstance(data, str) else data
    number = 1
    while True:
        candidate = wanted if number == 1 else wanted.with_name(
            f"{wanted.stem}-{number}{wanted.suffix}")
        try:
            with candidate.open("xb") as file:
                file.write(content)
        except FileExistsError:
            number += 1
            continue
        return candidate
