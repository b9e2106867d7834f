"""Where Branchpoint keeps what it writes: one per-user data folder, never the source tree."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_ENV = "BRANCHPOINT_DATA"
APP_NAME = "branchpoint"


def data_dir() -> Path:
    """The per-user data folder (``$BRANCHPOINT_DATA`` overrides it): record, media, reports."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME,
                                                                            appauthor=False))


def standins_dir() -> Path:
    """Where generated stand-in clips of the bundled scenarios live, one folder a scenario."""
    return data_dir() / "standins"


def write_file(path: Path, data: str | bytes) -> None:
    """Write a report or an export to ``path``: text as UTF-8, bytes (a PDF) as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
