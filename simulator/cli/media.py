"""``branchpoint media``: index footage, tag it, search it, and report who it shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from media_index import MediaIndex, ProbeError, ScanReport, SearchFilter, SidecarError, sidecar_for
from media_index.coverage import (
    ReferenceError,
    bundled_reference,
    coverage,
    load_reference,
)
from media_index.coverage_report import as_html, as_json
from media_index.playability import HEADROOM, MEASURE_S, Playability, measure
from media_index.proxy import make_proxy
from media_index.sidecar import SIDECAR_SCHEMA_VERSION, check_tags, read_sidecar
from media_index.thumbnails import thumbnail
from simulator.agency import AgencyProfile, combined_group
from simulator.cli.common import (
    EXIT_PROBLEMS,
    DbOption,
    ProfileOption,
    err,
    fail,
    open_media_index,
    out_console,
    print_problems,
    shown,
    vocabularies_from,
)
from simulator.documents import DocumentError
from simulator.media import as_indexed, clip_appearances, scenario_minutes, vocabulary_for
from simulator.paths import data_dir
from simulator.playback.hardware import Decoding, choose
from simulator.scenario import LoadedScenario, ScenarioLibrary, bundled_library

media_app = typer.Typer(help="The media index: footage, tags, coverage.", no_args_is_help=True)

# Long keyframe intervals make seeking slow; beyond this a clip gets a review proxy.
PROXY_THRESHOLD_S = 1.0


def index_folders(index: MediaIndex, folders: list[Path], profile: AgencyProfile) -> ScanReport:
    """Scan ``folders`` with a progress bar; print what changed and every problem."""
    with Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=err,
                  transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: Path) -> None:
            bar.update(task, completed=done, total=total, description=path.name)

        report = index.scan(folders, vocabulary_for(profile), progress)
    err.print(f"{len(report.added)} added, {len(report.changed)} changed, "
              f"{len(report.moved)} moved, {len(report.retagged)} retagged, "
              f"{report.unchanged} unchanged, {len(report.missing)} now missing")
    for old, new in report.moved:
        err.print(f"  moved: {shown(str(old))} -> {shown(str(new))}")
    for note in report.notes:
        err.print(f"  note: {shown(note)}")
    for path in report.missing:
        err.print(f"  [yellow]missing:[/] {shown(str(path))} (kept in the index, marked missing)")
    for path, reason in report.unreadable:
        err.print(f"  [red]unreadable:[/] {shown(str(path))}: {shown(reason)}")
    for path, reason in report.skipped:
        err.print(f"  [red]skipped:[/] {shown(str(path))}: {shown(reason)}")
    for _, message in report.tag_problems:
        err.print(f"  [red]tags:[/] {shown(message)}")
    return report


@media_app.command("index")
def index_command(
    folders: Annotated[list[Path], typer.Argument(help="Folders of footage.", exists=True,
                                                  file_okay=False)],
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Index every video under the folders; only new and changed files are read."""
    report = index_folders(open_media_index(db), folders, vocabularies_from(profile))
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEMS)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            fail(f"{option} takes key=value, not `{item}`")
        out[key.strip()] = value.strip()
    return out


def _shows(values: list[str] | None, profile: AgencyProfile) -> list[tuple[str, str]]:
    vocabulary = vocabulary_for(profile)
    out = []
    for item in values or []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not value:
            fail(f"--shows takes attribute=value, not `{item}`")
        if key not in vocabulary:
            fail(f"--shows: `{key}` is not a demographic attribute; attributes are: "
                 f"{', '.join(vocabulary)}")
        if value not in vocabulary[key].values:
            fail(f"--shows: `{value}` is not a value of `{key}`; values are: "
                 f"{', '.join(sorted(vocabulary[key].values))}")
        out.append((key, value))
    return out


@media_app.command("search")
def search_command(
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Setting tag, e.g. "
                                                  "light=night (repeatable).")] = None,
    shows: Annotated[list[str] | None, typer.Option("--shows", help="Someone shown with this "
                                                    "demographic, e.g. race=asian; repeated, "
                                                    "all must hold for one person.")] = None,
    min_duration: Annotated[float | None, typer.Option("--min-duration", min=0,
                                                       help="Seconds.")] = None,
    max_duration: Annotated[float | None, typer.Option("--max-duration", min=0,
                                                       help="Seconds.")] = None,
    status: Annotated[str, typer.Option("--status", help="present, missing, unreadable or "
                                        "any.")] = "present",
    as_json_output: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Find clips by setting, by who is shown, by duration."""
    if status not in ("present", "missing", "unreadable", "any"):
        fail("--status is present, missing, unreadable or any")
    portrayed = _shows(shows, vocabularies_from(profile))
    wanted = SearchFilter(setting=_pairs(tag, "--tag"), demographics=portrayed,
                          min_duration_s=min_duration, max_duration_s=max_duration,
                          status=None if status == "any" else status)
    clips = open_media_index(db).search(wanted)
    if as_json_output:
        for clip in clips:
            typer.echo(json.dumps({"id": clip.id, "path": str(clip.path), "status": clip.status,
                                   "duration_s": clip.duration_s, "setting": clip.setting,
                                   "people": clip.people}))
        return
    table = Table(title=f"{len(clips)} clips")
    for column in ("clip", "s", "size", "setting", "people shown"):
        table.add_column(column)
    for clip in clips:
        people = "; ".join(f"{p}: " + ", ".join("+".join(v) for v in a.values())
                           for p, a in clip.people.items())
        table.add_row(shown(str(clip.path)), f"{clip.duration_s or 0:.1f}",
                      f"{clip.width}x{clip.height}" if clip.width else clip.status,
                      ", ".join(f"{k}={v}" for k, v in clip.setting.items()), people)
    out_console().print(table)


@media_app.command("tag")
def tag_command(
    clip: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="The video file to tag.")],
    person: Annotated[str | None, typer.Option("--person", help="Who the --set values "
                                               "describe (a person id of the scenario).")] = None,
    set_values: Annotated[list[str] | None, typer.Option("--set", help="Demographic of "
                                                         "--person, e.g. race=white; repeat "
                                                         "a key for several values.")] = None,
    setting: Annotated[list[str] | None, typer.Option("--setting", help="Setting tag, e.g. "
                                                      "light=night.")] = None,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Tag a clip: writes its sidecar (the tags travel with the footage), then re-indexes it."""
    vocabularies = vocabularies_from(profile)
    vocabulary = vocabulary_for(vocabularies)
    sidecar = sidecar_for(clip)
    try:
        current = read_sidecar(sidecar, vocabulary) if sidecar.is_file() else None
    except SidecarError as exc:
        fail(f"{exc}; fix or delete the sidecar first")
    people = {p: {k: list(v) for k, v in a.items()} for p, a in (current.people if current
                                                                   else {}).items()}
    tags = dict(current.setting) if current else {}
    if set_values:
        if not person:
            fail("--set needs --person to say whom it describes")
        values: dict[str, list[str]] = {}
        for item in set_values:
            key, _, value = item.partition("=")
            if not value:
                fail(f"--set takes key=value, not `{item}`")
            values.setdefault(key.strip(), []).append(value.strip())
        people[person] = {**people.get(person, {}), **values}
    tags.update(_pairs(setting, "--setting"))
    try:
        check_tags(sidecar, people, tags, vocabulary)
    except SidecarError as exc:
        fail(str(exc))
    sidecar.write_text(yaml.safe_dump({"schema_version": SIDECAR_SCHEMA_VERSION,
                                       "people": people, "setting": tags}, sort_keys=True))
    err.print(f"wrote {shown(str(sidecar))}")
    if not index_folders(open_media_index(db), [clip.parent], vocabularies).ok:
        raise typer.Exit(EXIT_PROBLEMS)


def load_library(library: Path) -> list[LoadedScenario]:
    """Every scenario of a library that loads; those that do not are reported and skipped."""
    found = []
    scenarios = ScenarioLibrary(library)
    for path in scenarios.paths():
        try:
            found.append(scenarios.load(path.parent.name))
        except DocumentError as exc:
            print_problems(exc.problems)
    return found


def coverage_document(index: MediaIndex, scenarios: list[LoadedScenario],
                      reference_csv: Path | None, profile: AgencyProfile, fmt: str) -> str:
    """The coverage report of the index and the scenarios, as JSON or HTML text."""
    try:
        reference = load_reference(reference_csv) if reference_csv else None
    except ReferenceError as exc:
        fail(str(exc))
    for attribute, rows in (reference.rows if reference else {}).items():
        spec = profile.demographics.get(attribute)
        if spec is None:
            fail(f"{reference_csv}: `{attribute}` is not a demographic attribute; attributes "
                 f"are: {', '.join(profile.demographics)}")
        for row in rows:
            value = row.counts[4:] if row.counts.startswith("any:") else row.group
            exact = row.counts == "" or row.counts.startswith("any:")
            if exact and value not in spec.values:
                fail(f"{reference_csv}: group `{value}` of `{attribute}` is not one of our "
                     f"values ({', '.join(spec.values)}); fix the spelling, or set its "
                     "counts column to `combined` or `none`")
    attributes = list(profile.demographics)
    views = {
        "clips": coverage(clip_appearances(index.clips()), attributes,
                          lambda a, v: combined_group(profile, a, v), reference),
        "scenario_minutes": coverage(scenario_minutes(scenarios), attributes,
                                     lambda a, v: combined_group(profile, a, v), reference),
    }
    labels = {a: dict(spec.values) for a, spec in profile.demographics.items()}
    if fmt == "json":
        return json.dumps(as_json(views, reference, labels), indent=2)
    return as_html(views, reference, labels,
                   {a: spec.label for a, spec in profile.demographics.items()})


@media_app.command("coverage")
def coverage_command(
    reference: Annotated[Path | None, typer.Option("--reference", exists=True, dir_okay=False,
                                                   help="Population CSV: attribute,group,share "
                                                   "(default: 2020 U.S. Census).")] = None,
    no_reference: Annotated[bool, typer.Option("--no-reference", help="Shares only, no "
                                               "population to compare with.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="json or html.")] = "html",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: "
                                             "stdout for json, the reports folder for html).")]
    = None,
    library: Annotated[Path | None, typer.Option("--library", help="Scenario library for the "
                                                 "scenario-minutes view.")] = None,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Who the footage shows, by each demographic attribute, against a reference population."""
    if fmt not in ("json", "html"):
        fail("--format is json or html")
    csv_path = None if no_reference else (reference or bundled_reference())
    document = coverage_document(open_media_index(db),
                                 load_library(library or bundled_library()), csv_path,
                                 vocabularies_from(profile), fmt)
    if out is None and fmt == "json":
        typer.echo(document)
        return
    target = out or data_dir() / "reports" / "coverage.html"
    if target.is_dir():
        target = target / f"coverage.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(document, encoding="utf-8")
    err.print(f"coverage report written to {shown(str(target))}")


ScreenOption = Annotated[str, typer.Option("--screen", help="The projector's picture, WxH: "
                                          "what each clip is scaled to.")]
SecondsOption = Annotated[float, typer.Option("--seconds", min=0.5, max=30,
                                              help="Seconds of each clip decoded to time it.")]


def _decoding(setting: str) -> Decoding:
    if not re.fullmatch(r"[a-z0-9_]{2,20}", setting):
        raise typer.BadParameter(f"{setting!r}: use auto, software or a device kind such as "
                                 "d3d11va or vaapi")
    decoding = choose(setting)
    err.print(decoding.describe())
    return decoding


DecodingOption = Annotated[Decoding, typer.Option(
    "--decoding", parser=_decoding, metavar="auto|software|KIND",
    help="Decode as the projector's `decoding` setting does (default auto: this PC's "
    "graphics chip where one comes up).")]


def _timed(path: Path, area: tuple[int, int], seconds: float, decoding: Decoding
           ) -> Playability:
    return measure(path, screen=area, seconds=seconds, hwaccel=decoding.hwaccel())


@media_app.command("proxies")
def proxies_command(
    all_clips: Annotated[bool, typer.Option("--all", help="Every clip: not only those with "
                                            f"keyframes over {PROXY_THRESHOLD_S:g} s apart "
                                            "or, with --playback, those this PC cannot play "
                                            "in real time.")] = False,
    playback: Annotated[bool, typer.Option("--playback", help="Copies the projector plays in "
                                           "place of clips this PC cannot play in real "
                                           "time.")] = False,
    screen: ScreenOption = "1920x1080",
    height: Annotated[int | None, typer.Option("--height", min=32, max=4320,
                                               help="Lines of picture of a playback proxy "
                                               "(default: the screen's).")] = None,
    seconds: SecondsOption = MEASURE_S,
    decoding: DecodingOption = "auto",  # type: ignore[assignment]  # parsed by `_decoding`
    db: DbOption = None,
) -> None:
    """Make proxies (cached in the user data folder) for review, or to play (--playback).

    Review proxies have short keyframe intervals for fast seeking; playback proxies are
    made for clips this PC cannot play in real time, checked to play here, and played by
    the projector in their place.
    """
    index = open_media_index(db)
    cache = data_dir() / "proxies"
    if playback:
        area = _screen(screen)
        _playback_proxies(index, cache, area, height or area[1], seconds, decoding,
                          every=all_clips)
        return
    failed = made = 0
    for clip in index.clips():
        slow = (clip.max_keyframe_interval_s or 0) > PROXY_THRESHOLD_S
        if clip.status != "present" or clip.content_hash is None or not (all_clips or slow):
            continue
        try:
            proxy = make_proxy(clip.path, clip.content_hash, cache)
        except ProbeError as exc:
            err.print(f"[red]{shown(str(exc))}[/]")
            failed += 1
            continue
        index.set_proxy(clip.id, proxy)
        made += 1
        err.print(f"proxy: {shown(str(clip.path))} -> {shown(str(proxy))}")
    if not made and not failed:
        err.print(f"no clip needs a proxy: every indexed clip has keyframes at most "
                  f"{PROXY_THRESHOLD_S:g} s apart (--all makes them anyway)")
    if failed:
        raise typer.Exit(EXIT_PROBLEMS)


def _playback_proxies(index: MediaIndex, cache: Path, area: tuple[int, int], height: int,
                      seconds: float, decoding: Decoding, *, every: bool) -> None:
    """Make, check and index a playback proxy for each clip this PC cannot play as it is."""
    failed = made = 0
    for clip in index.clips():
        if clip.status != "present" or clip.content_hash is None:
            continue
        shown_path = shown(str(clip.path))
        try:
            if not every and _timed(clip.path, area, seconds, decoding).realtime:
                continue
            if not as_indexed(clip, clip.path):
                # A copy would be cached under the old content's hash, and show other frames.
                err.print(f"[red]{shown_path}: changed since it was indexed: index its "
                          "folder again (branchpoint media index), then make its proxy[/]")
                failed += 1
                continue
            proxy = make_proxy(clip.path, clip.content_hash, cache, max_height=height)
            measured = _timed(proxy, area, seconds, decoding)
        except ProbeError as exc:
            err.print(f"[red]{shown(str(exc))}[/]")
            failed += 1
            continue
        if not measured.realtime:
            # Indexed anyway it would be played, and drop frames: better the pre-flight's
            # plain refusal to play the original than a proxy that fails the same way.
            err.print(f"[red]{shown_path}: a {height}-line copy still decodes at only "
                      f"{measured.decode_fps:.0f} fps here (it needs "
                      f"{measured.clip_fps * HEADROOM:.0f}): try a smaller --height[/]")
            failed += 1
            continue
        index.set_playback_proxy(clip.id, proxy)
        made += 1
        err.print(f"playback proxy: {shown_path} -> {shown(str(proxy))} (decodes at "
                  f"{measured.decode_fps:.0f} fps here)")
    if not made and not failed:
        err.print("no clip needs a playback proxy: this PC plays every indexed clip in real "
                  "time (--all makes them anyway)")
    if failed:
        raise typer.Exit(EXIT_PROBLEMS)


def _screen(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not all(part.isascii() and part.isdecimal() for part in (width, height)) or not (
            16 <= int(width) <= 16_384 and 16 <= int(height) <= 16_384):
        raise typer.BadParameter(f"{text!r} is not a screen size like 1920x1080")
    return int(width), int(height)


@media_app.command("playable")
def playable_command(
    screen: ScreenOption = "1920x1080",
    seconds: SecondsOption = MEASURE_S,
    decoding: DecodingOption = "auto",  # type: ignore[assignment]  # parsed by `_decoding`
    db: DbOption = None,
) -> None:
    """Say, per clip, whether this PC decodes it fast enough to play it in real time.

    A clip it cannot play counts as playable when its playback proxy plays here.
    """
    area = _screen(screen)
    index = open_media_index(db)
    table = Table(title=f"decoding on this PC for a {area[0]}x{area[1]} screen (needs "
                        f"{HEADROOM:g} times the clip's rate)")
    for column in ("clip", "size", "fps", "decodes at", "real time"):
        table.add_column(column)
    slow, failed = [], 0
    for clip in index.clips():
        if clip.status != "present":
            continue
        proxy = clip.playback_proxy_path
        try:
            measured = _timed(clip.path, area, seconds, decoding)
            verdict = "yes" if measured.realtime else "[bold red]NO[/]"
            if (not measured.realtime and proxy is not None and proxy.is_file()
                    and as_indexed(clip, clip.path)):  # as the projector decides
                by_proxy = _timed(proxy, area, seconds, decoding)
                verdict = (f"from its proxy ({by_proxy.decode_fps:.0f} fps)"
                           if by_proxy.realtime else
                           f"[bold red]NO[/], nor its proxy ({by_proxy.decode_fps:.0f} fps)")
                measured = by_proxy if by_proxy.realtime else measured
        except ProbeError as exc:
            err.print(f"[red]{shown(str(exc))}[/]")
            failed += 1
            continue
        if not measured.realtime:
            slow.append(clip)
        table.add_row(shown(str(clip.path)), f"{clip.width}x{clip.height}",
                      f"{measured.clip_fps:g}", f"{measured.decode_fps:.0f} fps", verdict)
    out_console().print(table)
    if slow:
        err.print(f"{len(slow)} clips cannot be played in real time here: make playback "
                  f"proxies the projector plays in their place (branchpoint media proxies "
                  f"--playback --screen {area[0]}x{area[1]}), or play them on a PC that "
                  "decodes faster (docs/projector.md, \"Large footage\")")
    if slow or failed:
        raise typer.Exit(EXIT_PROBLEMS)


@media_app.command("thumbnails")
def thumbnails_command(db: DbOption = None) -> None:
    """Make a still per clip for the library browser (cached in the user data folder)."""
    cache = data_dir() / "thumbnails"
    made = 0
    for clip in open_media_index(db).clips():
        if clip.status == "present" and clip.content_hash:
            try:
                thumbnail(clip.path, clip.content_hash, cache)
                made += 1
            except ProbeError as exc:
                err.print(f"[red]{shown(str(exc))}[/]")
    err.print(f"{made} thumbnails in {shown(str(cache))}")
