"""A class roster read from CSV, so an instructor can run a class without typing names.

Rosters come from spreadsheets, so the reader takes what Excel and LibreOffice write: UTF-8
with or without a byte-order mark, commas or (in locales with a decimal comma) semicolons.
It is strict about the rest: a roster names who was trained, and a misread one puts runs
against the wrong person in the record. So every problem is reported, each with the line,
the column and what to change, and nothing is read until the file is right.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.documents import DocumentError, Problem
from simulator.names import name_problem

COLUMNS = ("name", "badge", "cohort")
# A roster is one class; anything far larger is the wrong file (a whole agency's HR export).
MAX_BYTES = 1_000_000
MAX_ROWS = 2000
# The record's limits for a display name and an external reference (badge).
MAX_NAME = 200
MAX_BADGE = 100
MAX_COHORT = 100

_EXAMPLE = "name,badge,cohort"


@dataclass(frozen=True)
class RosterEntry:
    """One trainee of a class: their name as shown, and optionally badge and cohort."""

    name: str
    badge: str | None = None
    cohort: str | None = None


def next_group(class_list: Sequence[str], after: Sequence[str]) -> tuple[str, ...] | None:
    """Who comes after ``after`` in ``class_list``, as many as ``after`` held.

    The change-over to the next turn of a class: it follows the last of ``after`` found in
    the list (the start of the list if none is). None at the end of the list.
    """
    names = list(class_list)
    last = max((names.index(n) for n in after if n in names), default=-1)
    following = tuple(names[last + 1:last + 1 + len(after)])
    return following or None


def read_roster(path: Path) -> list[RosterEntry]:
    """The trainees listed in the CSV file at ``path``, in file order.

    The first line is a header naming the columns, in any order and any case: ``name``
    (required), ``badge`` and ``cohort`` (optional). Blank lines are skipped. Any other
    column is an error rather than ignored, because a misspelt ``badge`` column would
    otherwise drop every badge without a word. Badges must be unique (ignoring case).

    Raises DocumentError listing every problem found, each naming the line and column.
    """
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _refuse(source, f"the file is {size:,} bytes, over the {MAX_BYTES:,} a "
                          "roster may be; a roster is one class, so split the file by class")
        raw = path.read_bytes()
    except OSError as exc:
        raise _refuse(source, f"cannot read the file: {exc.strerror or exc}; check the path "
                      "and that the file is not open elsewhere") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DocumentError(source, [Problem(
            "the file is not UTF-8 text; save it as UTF-8 (in Excel: Save As, "
            "\"CSV UTF-8 (Comma delimited)\")", source, line=line, code="encoding")]) from None
    return _parse(text, source)


def _parse(text: str, source: str) -> list[RosterEntry]:
    header_line = next((n for n, line in enumerate(text.splitlines(), 1) if line.strip()), None)
    if header_line is None:
        raise _refuse(source, f"the file is empty; its first line must be a header such as "
                      f"`{_EXAMPLE}`, then one line per trainee", code="empty")
    delimiter = _delimiter(text.splitlines()[header_line - 1])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    problems: list[Problem] = []
    columns: dict[str, int] | None = None
    width = rows = 0
    entries: list[RosterEntry] = []
    badges: dict[str, int] = {}
    names: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns, width = _header(cells, source, line, problems), len(cells)
                if problems:
                    break
                continue
            rows += 1
            if rows > MAX_ROWS:
                problems.append(Problem(
                    f"more than {MAX_ROWS} trainees; a roster is one class, so split the file "
                    "by class", source, line=line, code="too-large"))
                break
            entry = _row(cells, columns, width, delimiter, source, line, problems)
            if entry is None:
                continue
            if entry.badge is not None:
                first = badges.setdefault(entry.badge.casefold(), line)
                if first != line:
                    problems.append(Problem(
                        f"badge `{entry.badge}` is already on line {first}; each trainee needs "
                        "their own badge, so correct one of them or leave it empty", source,
                        field="badge", line=line, code="duplicate"))
            # The record knows trainees by name, so two of one name would become one person.
            first_name = names.setdefault(entry.name.casefold(), line)
            if first_name != line:
                problems.append(Problem(
                    f"`{entry.name}` is already on line {first_name}; the record tells "
                    "trainees apart by name, so add a middle initial or the badge number to "
                    "one of them", source, field="name", line=line, code="duplicate"))
            entries.append(entry)
    except csv.Error as exc:
        problems.append(Problem(
            f"cannot read this line as CSV ({exc}); check its quotes, or re-save the file "
            "from the spreadsheet as CSV", source, line=reader.line_num, code="invalid"))
    if problems:
        raise DocumentError(source, problems)
    if not entries:
        raise _refuse(source, "the header is there but no trainee is listed; add one line "
                      "per trainee under it", code="empty")
    return entries


def _delimiter(header: str) -> str:
    # The header decides, as it holds no free text: "name;badge" is semicolon-separated
    # even if a trainee's name later holds a comma. csv.Sniffer guesses wrongly on a
    # one-column file and on names like "Reyes, Dana", so it is not used.
    return ";" if header.count(";") > header.count(",") else ","


def _header(cells: list[str], source: str, line: int,
            problems: list[Problem]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, cell in enumerate(cells, 1):
        name = cell.strip().casefold()
        if not name:
            # Spreadsheets leave empty columns at the edge; harmless while they stay empty.
            continue
        if name in columns:
            problems.append(Problem(
                f"column {position} repeats `{name}` (also column {columns[name] + 1}); "
                "keep one of them", source, field=name, line=line, code="duplicate"))
        elif name in COLUMNS:
            columns[name] = position - 1
        else:
            problems.append(Problem(
                f"column {position} is `{cell.strip()}`, which a roster does not have; "
                f"{_rename_hint(name)}the columns are {', '.join(COLUMNS)} (only name is "
                "required), so rename or delete it", source, field=cell.strip(), line=line,
                code="unknown-column"))
    if "name" not in columns:
        problems.append(Problem(
            f"there is no `name` column; the first line must be a header such as "
            f"`{_EXAMPLE}`", source, field="name", line=line, code="missing"))
    return columns


def _row(cells: list[str], columns: dict[str, int], width: int, delimiter: str, source: str,
         line: int, problems: list[Problem]) -> RosterEntry | None:
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        problems.append(Problem(
            f"this line has {len(cells)} values but the header has {width} columns; put "
            f"quotes around a value that holds `{delimiter}`, or remove the extra values",
            source, line=line, code="invalid"))
        return None
    unlabelled = [n for n, cell in enumerate(cells[:width], 1)
                  if cell.strip() and n - 1 not in columns.values()]
    if unlabelled:
        problems.append(Problem(
            f"column {unlabelled[0]} holds a value but has no heading; give it one of "
            f"{', '.join(COLUMNS)} in the header, or empty the column", source,
            field=f"column {unlabelled[0]}", line=line, code="unknown-column"))
        return None

    def value(column: str) -> str:
        position = columns.get(column)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    name, badge, cohort = value("name"), value("badge"), value("cohort")
    found = len(problems)
    if not name:
        problems.append(Problem(
            "the name is empty; write the trainee's name, or delete the line", source,
            field="name", line=line, code="missing"))
    elif len(name) > MAX_NAME:
        problems.append(Problem(
            f"the name is {len(name)} characters, over {MAX_NAME}; shorten it", source,
            field="name", line=line, code="too-long"))
    if len(badge) > MAX_BADGE:
        problems.append(Problem(
            f"the badge is {len(badge)} characters, over {MAX_BADGE}; shorten it", source,
            field="badge", line=line, code="too-long"))
    if len(cohort) > MAX_COHORT:
        problems.append(Problem(
            f"the cohort is {len(cohort)} characters, over {MAX_COHORT}; shorten it", source,
            field="cohort", line=line, code="too-long"))
    for column, text in (("name", name), ("badge", badge), ("cohort", cohort)):
        if (problem := name_problem(text)) is not None:
            problems.append(Problem(f"in the {column}, {problem}", source, field=column,
                                    line=line, code="invalid"))
    if len(problems) > found:
        return None
    return RosterEntry(name, badge or None, cohort or None)


def _rename_hint(name: str) -> str:
    close = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`? " if close else ""


def _refuse(source: str, message: str, code: str = "invalid") -> DocumentError:
    return DocumentError(source, [Problem(message, source, code=code)])
