"""``branchpoint library``: generate the bundled scenarios' stand-in clips, list the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table

from media_index import MediaIndex
from simulator.agency import AgencyProfile
from simulator.cli.common import (
    EXIT_PROBLEMS,
    DbOption,
    ProfileOption,
    err,
    fail,
    open_media_index,
    out_console,
    shown,
    vocabularies_from,
)
from simulator.cli.media import index_folders, load_library
from simulator.media import IndexedClips, write_sidecars
from simulator.paths import standins_dir
from simulator.scenario import LoadedScenario, bundled_library, lint
from simulator.standins import Size, StandinError, default_out_dir, generate_scenario
from simulator.wording import counted

library_app = typer.Typer(help="The scenario library and its stand-in clips.",
                          no_args_is_help=True)

LibraryOption = Annotated[Path | None, typer.Option("--library", help="Scenario library "
                                                    "folder (default: the bundled one).")]


def generate_library(scenarios: list[LoadedScenario], size: Size) -> None:
    """Render (or confirm up to date) every scenario's stand-ins and tag them by variant."""
    for loaded in scenarios:
        out = default_out_dir(loaded)
        try:
            manifest = generate_scenario(
                loaded, out, size=size,
                progress=lambda message: err.print(f"  {shown(message)}", highlight=False))
        except StandinError as exc:
            fail(f"{loaded.scenario.id}: {exc}")
        write_sidecars(loaded, out)
        state = f"{len(manifest.rendered)} rendered" if manifest.rendered else "up to date"
        err.print(f"{loaded.scenario.id}: {len(manifest.clips)} stand-in clips ({state}) in "
                  f"{shown(str(out))}")


@library_app.command("generate")
def generate_command(
    size: Annotated[str, typer.Option("--size", help="demo (640x360) or tiny (for tests).")]
    = "demo",
    scenario: Annotated[list[str] | None, typer.Option("--scenario", help="Only these "
                                                       "scenario ids.")] = None,
    library: LibraryOption = None,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Render the stand-in clips of the library's scenarios, then index them."""
    if size not in ("demo", "tiny"):
        fail("--size is demo or tiny")
    scenarios = [s for s in load_library(library or bundled_library())
                 if not scenario or s.scenario.id in scenario]
    if scenario and {s.scenario.id for s in scenarios} != set(scenario):
        known = ", ".join(s.scenario.id for s in load_library(library or bundled_library()))
        unknown = ", ".join(sorted(set(scenario) - {s.scenario.id for s in scenarios}))
        fail(f"no scenario {unknown} in the library; scenarios are: {known}")
    generate_library(scenarios, cast(Size, size))
    report = index_folders(open_media_index(db), [standins_dir()], vocabularies_from(profile))
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEMS)


def library_table(scenarios: list[LoadedScenario], index: MediaIndex,
                  profile: AgencyProfile) -> tuple[Table, int]:
    """The library as a table (with each scenario's lint against its clips); and the errors."""
    table = Table(title=counted(len(scenarios), "scenario"))
    table.add_column("scenario", no_wrap=True)
    table.add_column("title")
    for column in ("decisions", "outcomes", "variants", "lint"):
        table.add_column(column, no_wrap=True)
    errors = 0
    for loaded in scenarios:
        s = loaded.scenario
        report = lint(s, profile, source=loaded.source, media=IndexedClips(loaded, index))
        errors += len(report.errors)
        verdict = ("[green]clean[/]" if not report.problems else
                   f"[red]{counted(len(report.errors), 'error')}[/]" if report.errors else
                   f"[yellow]{counted(len(report.warnings), 'warning')}[/]")
        table.add_row(s.id, shown(s.title), str(sum(1 for seg in s.segments if seg.decision)),
                      str(len({seg.outcome.kind for seg in s.segments if seg.outcome})),
                      ", ".join(v.id for v in s.variants), verdict)
    return table, errors


@library_app.command("list")
def list_command(
    library: LibraryOption = None,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """The scenarios, with lint run against their clips and the media index."""
    table, errors = library_table(load_library(library or bundled_library()),
                                  open_media_index(db), vocabularies_from(profile))
    out_console().print(table)
    if errors:
        raise typer.Exit(EXIT_PROBLEMS)
