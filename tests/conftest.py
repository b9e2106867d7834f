"""Shared fixtures: scenarios written inline, a manual clock, an in-memory journal."""

from __future__ import annotations

import os
import subprocess
import textwrap
import uuid
from pathlib import Path

# Qt tests draw offscreen: no display is needed, and none is touched if there is one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# pytest-xdist's workers inherit a made-up 80x24 terminal size; the command line's consoles,
# made at import, would fix their width to it, and the CLI tests' own COLUMNS would go unread.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

import pytest
from hypothesis import settings

from simulator.agency import default_profile
from simulator.headless.player import HeadlessPlayer
from simulator.ports import JournalEntry, Note
from simulator.protocol import Event
from simulator.runtime import ManualClock, RunState, ScenarioRun
from simulator.scenario import LoadedScenario, bundled_library, parse_scenario
from simulator.studio.document import ScenarioDocument
from simulator.studio.editor import ScenarioEditor

DOORWAY = textwrap.dedent(
    """
    schema_version: 1
    id: doorway
    title: Doorway
    focus_areas: [de_escalation]
    pledge_areas: [use_of_force]
    people:
      - {id: man, role: subject}
    variants:
      - id: a
        people: {man: {race: white, gender: man, age_band: age_35_44, language: en,
                       disability: none_visible}}
        clips: {door: a/door.mp4, calm: a/calm.mp4, knife: a/knife.mp4}
      - id: b
        people: {man: {race: [black_african_american], gender: man, age_band: age_35_44,
                       language: en, disability: none_visible}}
        clips: {door: b/door.mp4, calm: b/calm.mp4, knife: b/knife.mp4}
    start: door
    segments:
      - id: door
        clip: door
        in: 1.0
        out: 11.0
        cues:
          - {id: hand, at: 4.0, kind: threat_cue, person: man, response_window: 2.0,
             force_justified: false, reasonable_options: [presence, verbal_direction]}
        decision:
          window: 5.0
          default: calm
          branches:
            - {id: calm, label: Calms down, hotkey: "1", kind: de_escalate, to: calm}
            - {id: knife, label: Pulls knife, hotkey: "2", kind: escalate, to: knife}
      - id: calm
        clip: calm
        in: 0
        out: 6
        decision:
          window: 4
          default: done
          while_waiting: {mode: loop, from: 4, to: 6}
          branches:
            - {id: done, label: Talks it out, hotkey: "1", kind: de_escalate, to: talked}
            - {id: again, label: Back to door, hotkey: "2", to: door}
      - id: talked
        clip: calm
        in: 6
        out: 8
        outcome: {kind: resolved_peacefully}
      - id: knife
        clip: knife
        in: 0
        out: 5
        cues:
          - {id: blade, at: 1.0, kind: weapon_shown, person: man, response_window: 3.0,
             force_justified: true, reasonable_options: [cew, firearm]}
        outcome: {kind: force_used}
    """
)


class MemoryJournal:
    """A journal that keeps events in a list, as the record would, minus the disk."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.states: list[str] = []
        self.notes: dict[int, Note] = {}

    def commit(self, entries: list[JournalEntry], state: RunState) -> None:
        for entry in entries:
            self.events.append(entry.event)
            if entry.note:
                self.notes[entry.event.seq] = entry.note
        self.states.append(state.model_dump_json())


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory):
    """Nothing a test does may touch the real user data folder."""
    import os

    from simulator.paths import DATA_ENV

    previous = os.environ.get(DATA_ENV)
    os.environ[DATA_ENV] = str(tmp_path_factory.mktemp("branchpoint-data"))
    yield
    if previous is None:
        os.environ.pop(DATA_ENV, None)
    else:
        os.environ[DATA_ENV] = previous


@pytest.fixture
def doorway_text() -> str:
    return DOORWAY


@pytest.fixture
def doorway() -> LoadedScenario:
    return parse_scenario(DOORWAY, "doorway.yaml")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal() -> MemoryJournal:
    return MemoryJournal()


@pytest.fixture
def player(clock: ManualClock) -> HeadlessPlayer:
    return HeadlessPlayer(clock)


@pytest.fixture
def run(doorway, clock, player, journal) -> ScenarioRun:
    return ScenarioRun.new(doorway, run_id="run-1", session_id="session-1", variant_id="a",
                           trainee_ids=["t1", "t2"], instructor_id="i1", clock=clock,
                           player=player, journal=journal)


@pytest.fixture
def editor(tmp_path: Path) -> ScenarioEditor:
    """The studio's editor on a copy of a bundled scenario."""
    copy = tmp_path / "scenario.yaml"
    copy.write_bytes((bundled_library() / "domestic-disturbance" / "scenario.yaml").read_bytes())
    return ScenarioEditor(ScenarioDocument.open(copy), default_profile())


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 1 MB tmpfs to fill (root only, as CI runs; skipped elsewhere, failed in CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        reason = f"cannot mount a small disk here: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, in CI")
        pytest.skip(reason)
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the whole test run, started from Debian's binaries."""
    from pg_server import PostgresServer

    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database: SQLite in a temp folder, and a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'record.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture
def record(db_url):
    from simulator.record import Record

    opened = Record.open(db_url)
    yield opened
    opened.close()


settings.register_profile("default", max_examples=150, deadline=None)
# `make fuzz`: 10,000 examples a property, each allowed 5 s before it counts as a hang.
settings.register_profile("long", max_examples=10_000, deadline=5000)
settings.load_profile("default")


@pytest.fixture
def reviewed_run(tmp_path, doorway):
    """The doorway (variant b) in a SQLite record, read back for review: a trigger shot,
    two instructor entries (one retracted), a flag with a note, a choice, the outcome.

    Yields the reviewed run, the record, the trainee's and the instructor's ids, and the
    seq of the retracted entry.
    """
    from simulator.protocol import ChooseBranch, RaiseFlag, RecordDecision, ReportInput, Retract
    from simulator.record import Record
    from simulator.review.load import load_run
    from simulator.training.runs import begin_run

    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    clock = ManualClock()
    trainee = record.people.add("trainee", "Officer Dana Reyes", external_ref="B-1042")
    instructor = record.people.add("instructor", "Sgt. Lee")
    session = record.sittings.open([trainee], instructor_id=instructor)
    run = begin_run(record, doorway, session_id=session, variant_id="b",
                    variant_assignment="counterbalanced", trainee_ids=[trainee],
                    instructor_id=instructor, clock=clock, player=HeadlessPlayer(clock))
    run.start()
    run.poll()
    clock.advance(4.5)
    run.poll()
    run.handle(ReportInput(device="trigger", kind="shot", input_ns=clock.now_ns(),
                           trainee_id=trainee, action="cew"))
    run.handle(RecordDecision(trainee_id=trainee, action="verbal_direction"))
    wrong = run.handle(RecordDecision(trainee_id=trainee, action="firearm"))[0]
    run.handle(Retract(entry_seq=wrong.seq))
    run.handle(RaiseFlag(note="Dana kept her distance", trainee_id=trainee))
    # Keyed for someone not in the run: refused, and the refusal's text names the run's ids.
    run.handle(RecordDecision(trainee_id="somebody-else", action="presence"))
    run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))
    for _ in range(4):
        clock.advance(2.0)
        run.poll()
    assert run.ended
    loaded = load_run(record, run.state.run_id)
    yield loaded, record, trainee, instructor, wrong.seq
    record.close()


def drop_append_only_guard(connection) -> None:
    """Remove the database's refusal to change events, as an attacker holding the SQLite
    file or the owner's role can, so tests can show that verify still sees the change."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
    else:
        for trigger in ("update", "delete", "replace"):
            connection.execute(text(f"DROP TRIGGER events_refuse_{trigger}"))
