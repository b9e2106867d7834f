"""``branchpoint``: validate scenarios, run them headless, list sessions, verify the record."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.markup import escape
from rich.table import Table

from media_index.coverage import bundled_reference
from simulator.access import AccessDenied, Account, Permission
from simulator.agency import AgencyProfile
from simulator.cli.admin import (
    access_log,
    accounts_app,
    backup_command,
    erase,
    grant_role,
    restore_command,
    settings,
)
from simulator.cli.audit import audit_app
from simulator.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_DENIED,
    EXIT_PROBLEMS,
    DbOption,
    ProfileOption,
    err,
    fail,
    names_or_exit,
    open_gate,
    open_media_index,
    open_record,
    open_record_as,
    out_console,
    print_problems,
    said_no,
    shown,
    sign_in,
    vocabularies_from,
)
from simulator.cli.console import (
    ListenHostOption,
    Listening,
    ListenOption,
    NoTlsOption,
    TlsCertOption,
    TlsKeyOption,
    console,
    open_console_server,
    remote_console,
)
from simulator.cli.library import generate_library, library_app, library_table
from simulator.cli.media import coverage_document, index_folders, load_library, media_app
from simulator.cli.projector import (
    BackendOption,
    ScreenOption,
    WindowedOption,
    load_projector_settings,
    projector_app,
    window_size_or_none,
)
from simulator.cli.review import export, records_app, score
from simulator.cli.studio import studio
from simulator.documents import DocumentError, Problem
from simulator.headless.driver import drive
from simulator.headless.player import HeadlessPlayer
from simulator.headless.room import HeadlessRoom
from simulator.headless.script import Script, load_script
from simulator.media import IndexedClips, playback_clip
from simulator.paths import data_dir, standins_dir
from simulator.ports import Player
from simulator.protocol import RUN_KINDS, Event, RunKind
from simulator.record import Record, RecordError, verify_all, verify_run
from simulator.review.describe import describe
from simulator.runtime import MonotonicClock, RunFaulted, ScaledClock, ScenarioRun
from simulator.scenario import (
    LintReport,
    LoadedScenario,
    ScenarioLibrary,
    bundled_library,
    lint,
    load_scenario,
)
from simulator.standins import Size
from simulator.training import Reviewing
from simulator.training.gate import COMMAND_LINE, Gate, SignedOut
from simulator.training.ports import Room, RunFactory, Staged
from simulator.training.reviewing import SessionView
from simulator.training.sitting import ClassSitting, RunPlan

app = typer.Typer(
    name="branchpoint",
    help="Branchpoint: scenario-based de-escalation and use-of-force training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sessions_app = typer.Typer(help="Sessions in the record.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(media_app, name="media")
app.add_typer(library_app, name="library")
app.add_typer(projector_app, name="projector")
app.command("console")(console)
app.command("remote-console")(remote_console)
app.command("studio")(studio)
app.command("export")(export)
app.command("score")(score)
app.add_typer(records_app, name="records")
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_app, name="accounts")
app.command("access-log")(access_log)
app.command("settings")(settings)
app.command("erase")(erase)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("grant-role")(grant_role)


def main() -> None:
    """Entry point of the ``branchpoint`` console script."""
    try:
        app()
    except RecordError as exc:
        # The record failing under a command already under way (a full disk, a server gone):
        # what it could not do is said plainly, not as a traceback.
        err.print(f"[bold red]error:[/] {shown(str(exc))}", soft_wrap=True)
        sys.exit(EXIT_PROBLEMS)


def _print_version(asked: bool) -> None:
    if asked:
        try:
            installed = package_version("branchpoint")
        except PackageNotFoundError:
            installed = "(not installed: run from a source folder)"
        typer.echo(f"branchpoint {installed}")
        raise typer.Exit


@app.callback()
def _options(
    _version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print Branchpoint's version and exit.")] = False,
) -> None:
    """Branchpoint: scenario-based de-escalation and use-of-force training."""


KindOption = Annotated[str, typer.Option(
    "--kind", help="training (the default), or demo or test: recorded like any run, but "
    "left out of the audit and training records.")]


def _kind_or_fail(kind: str, resume: str | None) -> RunKind:
    if resume is not None and kind != "training":
        fail("--kind is for a new run; a resumed run keeps the kind it started with")
    for known in RUN_KINDS:
        if kind == known:
            return known
    fail(f"--kind {kind!r}: use {', '.join(RUN_KINDS)}")


# -- validate ----------------------------------------------------------------------------


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files, scenario folders, or "
                                                "library folders holding <id>/scenario.yaml.")],
    profile: ProfileOption = None,
    check_media: Annotated[bool, typer.Option("--check-media", help="Also check clips against "
                                              "the disk and the media index.")] = False,
    db: DbOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Load and lint scenarios. Exit 0 clean, 1 load or lint errors, 2 bad arguments."""
    vocabularies = vocabularies_from(profile)
    index = open_media_index(db) if check_media else None
    files: list[Path] = []
    for path in paths:
        if path.is_dir() and not (path / "scenario.yaml").is_file():
            found = ScenarioLibrary(path).paths()
            if not found:
                fail(f"{path}: no scenario.yaml here nor in any sub-folder")
            files.extend(found)
        else:
            files.append(path)
    failed = 0
    for file in files:
        try:
            loaded = load_scenario(file)
        except DocumentError as exc:
            _print_some(exc.problems)
            failed += 1
            continue
        media = IndexedClips(loaded, index) if index else None
        report = lint(loaded.scenario, vocabularies, source=loaded.source, media=media)
        folder = Path(loaded.source).parent.name
        if Path(loaded.source).name == "scenario.yaml" and folder != loaded.scenario.id:
            report = LintReport((*report.problems, Problem(
                f"`id: {loaded.scenario.id}` but the folder is `{folder}`; a library finds "
                "scenarios by folder, so rename one to match", loaded.source, field="id",
                code="id-mismatch")))
        _print_some(list(report.problems), loaded.text)
        bad = not report.ok or (strict and bool(report.warnings))
        failed += bad
        verdict = "[red]FAIL[/]" if bad else "[green]ok[/]"
        err.print(f"{verdict} {escape(loaded.source)}: {len(report.errors)} errors, "
                  f"{len(report.warnings)} warnings")
    if failed:
        raise typer.Exit(EXIT_PROBLEMS)


# A file with a problem in every segment has tens of thousands: printing them all takes
# longer than finding them, and nobody reads past the first screens.
MAX_PROBLEMS_SHOWN = 200


def _print_some(problems: list[Problem], text: str | None = None) -> None:
    """Print the problems, placed by line in ``text`` if given.

    Past `MAX_PROBLEMS_SHOWN`, the errors come first and a last line says how many more
    there are; only those shown are looked for in the text.
    """
    shown = problems
    if len(problems) > MAX_PROBLEMS_SHOWN:
        ordered = ([p for p in problems if p.severity == "error"]
                   + [p for p in problems if p.severity != "error"])
        shown = ordered[:MAX_PROBLEMS_SHOWN]
    if text is not None:
        shown = list(LintReport(tuple(shown)).located(text).problems)
    print_problems(shown)
    if len(shown) < len(problems):
        errors = (sum(p.severity == "error" for p in problems)
                  - sum(p.severity == "error" for p in shown))
        err.print(f"... and {len(problems) - len(shown)} more problems not shown ({errors} "
                  "of them errors); fix these first and validate again")


# -- run ---------------------------------------------------------------------------------


@app.command()
def run(
    script: Annotated[Path, typer.Option("--script", help="Scripted instructor (YAML).",
                                         exists=True, dir_okay=False)],
    headless: Annotated[bool, typer.Option("--headless", help="Required for now: run with no "
                                           "screen, the player presenting frames on the "
                                           "clock.")] = False,
    scenario: Annotated[str | None, typer.Option("--scenario", help="Scenario id in the "
                                                 "library.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue this run after a "
                                               "crash (id or its first characters).")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Variant id (default: "
                                                "the first).")] = None,
    trainee: Annotated[list[str] | None, typer.Option("--trainee", help="Trainee name; repeat "
                                                      "for a multi-officer session.")] = None,
    instructor: Annotated[str | None, typer.Option("--instructor", help="Instructor's name.")]
    = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Agency the session and new "
                                               "people belong to (added if new).")] = None,
    library: Annotated[Path | None, typer.Option("--library", help="Scenario library folder "
                                                 "(default: the bundled one).")] = None,
    speed: Annotated[float, typer.Option("--speed", min=0.01, max=1000,
                                         help="Clock speed-up for headless runs.")] = 1.0,
    kind: KindOption = "training",
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Play a scenario driven by a script; prints one JSON line per event once it is durable."""
    run_kind = _kind_or_fail(kind, resume)
    names_or_exit("--trainee", trainee)
    names_or_exit("--instructor", instructor)
    names_or_exit("--agency", agency)
    if not headless:
        fail("only --headless runs are available from the command line; the projector app "
              "plays scenarios on screen")
    if (scenario is None) == (resume is None):
        fail("give either --scenario ID (a new run) or --resume RUN_ID (continue one)")
    vocabularies = vocabularies_from(profile)
    try:
        steps = load_script(script)
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    record, account = open_record_as(db, Permission.run)
    instructor = _instructor_of(record, account, instructor)
    clock = ScaledClock(speed)
    try:
        sitting = _class(record, account, HeadlessRoom(clock), vocabularies, clock,
                         library=library, label=_label("headless", run_kind, scenario),
                         agency=agency)
        if resume is not None:
            started = sitting.resume(_one_run_id(record, resume))
        else:
            assert scenario is not None
            loaded = _load_for_run(scenario, library, vocabularies)
            _variant_or_fail(loaded, variant)
            _cleared_or_fail(sitting, scenario)
            started = sitting.start(RunPlan(scenario, tuple(trainee or ["Trainee 1"]),
                                            instructor=instructor, variant_id=variant,
                                            kind=run_kind))
    except (AccessDenied, SignedOut) as exc:
        fail(str(exc), EXIT_DENIED)
    except (RecordError, KeyError, ValueError) as exc:
        fail(str(exc))
    _play(started.run, steps, started.staged.player, clock, record,
          resumed=resume is not None)


def _class(record: Record, account: Account | None, room: Room[Staged] | None,
           profile: AgencyProfile, clock: MonotonicClock, *, library: Path | None,
           label: str, agency: str | None = None) -> ClassSitting[Staged]:
    """A class of one run, in a sitting of its own, as each command that plays one is.

    It plays the scenario's first variant unless ``--variant`` names another.
    """
    return ClassSitting(Gate(record, account, COMMAND_LINE), room,
                        library or bundled_library(), profile, clock, label=label,
                        agency=agency, rotate=False)


def _cleared_or_fail(sitting: ClassSitting[Staged], scenario_id: str) -> None:
    """Clear ``scenario_id`` for the class, or exit with each problem the pre-flight found."""
    problems = sitting.preflight(scenario_id)
    for problem in problems:
        err.print(f"[red]pre-flight:[/] {shown(problem)}", soft_wrap=True)
    if problems:
        fail(f"scenario `{scenario_id}` cannot play: {len(problems)} problems (above)",
             EXIT_PROBLEMS)


def _label(how: str, kind: RunKind, scenario_id: str | None) -> str:
    return f"{how if kind == 'training' else f'{kind}, {how}'}: {scenario_id}"


def _instructor_of(record: Record, account: Account | None, named: str | None) -> str | None:
    """Who runs the session: a signed-in instructor is themselves, whatever is typed."""
    if account is None or account.person_id is None:
        return named
    own = record.people.display_names([account.person_id]).get(account.person_id)
    if named is not None and named != own:
        fail(f"--instructor {named!r}: you are signed in as the instructor {own!r}; leave "
             "--instructor out, or sign in as that instructor", EXIT_DENIED)
    return own


def _variant_or_fail(loaded: LoadedScenario, variant: str | None) -> str:
    """The variant asked for (default: the first), or exit naming the ones there are."""
    variant_id = variant or loaded.scenario.variants[0].id
    try:
        loaded.scenario.variant(variant_id)
    except KeyError:
        known = ", ".join(v.id for v in loaded.scenario.variants)
        fail(f"scenario `{loaded.scenario.id}` has no variant `{variant_id}`; variants: {known}")
    return variant_id


def _load_for_run(scenario_id: str, library: Path | None,
                  profile: AgencyProfile) -> LoadedScenario:
    try:
        loaded = ScenarioLibrary(library or bundled_library()).load(scenario_id)
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    report = lint(loaded.scenario, profile, source=loaded.source).located(loaded.text)
    if not report.ok:
        print_problems(report.errors)
        fail(f"scenario `{scenario_id}` has lint errors; fix them before running it",
              EXIT_PROBLEMS)
    return loaded


def _one_run_id(record: Record, prefix: str) -> str:
    found = record.runs.ids_starting(prefix)
    if len(found) != 1:
        fail(f"no run starts with `{prefix}`" if not found
              else f"`{prefix}` matches {len(found)} runs; give more of the id")
    return found[0]


def _play(the_run: ScenarioRun, steps: Script, player: HeadlessPlayer, clock: ScaledClock,
          record: Record, *, resumed: bool) -> None:
    the_run.subscribe(_print_event)
    state = the_run.state
    err.print(f"{'resuming' if resumed else 'starting'} run [bold]{state.run_id}[/] "
              f"(scenario {state.scenario_id}, variant {state.variant_id}) "
              f"in session {state.session_id}")
    try:
        drive(the_run, steps, player, now_ns=clock.now_ns, resumed=resumed,
              sleep_ns=lambda ns: time.sleep(clock.real_seconds(ns)))
    except RunFaulted as exc:
        fail(f"{exc}. Every event printed above is stored; resume with "
              f"`branchpoint run --headless --resume {state.run_id} --script ...`")
    _finish_run(record, state.session_id, state.run_id)


def _print_event(event: Event) -> None:
    # Called only from a run's listener, which runs after the event is committed: a line on
    # stdout is a promise that the event survives a crash.
    sys.stdout.write(json.dumps({"seq": event.seq, "type": event.type,
                                 "run_id": event.run_id}) + "\n")
    sys.stdout.flush()


def _finish_run(record: Record, session_id: str, run_id: str) -> None:
    record.sittings.close(session_id)
    summary = record.runs.get(run_id)
    err.print(f"run ended ({summary.outcome_kind or 'ended by instructor'}) after "
              f"{summary.event_count} events; head hash {summary.head_hash[:16]}…")
    err.print(f"session {session_id} is in the record at {escape(record.url)}")


# -- project -----------------------------------------------------------------------------


@app.command()
def project(
    scenario: Annotated[str | None, typer.Option("--scenario", help="Scenario id in the "
                                                 "library.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue this run after a "
                                               "crash (id or its first characters).")] = None,
    script: Annotated[Path | None, typer.Option("--script", help="Scripted instructor (YAML); "
                                                "without it, default branches steer the run.",
                                                exists=True, dir_okay=False)] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Variant id (default: "
                                                "the first).")] = None,
    trainee: Annotated[list[str] | None, typer.Option("--trainee", help="Trainee name; repeat "
                                                      "for a multi-officer session.")] = None,
    instructor: Annotated[str | None, typer.Option("--instructor", help="Instructor's name.")]
    = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Agency (added if new).")]
    = None,
    library: Annotated[Path | None, typer.Option("--library", help="Scenario library folder "
                                                 "(default: the bundled one).")] = None,
    backend: BackendOption = None,
    screen: ScreenOption = None,
    windowed: WindowedOption = None,
    snapshots: Annotated[Path | None, typer.Option(
        "--snapshots", help="Save a PNG of the projector at each segment and cue here.",
        file_okay=False)] = None,
    listen: ListenOption = None,
    listen_host: ListenHostOption = "0.0.0.0",  # noqa: S104 - see ListenHostOption
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    no_tls: NoTlsOption = False,
    kind: KindOption = "training",
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """Play a scenario on the projector, full screen, after a pre-flight check of its media.

    ``--resume`` continues a run whose projector died, from the record, on a new time base.
    """
    run_kind = _kind_or_fail(kind, resume)
    names_or_exit("--trainee", trainee)
    names_or_exit("--instructor", instructor)
    names_or_exit("--agency", agency)
    if (scenario is None) == (resume is None):
        fail("give either --scenario ID (a new run) or --resume RUN_ID (continue one)")
    if resume is not None and script is not None:
        fail("--script starts a run from its beginning; it cannot steer a resumed run")
    record, account = open_record_as(db, Permission.run)
    instructor = _instructor_of(record, account, instructor)
    vocabularies = vocabularies_from(profile)
    screen_options = ScreenChoice(backend, screen, windowed, snapshots,
                                  Listening(listen, listen_host, tls_cert, tls_key, no_tls))
    clock = MonotonicClock()
    run_id = _one_run_id(record, resume) if resume is not None else None
    try:
        sitting: ClassSitting[None] = _class(record, account, None, vocabularies, clock,
                                             library=library,
                                             label=_label("projector", run_kind, scenario),
                                             agency=agency)
        if run_id is not None:
            build = sitting.reopen(run_id)
            summary = record.runs.get(run_id)
            loaded, variant_id = (record.scenario_versions.get(summary.scenario_hash),
                                  summary.variant_id)
        else:
            assert scenario is not None
            loaded = _load_for_run(scenario, library, vocabularies)
            variant_id = _variant_or_fail(loaded, variant)
            build = sitting.prepare(loaded, RunPlan(
                scenario, tuple(trainee or ["Trainee 1"]), instructor=instructor,
                variant_id=variant, kind=run_kind))
    except (AccessDenied, SignedOut) as exc:
        fail(str(exc), EXIT_DENIED)
    except (RecordError, KeyError, ValueError) as exc:
        fail(str(exc))
    _play_on_projector(record, loaded, variant_id, build, clock, vocabularies,
                       load_script(script) if script else None, screen_options,
                       resuming=run_id)


@dataclass(frozen=True)
class ScreenChoice:
    """Where and how the projector shows a run (the options of ``project`` and ``demo``)."""

    backend: str | None = None
    screen: str | None = None
    windowed: str | None = None
    snapshots: Path | None = None
    listening: Listening | None = None


def _play_on_projector(record: Record, loaded: LoadedScenario, variant_id: str,
                       build: RunFactory, clock: MonotonicClock, vocabularies: AgencyProfile,
                       steps: Script | None, where: ScreenChoice,
                       *, resuming: str | None = None) -> tuple[str, str]:
    """Pre-flight, then play on the projector; ``resuming`` names the run being resumed.

    ``build`` makes the run on the projector's player (`ClassSitting.prepare` or
    `reopen`), on ``clock``.
    """
    from simulator.playback import PlayerUnavailable
    from simulator.playback.preflight import VLC_LARGEST, preflight
    from simulator.projector.app import display_available
    from simulator.projector.runner import play_on_projector
    from simulator.projector.settings import binding_problems

    settings = load_projector_settings()
    if bad_keys := binding_problems(settings, vocabularies):
        for message in bad_keys:
            err.print(f"[red]error:[/] {escape(message)}")
        fail("fix the projector settings' key bindings first", EXIT_PROBLEMS)
    if where.backend not in (None, "pyav", "vlc"):
        fail(f"--backend {where.backend!r}: use pyav (frame-exact) or vlc")
    index = record.media_index()
    vlc = (where.backend or settings.backend) == "vlc"
    problems = preflight(loaded, variant_id,
                         lambda v, clip: playback_clip(loaded, index, v, clip),
                         largest=VLC_LARGEST if vlc else None, player="the vlc player")
    if problems:
        for problem in problems:
            err.print(f"[red]pre-flight:[/] {shown(str(problem))}", soft_wrap=True)
        fail(f"scenario `{loaded.scenario.id}` variant `{variant_id}` cannot play: "
             f"{len(problems)} media problems (above)", EXIT_PROBLEMS)
    size = window_size_or_none(where.windowed, offscreen=not display_available())
    listening = where.listening
    server = open_console_server(clock, vocabularies, listening) if listening else None
    history: list[Event] = []
    if server is not None and resuming is not None:
        # A remote console that pairs gets the whole run, from before the crash too.
        try:
            history = record.runs.events(resuming)
        except (RecordError, ValueError) as exc:
            fail(f"run {resuming}'s stored events cannot be read for remote consoles ({exc}); "
                 "resume it without --listen")
        err.print("a run that was paused stays paused until a remote console resumes it "
                  "(Space)")

    made: list[ScenarioRun] = []

    def make_run(player: Player) -> ScenarioRun:
        made.append(build(player))
        return made[0]

    try:
        result = play_on_projector(make_run, clock, settings,
                                   backend=cast(Any, where.backend), script=steps,
                                   screen=where.screen, windowed_size=size,
                                   snapshots_dir=where.snapshots, on_event=_print_event,
                                   resumed=resuming is not None,
                                   # A paused run waits for a remote console to resume it.
                                   unpause=resuming is not None and server is None,
                                   server=server, history=history,
                                   names=record.people.display_names)
    except (ValueError, PlayerUnavailable, RecordError) as exc:
        fail(str(exc))
    finally:
        if server is not None:
            server.close()
    if not made:
        fail("the run did not start")
    state = made[0].state
    if result.fault is not None:
        fail(f"{result.fault}. Every event printed above is stored; continue with "
             f"`branchpoint project --resume {state.run_id}`", EXIT_PROBLEMS)
    never = (f", {result.frames_never_shown} replaced before a swap showed them"
             if result.frames_never_shown else "")
    err.print(f"projector: {result.frames_shown} frames shown, {result.late_frames} late"
              f"{never}; timing {result.timing_mode}")
    if result.snapshots:
        err.print(f"snapshots in {escape(str(result.snapshots[0].parent))}")
    _finish_run(record, state.session_id, state.run_id)
    return state.session_id, state.run_id


# -- demo --------------------------------------------------------------------------------

DEMO_SCENARIO = "welfare-check"
DEMO_PLAN = RunPlan(DEMO_SCENARIO, ("Demo trainee",), instructor="Demo instructor", kind="demo")
DEMO_RECORD = "demo-record.sqlite3"


def demo_record_url() -> str:
    """The demo's own record, beside the default one: demonstrations never mix with training."""
    return f"sqlite:///{data_dir() / DEMO_RECORD}"


@app.command()
def demo(
    # No BRANCHPOINT_DB here: that names the agency's record, which a demo must not touch.
    db: Annotated[str | None, typer.Option(
        "--db", help=f"Database URL (default: {DEMO_RECORD}, the demo's own record in the "
        "user data folder).")] = None,
    speed: Annotated[float, typer.Option("--speed", min=0.1, max=1000,
                                         help="Clock speed-up of a --headless run.")] = 6.0,
    size: Annotated[str, typer.Option("--size", help="Stand-in clip size: demo or tiny.")]
    = "demo",
    headless: Annotated[bool, typer.Option(
        "--headless", help="Run the scenario with no player at all (fast, no pictures).")]
    = False,
    backend: BackendOption = None,
) -> None:
    """Show the bundled library, its coverage report and a scripted run on the projector.

    With a display, the projector window opens full screen on the last screen; without
    one, the same run plays through the real decoder offscreen and snapshots of the
    projector are saved beside the coverage report. The run is recorded as a
    demonstration, in the demo's own record unless ``--db`` names another.
    """
    if size not in ("demo", "tiny"):
        fail("--size is demo or tiny")
    library = bundled_library()
    script = library / DEMO_SCENARIO / "demo-script.yaml"
    record = open_record(db or demo_record_url())
    account = None
    if db is not None or Gate(record, None, COMMAND_LINE).guarded:
        # The demo's own record is nobody's data; any other, or one with accounts, is.
        account = sign_in(record, Permission.run)
    err.print(f"the demo records into {escape(record.url)}, never into the training record",
              soft_wrap=True)
    vocabularies = vocabularies_from(None)
    err.rule("1. The bundled scenario library and its stand-in clips")
    scenarios = load_library(library)
    generate_library(scenarios, cast(Size, size))
    index = record.media_index()
    index_folders(index, [standins_dir()], vocabularies)
    table, errors = library_table(scenarios, index, vocabularies)
    out_console().print(table)
    if errors:
        fail("the bundled library does not lint clean against its clips", EXIT_PROBLEMS)
    err.rule("2. Who the library shows (coverage report)")
    report = data_dir() / "reports" / "coverage.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(coverage_document(index, scenarios, bundled_reference(), vocabularies,
                                        "html"), encoding="utf-8")
    err.print(f"coverage report: {escape(str(report))}")
    if headless:
        err.rule("3. A scripted run of the welfare-check scenario (headless)")
        clock = ScaledClock(speed)
        sitting = _class(record, account, HeadlessRoom(clock), vocabularies, clock,
                         library=library, label=_label("headless", "demo", DEMO_SCENARIO))
        _cleared_or_fail(sitting, DEMO_SCENARIO)
        started = sitting.start(DEMO_PLAN)
        _play(started.run, load_script(script), started.staged.player, clock, record,
              resumed=False)
        session_id, run_id = started.run.state.session_id, started.run.state.run_id
    else:
        from simulator.projector.app import display_available

        shots = None if display_available() else report.parent / "projector"
        err.rule("3. A scripted run of the welfare-check scenario on the projector"
                 + ("" if shots is None else " (no display: offscreen)"))
        loaded = _load_for_run(DEMO_SCENARIO, library, vocabularies)
        on_screen = MonotonicClock()
        projected: ClassSitting[None] = _class(
            record, account, None, vocabularies, on_screen, library=library,
            label=_label("projector", "demo", DEMO_SCENARIO))
        session_id, run_id = _play_on_projector(
            record, loaded, loaded.scenario.variants[0].id,
            projected.prepare(loaded, DEMO_PLAN), on_screen, vocabularies, load_script(script),
            ScreenChoice(backend=backend, snapshots=shots))
    with said_no():
        demonstrated = Reviewing(Gate(record, account, COMMAND_LINE)).session(session_id,
                                                                             events=True)
    _show_session(demonstrated, record.url)
    if not verify_run(record, run_id).ok:
        fail("the demo run's record does not verify", EXIT_PROBLEMS)
    err.print("[green]verified:[/] every event is in place and the hash chain is intact")


# -- sessions ----------------------------------------------------------------------------


@sessions_app.command("list")
def sessions_list(
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
) -> None:
    """The latest sessions (an instructor's own, for an instructor)."""
    # The note every time here: this is where people look at what the record holds.
    reviewing = Reviewing(open_gate(db, Permission.debrief, always_note=True))
    with said_no():
        sessions = reviewing.sessions(limit)
    table = Table(title=f"Sessions in {shown(reviewing.gate.record.url)}")
    for column in ("session", "started (UTC)", "instructor", "trainees", "runs", "label"):
        table.add_column(column)
    for s in sessions:
        others = ", ".join(f"{n} {kind}" for kind, n in sorted(s.other_kinds.items()))
        table.add_row(s.id[:8], f"{s.started_utc:%Y-%m-%d %H:%M}", shown(s.instructor or ""),
                      shown(", ".join(s.trainees)),
                      f"{s.run_count} ({others})" if others else str(s.run_count),
                      shown(s.label))
    out_console().print(table)


@sessions_app.command("show")
def sessions_show(
    session: Annotated[str, typer.Argument(help="Session id or its first characters.")],
    db: DbOption = None,
    events: Annotated[bool, typer.Option("--events", help="List every event.")] = False,
) -> None:
    """One session: its runs, their outcomes, head hashes and (optionally) events."""
    reviewing = Reviewing(open_gate(db, Permission.debrief))
    with said_no():
        found = reviewing.session(session, events=events)
    _show_session(found, reviewing.gate.record.url)


def _show_session(shown_session: SessionView, url: str) -> None:
    out = out_console()
    out.print(f"[bold]Session {shown_session.session_id}[/]  (record: {escape(url)})")
    for r in shown_session.runs:
        kind = "" if r.kind == "training" else f" ({r.kind}: not counted as training)"
        out.print(shown(f"  run {r.id}{kind}: scenario {r.scenario_id} "
                        f"(version {r.scenario_hash[:12]}), "
                        f"variant {r.variant_id}, {r.status}"
                        f"{', outcome ' + r.outcome_kind if r.outcome_kind else ''}; "
                        f"player {r.player_backend} ({r.timing_mode})"))
        out.print(shown(f"    {r.event_count} events, head hash {r.head_hash}"))
        if r.id in shown_session.events:
            table = Table(show_edge=False, box=None)
            for column in ("seq", "t (s)", "event", "detail"):
                table.add_column(column, no_wrap=column != "detail")
            first = None
            for e in shown_session.events[r.id]:
                first = e.t_ns if first is None or e.type == "run_recovered" else first
                table.add_row(str(e.seq), f"{(e.t_ns - first) / 1e9:.3f}", e.type,
                              shown(describe(e, shown_session.names)))
            out.print(table)


# -- verify ------------------------------------------------------------------------------


@app.command()
def verify(
    db: DbOption = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run (id or prefix).")]
    = None,
) -> None:
    """Check every run's hash chain; exit 1 if any event was edited, removed, added or moved."""
    record, _account = open_record_as(db, Permission.verify)
    results = ([verify_run(record, _one_run_id(record, run_id))] if run_id
               else verify_all(record))
    bad = 0
    for result in results:
        if result.ok:
            err.print(f"[green]ok[/]   run {result.run_id}: {result.checked} events, head "
                      f"{result.stored_head[:16]}…")
            if result.recording:
                err.print(f"       {result.recording}")
            continue
        bad += 1
        err.print(f"[red]FAIL[/] run {result.run_id}:")
        for finding in result.findings:
            err.print(f"       {finding.kind}: {finding.detail}")
    err.print(f"{len(results)} runs checked, {bad} with problems")
    if bad:
        raise typer.Exit(EXIT_PROBLEMS)
