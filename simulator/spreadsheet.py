"""CSV that a spreadsheet shows as data and never runs as a formula (CSV injection).

Excel, LibreOffice and Google Sheets read a cell starting with ``=``, ``+``, ``-`` or ``@``
as a formula, and some trim a leading tab or carriage return first, so a name such as
``=HYPERLINK(...)`` in an export would run on the analyst's machine. As OWASP advises, such
a text cell is written with a leading ``'``, which spreadsheets take as "text follows". A
number is not a formula and stays a number, so ``-12.5`` is written as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# Plain decimals only: "-inf" or "-1+1" also parse in some readers, and are formulas to a
# spreadsheet.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _formula_like(text: str) -> bool:
    return text.startswith(FORMULA_LEADS) and not _NUMBER.fullmatch(text)


def csv_cell(value: object) -> object:
    """``value`` as a safe CSV cell: text a spreadsheet would run gets a leading ``'``.

    Text that only quotes hide from the rule (``'=x``) gets one more, so that `plain_cell`
    can take off exactly the quote added here. Numbers and numeric text are left as they are.
    """
    if isinstance(value, str) and _formula_like(value.lstrip(QUOTE)):
        return QUOTE + value
    return value


def plain_cell(text: str) -> str:
    """The value that `csv_cell` turned into ``text``: the quote it added taken off."""
    if text.startswith(QUOTE) and _formula_like(text.lstrip(QUOTE)):
        return text[1:]
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header and rows as CSV text, every cell made safe by `csv_cell`."""
    out = io.StringIO()
    plain = csv.writer(out, lineterminator="\n")
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(header)
    for row in rows:
        cells = [csv_cell(cell) for cell in row]
        # Lines end in "\n", so the csv module leaves a lone "\r" unquoted; readers break the
        # row there, and the rest of the cell would start a row of its own, unguarded.
        split = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        (quoted if split else plain).writerow(cells)
    return out.getvalue()
