"""A whole class through the console, in process: set-up, live control by keys, change-over."""

from __future__ import annotations

import textwrap

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from instructor_console.console_window import ConsoleWindow
from simulator.agency import default_profile
from simulator.counterbalance import choose_variant
from simulator.playback.barcode import write_barcode_clip
from simulator.projector.host import ProjectorHost
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import DecisionRecorded, FlagRaised, RunStarted
from simulator.record import Record
from simulator.runtime import MonotonicClock

pytestmark = pytest.mark.gui

CLASS = textwrap.dedent(
    """
    schema_version: 1
    id: corner
    title: Corner store
    summary: A man in crisis outside a corner store.
    focus_areas: [de_escalation]
    pledge_areas: [use_of_force]
    people:
      - {id: man, role: subject}
    variants:
      - id: a
        people: {man: {race: white, gender: man, age_band: age_35_44, language: en,
                       disability: none_visible}}
        clips: {one: one.mp4, two: two.mp4}
      - id: b
        people: {man: {race: black_african_american, gender: man, age_band: age_35_44,
                       language: en, disability: none_visible}}
        clips: {one: one.mp4, two: two.mp4}
    start: approach
    segments:
      - id: approach
        title: Approach
        clip: one
        in: 0
        out: 0.8
        cues:
          - {id: reach, at: 0.3, kind: threat_cue, person: man, response_window: 0.2,
             force_justified: false, reasonable_options: [presence]}
        decision:
          window: 60
          default: calm
          branches:
            - {id: calm, label: Calms, hotkey: "1", kind: de_escalate, to: talk}
            - {id: shout, label: Shouts, hotkey: "2", kind: escalate, to: talk}
      - id: talk
        title: Talk
        clip: two
        in: 0
        out: 0.5
        decision:
          window: 0.3
          default: settle
          branches:
            - {id: settle, label: Settles, hotkey: "1", kind: de_escalate, to: done}
      - id: done
        clip: two
        in: 0.5
        out: 1.0
        outcome: {kind: resolved_peacefully}
    """
)

EXPECTED = [
    "run_started", "segment_started", "branches_offered", "cue_shown",
    "response_window_closed", "decision_window_opened",
    "decision_recorded", "flag_raised", "decision_recorded", "entry_retracted",
    "branch_chosen", "segment_started", "branches_offered", "decision_window_opened",
    "default_taken", "segment_started", "run_ended",
]


@pytest.fixture
def console(qtbot, tmp_path):
    library = tmp_path / "library"
    folder = library / "corner"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(CLASS, encoding="utf-8")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=320, height=180)
    write_barcode_clip(folder / "two.mp4", clip_number=2, frames=30, width=320, height=180)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    clock = MonotonicClock()
    host = ProjectorHost(record, library, default_profile(), ProjectorSettings(audio=False),
                         clock, windowed_size=(320, 180))
    window = ConsoleWindow(host, default_profile(), clock)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.setup.load_catalog()
    yield window, record, clock
    host.close()
    record.close()


def steer_one_run(qtbot, window: ConsoleWindow, clock: MonotonicClock) -> None:
    """Keys as an instructor presses them: log, flag, mis-key and retract, branch."""
    qtbot.waitUntil(lambda: window.live is not None and window.live.state.seconds_to_default(
        clock.now_ns()) is not None, timeout=10000)
    panel = window.live
    for key in (Qt.Key.Key_Q, Qt.Key.Key_F, Qt.Key.Key_W):
        QTest.keyClick(panel, key)
    qtbot.waitUntil(lambda: len(panel.state.entries) == 3, timeout=5000)
    QTest.keyClick(panel, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: len(panel.state.entries) == 2, timeout=5000)
    QTest.keyClick(panel, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: panel.state.ended, timeout=10000)


def test_a_class_runs_from_the_keyboard_and_the_record_holds_exactly_what_was_done(
        qtbot, console, tmp_path):
    window, record, clock = console
    setup = window.setup
    assert [setup.scenarios.item(i).text().split("\n")[0]
            for i in range(setup.scenarios.count())] == ["Corner store"]
    roster = tmp_path / "class.csv"
    roster.write_text("name;badge\nOfficer Reyes;101\nOfficer Byrne;102\n", encoding="utf-8")
    assert setup.import_roster(roster)
    assert setup.chosen_trainees() == ("Officer Reyes",)
    assert not setup.start_button.isEnabled()  # not before the pre-flight check
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(setup, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(setup.start_button.isEnabled, timeout=20000)
    assert setup.checks.text().startswith("ready")
    QTest.keyClick(setup, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    steer_one_run(qtbot, window, clock)
    qtbot.waitUntil(lambda: "N: next (Officer Byrne)" in window.after_run.text(),
                    timeout=5000)

    QTest.keyClick(window, Qt.Key.Key_N)  # change-over: the next trainee, at once
    qtbot.waitUntil(lambda: window.live is not None and window.live.state.trainee_ids
                    and not window.live.state.ended, timeout=10000)
    steer_one_run(qtbot, window, clock)
    qtbot.waitUntil(lambda: "end of the roster" in window.after_run.text(), timeout=5000)

    runs = record.runs()
    assert len(runs) == 2
    names: list[str] = []
    for run in runs:
        stored = record.events(run.id)
        assert [e.type for e in stored] == EXPECTED
        started = stored[0]
        assert isinstance(started, RunStarted)
        assert started.variant_assignment == "counterbalanced"
        (trainee,) = started.trainee_ids
        names.append(record.display_names([trainee])[trainee])
        decisions = [e for e in stored if isinstance(e, DecisionRecorded)]
        assert [(d.trainee_id, d.action, d.source) for d in decisions] == [
            (trainee, "presence", "instructor"), (trainee, "verbal_direction", "instructor")]
        flag = next(e for e in stored if isinstance(e, FlagRaised))
        assert flag.trainee_id == trainee and flag.segment_id == "approach"
        retracted = next(e for e in stored if e.type == "entry_retracted")
        assert retracted.entry_seq == decisions[1].seq
        chosen = next(e for e in stored if e.type == "branch_chosen")
        assert chosen.branch_id == "shout"
        default = next(e for e in stored if e.type == "default_taken")
        assert default.branch_id == "settle"
        # The variant is the rotation's pick for that trainee, who had no runs before.
        assert started.variant_id == choose_variant(["a", "b"], {}, [trainee])
    assert names == ["Officer Reyes", "Officer Byrne"]
    assert all(record.run(r.id).status == "ended" for r in runs)
