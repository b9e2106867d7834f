"""``branchpoint studio``: build scenarios from an agency's own footage, without YAML.

Qt and the studio are imported inside the command, so the rest of the CLI starts without
them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simulator.access import Permission
from simulator.cli.common import (
    DbOption,
    ProfileOption,
    fail,
    open_gate,
    said_no,
    vocabularies_from,
)
from simulator.documents import DocumentError
from simulator.paths import data_dir
from simulator.training.authoring import Authoring

TEMPLATE = "blank"


def studio(
    scenario: Annotated[Path | None, typer.Argument(
        help="A scenario file or folder to open (default: a new scenario).")] = None,
    library: Annotated[Path | None, typer.Option(
        "--library", help="The agency's scenario library, where new scenarios are saved "
        "(default: `scenarios` in the data folder).")] = None,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """The scenario studio: bring in takes, cut segments, mark cues, draw branches, preview."""
    vocabularies = vocabularies_from(profile)
    gate = open_gate(db, Permission.run)
    from simulator.projector.app import display_available, qt_application

    app = qt_application()
    if not display_available():
        fail("the studio needs a display (on a server, run it under xvfb-run)")
    with said_no():
        authoring = Authoring(gate, library or data_dir() / "scenarios", vocabularies)
    try:
        if scenario is not None:
            editor = authoring.open(scenario)
        else:
            editor = authoring.new(TEMPLATE, scenario_id=authoring.unused_id(),
                                   title="New scenario")
    except DocumentError as exc:
        fail(str(exc))
    from instructor_console.studio.window import StudioWindow

    window = StudioWindow(authoring, editor)
    window.show()
    app.setQuitOnLastWindowClosed(True)
    app.exec()
