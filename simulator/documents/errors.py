"""Problems found in a document, each pinned to a place in its file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, and where it is."""

    message: str
    source: str
    field: str = ""
    line: int | None = None
    column: int | None = None
    severity: Severity = "error"
    code: str = "invalid"

    def __str__(self) -> str:
        place = self.source
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{place}: {self.severity}:{field} {self.message}"


class DocumentError(ValueError):
    """A document could not be loaded; ``problems`` says every reason found."""

    def __init__(self, source: str | Path, problems: list[Problem]) -> None:
        self.source = str(source)
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
