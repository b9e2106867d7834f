"""The projector window and a run played on it: stamps, trainee input, low light, preview."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest

from simulator.headless.script import load_script
from simulator.inputs import DeviceInput
from simulator.playback.barcode import write_barcode_clip
from simulator.playback.decoded_player import DecodedPlayer, FrameShown
from simulator.playback.preflight import preflight
from simulator.ports import PlayRequest
from simulator.projector.preview import PreviewFeed
from simulator.projector.session import ProjectorSession, ScriptFeeder
from simulator.projector.settings import KeyBinding, ProjectorSettings
from simulator.projector.window import ProjectorWindow, UnboundKey
from simulator.protocol import (
    CueShown,
    DecisionRecorded,
    Pause,
    ReportInput,
    RunEnded,
    SegmentStarted,
    TraineeInput,
)
from simulator.runtime import MonotonicClock, ScenarioRun
from simulator.scenario import parse_scenario

pytestmark = pytest.mark.gui

STREET = textwrap.dedent(
    """
    schema_version: 1
    id: street
    title: Street
    focus_areas: [de_escalation]
    pledge_areas: [use_of_force]
    people:
      - {id: man, role: subject}
    variants:
      - id: a
        people: {man: {race: white, gender: man, age_band: age_35_44, language: en,
                       disability: none_visible}}
        clips: {one: one.mp4, two: two.mp4}
    start: approach
    segments:
      - id: approach
        clip: one
        in: 0
        out: 0.8
        cues:
          - {id: reach, at: 0.3, kind: threat_cue, person: man, response_window: 1.0,
             force_justified: false, reasonable_options: [presence]}
        decision:
          window: 0.5
          default: calm
          branches:
            - {id: calm, label: Calms, hotkey: "1", kind: de_escalate, to: dark}
            - {id: run, label: Runs, hotkey: "2", kind: escalate, to: dark}
      - id: dark
        clip: two
        in: 0.5
        out: 1.2
        low_light: 0.8
        outcome: {kind: resolved_peacefully}
    """
)


@pytest.fixture(scope="module")
def street(tmp_path_factory):
    folder = tmp_path_factory.mktemp("street")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=320, height=180)
    write_barcode_clip(folder / "two.mp4", clip_number=2, frames=45, width=320, height=180)
    (folder / "street.yaml").write_text(STREET, encoding="utf-8")
    return parse_scenario(STREET, str(folder / "street.yaml")), folder


def street_library(clips: Path, tmp_path: Path) -> Path:
    """A scenario library folder holding the street scenario and its two clips."""
    library = tmp_path / "library" / "street"
    library.mkdir(parents=True)
    (library / "scenario.yaml").write_text(STREET, encoding="utf-8")
    for name in ("one.mp4", "two.mp4"):
        (library / name).write_bytes((clips / name).read_bytes())
    return library


def street_session(qtbot, folder: Path, journal, *, window_s: float
                   ) -> tuple[ProjectorSession, MonotonicClock]:
    """The street scenario (decision window ``window_s``) on a small projector, not started.

    Its clips are written to ``folder``; shut ``session.player`` down when done.
    """
    for number, name in ((1, "one"), (2, "two")):
        write_barcode_clip(folder / f"{name}.mp4", clip_number=number, frames=45,
                           width=320, height=180)
    loaded = parse_scenario(STREET.replace("window: 0.5", f"window: {window_s}"),
                            str(folder / "street.yaml"))
    clock = MonotonicClock()
    window = ProjectorWindow(clock, ProjectorSettings(), lambda: ["t1"])
    qtbot.addWidget(window)
    window.resize(320, 180)
    window.show()
    player = DecodedPlayer(window.surface, clock, virtual_display=True)
    run = ScenarioRun.new(loaded, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock, player=player,
                          journal=journal, clips=lambda v, clip: folder / f"{clip}.mp4")
    return ProjectorSession(run, player, window, clock), clock


@pytest.fixture
def clock() -> MonotonicClock:
    return MonotonicClock()


# A training pistol's trigger that types F12, as projector.yaml binds it.
TRIGGER = ProjectorSettings(keys={"F12": KeyBinding(device="trigger", kind="shot",
                                                    action="firearm")})


@pytest.fixture
def window(qtbot, clock) -> ProjectorWindow:
    win = ProjectorWindow(clock, TRIGGER, lambda: ["t1", "t2"])
    qtbot.addWidget(win)
    win.resize(640, 360)
    win.show()
    return win


def test_a_run_on_the_projector_stamps_segments_and_cues_on_the_frames_shown(
        qtbot, street, window, clock, journal, tmp_path):
    loaded, folder = street
    player = DecodedPlayer(window.surface, clock, virtual_display=True)
    window.player = player
    frames: list[FrameShown] = []
    player.on_frame = frames.append
    run = ScenarioRun.new(loaded, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1", "t2"], instructor_id=None, clock=clock,
                          player=player, journal=journal,
                          clips=lambda variant, clip: folder / f"{clip}.mp4")
    session = ProjectorSession(run, player, window, clock)
    script = tmp_path / "script.yaml"
    script.write_text("schema_version: 1\ncommands:\n  - {at: 0.9, choose: run}\n")
    feeder = ScriptFeeder(session, load_script(script), clock)
    lights: list[float] = []
    session.happened.connect(lambda e: isinstance(e, SegmentStarted)
                             and lights.append(window.low_light.strength))
    session.start()
    feeder.start()
    # The trainee clicks while the cue's window is open.
    qtbot.waitUntil(lambda: any(isinstance(e, CueShown) for e in journal.events), timeout=5000)
    QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(320, 180))
    QTest.keyClick(window, Qt.Key.Key_F12)
    qtbot.waitUntil(lambda: run.ended, timeout=10000)
    player.shutdown()

    events = journal.events
    started = [e for e in events if isinstance(e, SegmentStarted)]
    by_token = {}
    for f in frames:
        by_token.setdefault(f.token, f)
    # Each segment's stamp is the paint time of its in-point frame.
    assert [(e.segment_id, by_token[e.play_token].index) for e in started] == [
        ("approach", 0), ("dark", 15)]
    assert all(e.t_ns == by_token[e.play_token].t_ns for e in started)
    cue = next(e for e in events if isinstance(e, CueShown))
    assert cue.t_ns == next(f.t_ns for f in frames if f.token == 1 and f.index == 9)
    click, shot = [e for e in events if isinstance(e, TraineeInput)]
    assert (click.device, click.kind, click.trainee_id) == ("pointer", "click", "t1")
    assert click.x == pytest.approx(0.5, abs=0.01) and click.y == pytest.approx(0.5, abs=0.01)
    assert click.frame_token == 1 and click.frame_index is not None
    assert click.cue_id == "reach" and click.latency_ms is not None and click.latency_ms >= 0
    assert (shot.device, shot.kind, shot.key, shot.action) == ("trigger", "shot", "F12",
                                                               "firearm")
    decision = next(e for e in events if isinstance(e, DecisionRecorded))
    assert (decision.action, decision.source, decision.input_ns) == ("firearm", "device",
                                                                     shot.t_ns)
    assert isinstance(events[-1], RunEnded) and events[-1].outcome_kind == "resolved_peacefully"
    assert lights == [0.0, 0.8]


def test_input_is_stamped_on_arrival_before_anything_else(qtbot, window, clock):
    got: list[ReportInput] = []
    window.trainee_input.connect(got.append)
    before = clock.now_ns()
    QTest.mouseClick(window, Qt.MouseButton.RightButton, pos=QPoint(10, 10))
    after = clock.now_ns()
    assert len(got) == 1
    assert before <= got[0].input_ns <= after
    assert got[0].device == "pointer-RightButton" and got[0].trainee_id is None


def test_a_key_bound_to_no_device_is_never_trainee_input_but_is_passed_on(qtbot, clock):
    # By default the keyboard is no trainee device: the key the instructor pressed while
    # the projector had the focus is theirs, not the trainee's.
    win = ProjectorWindow(clock, ProjectorSettings(), lambda: ["t1"])
    qtbot.addWidget(win)
    win.show()
    inputs: list[ReportInput] = []
    passed: list[UnboundKey] = []
    win.trainee_input.connect(inputs.append)
    win.unbound_key.connect(passed.append)
    before = clock.now_ns()
    QTest.keyClick(win, Qt.Key.Key_1)
    QTest.keyClick(win, Qt.Key.Key_Space)
    assert inputs == []
    assert [(k.key, k.text) for k in passed] == [(Qt.Key.Key_1, "1"), (Qt.Key.Key_Space, " ")]
    assert all(before <= k.input_ns <= clock.now_ns() for k in passed)
    again = passed[0].event()
    assert (again.type(), again.key(), again.text()) == (again.Type.KeyPress, Qt.Key.Key_1, "1")


def test_beside_the_console_the_projector_never_takes_the_keyboard(qtbot, street, tmp_path,
                                                                   window):
    from simulator.agency import default_profile
    from simulator.projector.host import ProjectorHost
    from simulator.record import Record

    _loaded, clips = street
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    for settings in (ProjectorSettings(), TRIGGER):
        host = ProjectorHost(record, street_library(clips, tmp_path / str(len(settings.keys))),
                             default_profile(), settings, MonotonicClock(),
                             windowed_size=(320, 180))
        projector = host.projector_surface().window()
        assert projector.windowFlags() & Qt.WindowType.WindowDoesNotAcceptFocus
        assert projector.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        assert projector.focusPolicy() == Qt.FocusPolicy.NoFocus
        host.close()
    record.close()
    assert ProjectorSettings().keys == {}  # the keyboard is no trainee device by default
    # On its own (`branchpoint project`, calibration) it takes the keyboard as any window.
    assert not window.windowFlags() & Qt.WindowType.WindowDoesNotAcceptFocus
    assert window.focusPolicy() == Qt.FocusPolicy.StrongFocus


def test_with_no_sound_server_one_line_says_so_and_nothing_else(tmp_path):
    # Qt first, as under the console and pytest-qt; then two runs' worth of sound out.
    code = ("from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from simulator.playback.audio_out import AudioOut\n"
            "for _ in range(2):\n"
            "    AudioOut().close()\n")
    env = {key: value for key, value in os.environ.items()
           if key not in ("QT_LOGGING_RULES", "QT_DEBUG_PLUGINS")}
    env.update(QT_QPA_PLATFORM="offscreen", PULSE_SERVER="unix:/nonexistent",
               XDG_RUNTIME_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["no audio output device: playing without sound"]


def test_low_light_darkens_away_from_the_pointer_and_the_preview_shows_it(qtbot, window):
    from PySide6.QtGui import QColor, QImage

    image = QImage(640, 360, QImage.Format.Format_RGB888)
    image.fill(QColor(200, 200, 200))
    window.surface.show_frame(image)
    window.set_low_light(0.9)
    QTest.mouseMove(window, QPoint(100, 100))
    qtbot.waitUntil(lambda: window.low_light.pointer is not None, timeout=2000)
    window.surface.repaint()
    shot = window.surface.grab().toImage()
    lit, dark = shot.pixelColor(100, 100), shot.pixelColor(600, 330)
    assert lit.red() > 150 and dark.red() < 40
    preview = PreviewFeed(window.surface, width=160)
    small = preview.capture()
    assert small is not None and small.width() == 160
    assert small.pixelColor(150, 85).red() < 40
    assert preview.jpeg()[:2] == b"\xff\xd8"


def test_preflight_names_missing_and_corrupt_media(street, tmp_path):
    loaded, folder = street
    assert preflight(loaded, "a", lambda v, clip: folder / f"{clip}.mp4") == []
    (tmp_path / "two.mp4").write_bytes(b"not a video")
    problems = preflight(loaded, "a", lambda v, clip: tmp_path / f"{clip}.mp4")
    assert [(p.segment_id, p.clip_id) for p in problems] == [("approach", "one"),
                                                             ("dark", "two")]
    assert "file not found" in problems[0].detail
    assert "two.mp4" in str(problems[1]) and "not found" not in problems[1].detail


def test_project_command_plays_offscreen_saves_snapshots_and_verifies(street, tmp_path):
    from typer.testing import CliRunner

    from simulator.cli.app import app

    _, folder = street
    library = street_library(folder, tmp_path)
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    shots = tmp_path / "shots"
    runner = CliRunner()
    result = runner.invoke(app, ["project", "--scenario", "street", "--library",
                                 str(library.parent), "--db", db, "--windowed", "640x360",
                                 "--snapshots", str(shots), "--trainee", "Officer Diaz"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    types = [json.loads(line)["type"] for line in result.stdout.splitlines()
             if line.startswith("{")]
    assert types[0] == "run_started" and types[-1] == "run_ended"
    assert "default_taken" in types and "cue_shown" in types
    assert "timing frame_exact_paint" in result.output
    # Named by event seq, then what was on screen.
    assert sorted(p.name.split("-", 1)[1] for p in shots.iterdir()) == [
        "cue_shown-reach.png", "segment_started-approach.png", "segment_started-dark.png"]
    verify = runner.invoke(app, ["verify", "--db", db])
    assert verify.exit_code == 0, verify.output

    (library / "two.mp4").write_bytes(b"broken")
    refused = runner.invoke(app, ["project", "--scenario", "street", "--library",
                                  str(library.parent), "--db", db, "--windowed", "640x360"],
                            env={"COLUMNS": "200"})
    assert refused.exit_code == 1
    assert "pre-flight:" in refused.output and "segment `dark`" in refused.output
    assert "cannot play: 1 media problems" in refused.output


def test_preflight_decodes_the_waiting_loop_too(street):
    _, folder = street
    text = STREET.replace("      window: 0.5\n",
                          "      window: 0.5\n"
                          "      while_waiting: {mode: loop, from: 0.2, to: 0.7}\n")
    ok = parse_scenario(text, str(folder / "street.yaml"))
    assert ok.scenario.segment("approach").decision.while_waiting.mode == "loop"
    assert preflight(ok, "a", lambda v, clip: folder / f"{clip}.mp4") == []
    # Clip `one` has 1.0 s; the segment claims 1.4 s and loops in the part that is not there.
    past_the_end = parse_scenario(text.replace("out: 0.8\n", "out: 1.4\n").replace(
        "{mode: loop, from: 0.2, to: 0.7}", "{mode: loop, from: 1.1, to: 1.3}"),
        str(folder / "street.yaml"))
    problems = preflight(past_the_end, "a", lambda v, clip: folder / f"{clip}.mp4")
    assert [p.segment_id for p in problems] == ["approach"]
    assert "while_waiting" in problems[0].detail


def test_projector_commands_name_a_screen_that_does_not_exist():
    from typer.testing import CliRunner

    from simulator.cli.app import app

    result = CliRunner().invoke(app, ["projector", "test-pattern", "--screen", "7",
                                      "--seconds", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "--screen: no screen '7'; screens: 1:" in result.output


def test_a_run_whose_projector_died_resumes_on_the_projector(street, tmp_path):
    from typer.testing import CliRunner

    from simulator.cli.app import app
    from simulator.headless.player import HeadlessPlayer
    from simulator.record import Record
    from simulator.runtime import ManualClock
    from simulator.training.runs import begin_run

    _, folder = street
    library = street_library(folder, tmp_path)
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    record = Record.open(db)
    loaded = parse_scenario(STREET, str(library / "scenario.yaml"))
    clock = ManualClock()
    trainee = record.people.find_or_add("trainee", "Officer Diaz")
    session = record.sittings.open([trainee], instructor_id=None, agency_id=None, label="t")
    crashed = begin_run(record, loaded, session_id=session, variant_id="a",
                        variant_assignment="chosen",
                        trainee_ids=[trainee], instructor_id=None, clock=clock,
                        player=HeadlessPlayer(clock))
    crashed.start()
    crashed.poll()
    crashed.handle(Pause(command_id="console:1"))
    run_id = crashed.state.run_id  # the process "dies" here, mid-segment, paused

    result = CliRunner().invoke(app, ["project", "--resume", run_id[:8], "--db", db,
                                      "--windowed", "640x360"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    types = [json.loads(line)["type"] for line in result.stdout.splitlines()
             if line.startswith("{")]
    # It comes back paused, as it was, and the projector resumes it (recorded).
    assert types[:3] == ["run_recovered", "paused", "resumed"] and types[-1] == "run_ended"
    events = Record.open(db).runs.events(run_id)
    recovered = next(e for e in events if e.type == "run_recovered")
    assert (recovered.player_backend, recovered.timing_mode) == ("pyav", "frame_exact_paint")
    again = CliRunner().invoke(app, ["project", "--resume", run_id, "--db", db])
    assert again.exit_code == 2 and "already ended" in again.output


def test_lag_calibration_takes_the_median_gap_between_flash_and_sensor(qtbot, window, clock):
    from simulator.projector.calibration import LagCalibration

    calibration = LagCalibration(window, clock, flashes=6, sensor_latency_ms=0.5)
    results: list[float | None] = []
    calibration.finished.connect(results.append)
    for _ in range(6):
        calibration.flash()
        qtbot.wait(20)  # the "light" takes about 20 ms to reach the sensor
        QTest.keyClick(window, Qt.Key.Key_F12)
    QTest.keyClick(window, Qt.Key.Key_F12)  # a stray answer with no flash before it
    calibration.flash()  # the seventh call finds no flash left and finishes
    assert len(results) == 1 and results[0] is not None
    assert len(calibration.lags_ms) == 6
    assert 19 <= results[0] <= 250  # 20 ms, and whatever a busy machine adds to a wait
    assert window.test_pattern is None  # back to the picture


def test_a_key_the_console_uses_cannot_be_a_trainee_device(tmp_path):
    from simulator.agency import default_profile
    from simulator.projector.settings import binding_problems, load_settings

    # What `projector calibrate` wrote before keys were the instructor's: Space on the trigger.
    legacy = tmp_path / "projector.yaml"
    legacy.write_text("schema_version: 1\nkeys:\n  Space: {device: trigger, kind: shot, "
                      "action: firearm}\n  '1': {device: pedal}\n  F12: {device: cew, kind: "
                      "tool, action: cew}\n")
    problems = binding_problems(load_settings(legacy), default_profile(), legacy)
    assert problems == [
        f"{legacy}: keys.Space: `Space` is one of the instructor's keys at the console, so a "
        "press of it there would be recorded as the trainee's trigger; bind the trigger to a "
        "key the console does not use, such as F12 or F13-F24, or remove the binding",
        f"{legacy}: keys.1: `1` is one of the instructor's keys at the console, so a press of "
        "it there would be recorded as the trainee's pedal; bind the pedal to a key the "
        "console does not use, such as F12 or F13-F24, or remove the binding"]


def test_input_is_matched_to_the_frame_on_screen_at_its_stamp_not_when_it_is_reported(
        qtbot, window, clock, street):
    # A key the console hands on (or a camera's hit) reaches the run frames after it was
    # stamped: it must name the frame the trainee saw then, not the one on screen now.
    _loaded, folder = street
    player = DecodedPlayer(window.surface, clock, virtual_display=True)
    window.player = player
    frames: list[FrameShown] = []
    player.on_frame = frames.append
    got: list[ReportInput] = []
    window.trainee_input.connect(got.append)
    player.play(PlayRequest(1, "approach", "one", str(folder / "one.mp4"), 0.0, 1.0))
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=5000)
    seen, stamped = frames[-1], clock.now_ns()  # frames are painted on this thread only
    qtbot.waitUntil(lambda: frames[-1].index >= seen.index + 3, timeout=5000)
    shot = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_F12, Qt.KeyboardModifier.NoModifier)
    assert window.report_key(shot, stamped)
    QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(320, 180))
    now_on_screen = frames[-1]
    player.shutdown()
    late, click = got
    assert (late.frame_token, late.frame_index, late.input_ns) == (1, seen.index, stamped)
    assert late.frame_index < now_on_screen.index
    assert (click.frame_token, click.frame_index) == (1, now_on_screen.index)
    # Off the projector (between runs) an input names no frame.
    window.player = None
    window.report_key(shot, clock.now_ns())
    assert (got[-1].frame_token, got[-1].frame_index) == (None, None)


def test_the_window_is_an_input_source_and_reports_other_sources_through_its_port(
        qtbot, window, clock):
    arrived: list[DeviceInput] = []
    window.connect_inputs(arrived.append)
    got: list[ReportInput] = []
    window.trainee_input.connect(got.append)
    QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(160, 90))
    window.disconnect_inputs(arrived.append)
    QTest.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(160, 90))
    assert len(arrived) == 1 and len(got) == 2
    assert (arrived[0].device, arrived[0].kind, arrived[0].input_ns) == (
        "pointer", "click", got[0].input_ns)
    assert arrived[0].x == pytest.approx(0.25, abs=0.01)
    # Another source (a camera, a serial trigger) hands its input to the same place.
    window.take_input(DeviceInput("trigger", "shot", clock.now_ns(), x=0.5, y=0.5,
                                  action="firearm"))
    assert (got[-1].device, got[-1].trainee_id, got[-1].action) == ("trigger", "t1", "firearm")
