"""A whole class through the console, in process: set-up, live control by keys, change-over."""

from __future__ import annotations

import math
import textwrap
from datetime import UTC, datetime
from functools import partial

import pytest
from PySide6.QtCore import QDate, QEvent, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sqlalchemy import text

from instructor_console.console_window import ConsoleWindow
from instructor_console.live_panel import LivePanel
from instructor_console.one_screen import ON_TOP, WINDOWED, windowed_projector_size
from instructor_console.remote_link import RemoteLink
from simulator.access import AccessLog, Accounts, Role
from simulator.agency import default_profile
from simulator.counterbalance import choose_variant
from simulator.playback.barcode import write_barcode_clip
from simulator.projector.console_server import ConsoleServer
from simulator.projector.host import ProjectorHost
from simulator.projector.settings import KeyBinding, ProjectorSettings
from simulator.projector.window import ProjectorWindow
from simulator.protocol import (
    ChooseBranch,
    DecisionRecorded,
    EndRun,
    FlagRaised,
    Pause,
    RecordDecision,
    RunStarted,
)
from simulator.record import Record
from simulator.review.rubric import bundled_rubric, load_rubric
from simulator.runtime import MonotonicClock
from simulator.transport import PairingCode

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

PASSWORD = "a long enough passphrase"

EXPECTED = [
    "run_started", "segment_started", "branches_offered", "cue_shown",
    "response_window_closed", "decision_window_opened",
    "decision_recorded", "flag_raised", "decision_recorded", "entry_retracted",
    "branch_chosen", "segment_started", "branches_offered", "decision_window_opened",
    "default_taken", "segment_started", "run_ended",
]


@pytest.fixture
def server():
    return ConsoleServer(MonotonicClock(), PairingCode(), default_profile())


@pytest.fixture
def console(qtbot, tmp_path, server):
    yield from open_console(qtbot, tmp_path, server)


def open_console(qtbot, tmp_path, server, *, accounts: tuple = (),
                 idle_seconds: float | None = None,
                 windowed_size: tuple[int, int] | None = (320, 180),
                 settings: ProjectorSettings | None = None):
    """A console on a class library in a new record, with ``accounts`` (name, role,
    display name) added before it opens; the projector in a window of ``windowed_size``
    (None: full screen, as on a projector PC)."""
    library = tmp_path / "library"
    folder = library / "corner"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(CLASS, encoding="utf-8")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=320, height=180)
    write_barcode_clip(folder / "two.mp4", clip_number=2, frames=30, width=320, height=180)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    for name, role, shown in accounts:
        Accounts(record).add(name, role, PASSWORD, display_name=shown)
    clock = MonotonicClock()
    host = ProjectorHost(record, library, default_profile(),
                         settings or ProjectorSettings(audio=False), clock,
                         windowed_size=windowed_size, server=server, agency="Metro PD")
    window = ConsoleWindow(host, default_profile(), clock, load_rubric(bundled_rubric()),
                           idle_seconds=idle_seconds)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.setup.load_catalog()
    try:
        yield window, record, clock
    finally:
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
    roster.write_text("name;badge;cohort\nOfficer Reyes;101;Academy 26-1\n"
                      "Officer Byrne;102;Academy 26-1\n", encoding="utf-8")
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

    runs = record.runs.summaries()
    assert len(runs) == 2
    names: list[str] = []
    for run in runs:
        stored = record.runs.events(run.id)
        assert [e.type for e in stored] == EXPECTED
        started = stored[0]
        assert isinstance(started, RunStarted)
        assert started.variant_assignment == "counterbalanced"
        (trainee,) = started.trainee_ids
        names.append(record.people.display_names([trainee])[trainee])
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
    assert all(record.runs.get(r.id).status == "ended" for r in runs)
    # The roster's cohort and the console's agency are on record, for the audit's views.
    metro = record.agencies.find("Metro PD")
    assert metro is not None
    assert record.cohorts.members("Academy 26-1", agency_id=metro) == {
        record.people.find("trainee", name, agency_id=metro) for name in names}
    # One class, one sitting: both runs in one session, which the trainees joined in turn.
    (sitting,) = record.sittings.latest()
    assert sitting.run_count == 2 and sitting.trainees == ("Officer Reyes", "Officer Byrne")
    assert sitting.ended_utc is None  # the class is still on
    window.close()
    (sitting,) = record.sittings.latest()
    assert sitting.ended_utc is not None


def press(widget, key, modifiers=Qt.KeyboardModifier.NoModifier, *, repeat: bool = False):
    """A key press as Qt delivers it, including the auto-repeat of a held key."""
    QApplication.sendEvent(widget, QKeyEvent(QEvent.Type.KeyPress, key, modifiers, "", repeat))
    QApplication.sendEvent(widget, QKeyEvent(QEvent.Type.KeyRelease, key, modifiers, "", repeat))


def counting(window: ConsoleWindow, clock: MonotonicClock) -> bool:
    return window.live is not None and window.live.state.seconds_to_default(
        clock.now_ns()) is not None


def test_a_multi_officer_run_is_steered_restarted_jumped_and_ended_without_the_mouse(
        qtbot, console):
    window, record, clock = console
    setup = window.setup
    for name in ("Officer Reyes", "Officer Byrne"):
        setup.new_trainee.setText(name)
        QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    setup.variant.setCurrentIndex(setup.variant.findData("b"))
    QTest.keyClicks(setup.search, "corner")  # the list refills; the choice must survive
    assert setup.variant.currentData() == "b"
    assert setup.run_preflight()
    setup.request_start()
    qtbot.waitUntil(lambda: counting(window, clock), timeout=10000)
    panel = window.live
    assert "logging for: Officer Reyes" in panel.logging.text()
    QTest.keyClick(panel, Qt.Key.Key_Tab)  # the second officer's turn
    assert "logging for: Officer Byrne" in panel.logging.text() and panel.hasFocus()
    QTest.keyClick(panel, Qt.Key.Key_Q)
    qtbot.waitUntil(lambda: len(panel.state.entries) == 1, timeout=5000)

    QTest.keyClick(panel, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.state.offer is None, timeout=5000)
    qtbot.waitUntil(lambda: counting(window, clock), timeout=10000)
    QTest.keyClick(panel, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert panel.jump_list.isVisible() and panel.jump_list.hasFocus()
    QTest.keyClick(panel.jump_list, Qt.Key.Key_Return)  # the first segment: approach
    qtbot.waitUntil(lambda: "jumped" in [e.type for e in record.runs.events(
        record.runs.summaries()[0].id)], timeout=5000)
    assert not panel.jump_list.isVisible() and panel.hasFocus()
    qtbot.waitUntil(lambda: counting(window, clock), timeout=10000)

    # Ending needs two separate presses: holding the keys down does not count.
    press(panel, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    for _ in range(5):
        press(panel, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier, repeat=True)
        press(panel, Qt.Key.Key_Space, repeat=True)
    qtbot.wait(300)
    assert not panel.state.ended and not panel.state.paused
    assert "press Ctrl+E again" in panel.status.text()
    press(panel, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.state.ended, timeout=5000)

    (run,) = record.runs.summaries()
    stored = record.runs.events(run.id)
    started = stored[0]
    assert isinstance(started, RunStarted)
    assert (started.variant_id, started.variant_assignment) == ("b", "chosen")
    reyes, byrne = started.trainee_ids
    assert record.people.display_names([reyes, byrne]) == {reyes: "Officer Reyes",
                                                    byrne: "Officer Byrne"}
    (decision,) = [e for e in stored if isinstance(e, DecisionRecorded)]
    assert (decision.trainee_id, decision.action) == (byrne, "presence")
    kinds = [e.type for e in stored]
    assert kinds.count("segment_restarted") == 1 and kinds.count("jumped") == 1
    assert "paused" not in kinds
    assert (kinds[-1], stored[-1].reason) == ("run_ended", "instructor")


def test_a_run_that_faults_says_so_and_frees_the_projector_for_the_next_trainee(
        qtbot, console, tmp_path):
    window, record, clock = console
    setup = window.setup
    roster = tmp_path / "class.csv"
    roster.write_text("name\nOfficer Reyes\nOfficer Byrne\n", encoding="utf-8")
    assert setup.import_roster(roster) and setup.run_preflight()
    setup.request_start()
    qtbot.waitUntil(lambda: counting(window, clock), timeout=10000)
    panel = window.live
    # The record goes away under the run (a disk pulled, a server gone).
    with record.engine.begin() as c:
        c.execute(text("ALTER TABLE events RENAME TO events_away"))
    QTest.keyClick(panel, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: "THE RUN STOPPED" in panel.status.text(), timeout=5000)
    qtbot.waitUntil(lambda: "N: next (Officer Byrne)" in window.after_run.text(),
                    timeout=5000)
    with record.engine.begin() as c:
        c.execute(text("ALTER TABLE events_away RENAME TO events"))
    qtbot.wait(1600)  # past the moment the last picture is held
    projectors = [w for w in QApplication.topLevelWidgets() if isinstance(w, ProjectorWindow)
                  and w.isVisible()]
    assert len(projectors) == 1
    projectors[0].close()  # closed by hand between runs: the next run must open a new one
    QTest.keyClick(window, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.live is not panel and counting(window, clock),
                    timeout=10000)
    assert [w for w in QApplication.topLevelWidgets()
            if isinstance(w, ProjectorWindow) and w.isVisible()] not in ([], projectors)
    first, second = record.runs.summaries()
    assert record.runs.events(first.id)[-1].type != "run_ended"  # stopped where it was, resumable
    assert record.runs.events(second.id)[0].type == "run_started"
    window.live.send(EndRun())
    qtbot.waitUntil(lambda: window.live.state.ended, timeout=5000)


def start_for(qtbot, window: ConsoleWindow, clock: MonotonicClock, trainee: str) -> LivePanel:
    """Add ``trainee``, pass the pre-flight check, start, and wait for the branches."""
    setup = window.setup
    setup.new_trainee.setText(trainee)
    QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    setup.tick_only((trainee,))
    assert setup.run_preflight()
    setup.request_start()
    qtbot.waitUntil(lambda: window.live is not None and not window.live.over
                    and window.live.state.offer is not None, timeout=10000)
    assert window.live is not None
    return window.live


def test_with_one_screen_set_up_warns_and_the_choice_takes_effect_on_start(
        qtbot, tmp_path):
    opened = open_console(qtbot, tmp_path, None, windowed_size=None)
    window, record, clock = next(opened)
    try:
        screen = QGuiApplication.screens()
        assert len(screen) == 1  # offscreen Qt has one screen, like a lone projector PC
        one_screen = window.one_screen
        assert one_screen.isVisible() and "cover the console" in one_screen.warning.text()
        assert one_screen.choice == WINDOWED  # until the instructor picks the other way

        panel = start_for(qtbot, window, clock, "Officer Reyes")
        projector = window.host.projector_surface().window()
        assert not one_screen.isVisible()  # set-up only
        assert not projector.isFullScreen()
        assert (projector.width(), projector.height()) == windowed_projector_size(screen[0])
        assert not window.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
        qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is window.windowHandle(),
                        timeout=5000)
        # The instructor's 1, pressed while the projector had the focus anyway, takes the
        # branch from the console: it is no trainee's response.
        QTest.keyClick(projector, Qt.Key.Key_1)
        qtbot.waitUntil(lambda: panel.over, timeout=10000)
        first = record.runs.events(panel.state.run_id)
        assert [e.branch_id for e in first if e.type == "branch_chosen"] == ["calm"]
        assert "trainee_input" not in [e.type for e in first]

        QTest.keyClick(window, Qt.Key.Key_Escape)
        assert one_screen.isVisible()
        one_screen.choose(ON_TOP)
        panel = start_for(qtbot, window, clock, "Officer Byrne")
        assert window.host.projector_surface().window() is projector
        assert projector.isFullScreen()
        assert window.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
        assert window.isVisible()
        qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is window.windowHandle(),
                        timeout=5000)
        QTest.keyClick(window.windowHandle(), Qt.Key.Key_2)
        qtbot.waitUntil(lambda: panel.over, timeout=10000)
        second = record.runs.events(panel.state.run_id)
        assert [e.branch_id for e in second if e.type == "branch_chosen"] == ["shout"]
    finally:
        opened.close()


def test_a_key_bound_to_a_trainee_device_is_the_trainees_wherever_it_is_pressed(
        qtbot, tmp_path, server):
    cew = ProjectorSettings(audio=False, devices={"cew": 1},
                            keys={"F12": KeyBinding(device="cew", kind="tool", action="cew")})
    opened = open_console(qtbot, tmp_path, server, settings=cew)
    window, record, clock = next(opened)
    try:
        assert not window.one_screen.isVisible()  # the projector is in a window already
        panel = start_for(qtbot, window, clock, "Officer Reyes")
        qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is window.windowHandle(),
                        timeout=5000)
        # The CEW's key reaches the console, which has the keyboard: it is the trainee's.
        QTest.keyClick(window.windowHandle(), Qt.Key.Key_F12)
        qtbot.waitUntil(lambda: any(e.type == "trainee_input"
                                    for e in record.runs.events(panel.state.run_id)), timeout=5000)
        QTest.keyClick(window.windowHandle(), Qt.Key.Key_1)  # and the instructor's stays his
        qtbot.waitUntil(lambda: panel.over, timeout=10000)
        events = record.runs.events(panel.state.run_id)
        (used,) = [e for e in events if e.type == "trainee_input"]
        (trainee,) = events[0].trainee_ids
        assert (used.device, used.kind, used.key, used.trainee_id) == ("cew", "tool", "F12",
                                                                       trainee)
        decision = next(e for e in events if isinstance(e, DecisionRecorded))
        assert (decision.action, decision.source) == ("cew", "device")
        assert [e.branch_id for e in events if e.type == "branch_chosen"] == ["calm"]
    finally:
        opened.close()


def test_a_remote_console_follows_the_projector_pcs_console_from_run_to_run(
        qtbot, console, server, tmp_path):
    window, _, clock = console
    assert f"Remote console code: {server.code}" == window.setup.pairing.text()
    port = server.listen(0)
    link = RemoteLink(f"ws://127.0.0.1:{port}", str(server.code), name="laptop")
    said: list[str] = []
    link.status.connect(said.append)
    laptop = LivePanel(link, clock)
    qtbot.addWidget(laptop)
    link.open()
    qtbot.waitUntil(lambda: "connected; no run on the projector yet" in said, timeout=5000)

    roster = tmp_path / "class.csv"
    roster.write_text("name\nOfficer Reyes\nOfficer Byrne\n", encoding="utf-8")
    assert window.setup.import_roster(roster) and window.setup.run_preflight()
    window.setup.request_start()
    qtbot.waitUntil(lambda: counting(window, clock) and laptop.state.offer is not None,
                    timeout=10000)
    assert laptop.state.run_id == window.live.state.run_id
    assert "logging for: Officer Reyes" in laptop.logging.text()
    laptop.send(Pause())  # the laptop steers; both consoles see it from the events
    qtbot.waitUntil(lambda: window.live.state.paused and laptop.state.paused, timeout=5000)
    QTest.keyClick(window.live, Qt.Key.Key_Space)
    QTest.keyClick(window.live, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: laptop.state.ended, timeout=10000)
    first_run = laptop.state.run_id

    QTest.keyClick(window, Qt.Key.Key_N)  # the next trainee: the laptop follows
    qtbot.waitUntil(lambda: laptop.state.run_id not in (None, first_run)
                    and "Officer Byrne" in laptop.logging.text(), timeout=10000)
    link.close()
    window.live.send(EndRun())
    qtbot.waitUntil(lambda: window.live.over, timeout=5000)


def test_review_mode_replays_the_run_just_ended_and_scores_it(qtbot, console, tmp_path):
    from test_playback import shown_code

    from simulator.review.export import ExportFormat

    window, record, clock = console
    setup = window.setup
    setup.new_trainee.setText("Officer Reyes")
    QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    assert setup.run_preflight()
    setup.request_start()
    steer_one_run(qtbot, window, clock)
    QTest.keyClick(window, Qt.Key.Key_F3)
    review = window.review
    qtbot.waitUntil(lambda: window.pages.currentWidget() is review, timeout=5000)
    (run,) = record.runs.summaries()
    assert review.run is not None and review.run.summary.id == run.id
    timeline = review.player.timeline
    assert review.markers.count() == len(timeline.markers)
    # PageDown walks the markers; each shows the frame the trainee saw then.
    for marker in [m for m in timeline.markers if m.kind in ("cue", "decision", "choice")]:
        review.seek(marker.at_s)
        shot, media_s = timeline.frame_at(marker.at_s)
        clip = 1 if shot.clip_id == "one" else 2
        # Held at the out-point, the picture is the last frame before it.
        last = math.ceil(shot.span_end(marker.at_s) * 30 - 0.5) - 1
        frame = min(math.floor(media_s * 30 + 1e-6), last)
        assert shown_code(review.surface.current_image()) == (clip, frame), marker
    review.seek(0.0)
    QTest.keyClick(review, Qt.Key.Key_PageDown)
    assert review.player.position == min(m.at_s for m in timeline.markers if m.at_s > 1e-3)
    QTest.mouseClick(review.bar, Qt.MouseButton.LeftButton,
                     pos=review.bar.rect().center())
    assert abs(review.player.position - timeline.duration_s / 2) < timeline.duration_s / 20
    # In front of the trainee: the projector shows what the console shows.
    QTest.keyClick(review, Qt.Key.Key_P)
    projector = window.host.projector_surface()
    assert shown_code(projector.current_image()) == shown_code(review.surface.current_image())
    # Scores by two raters, then the agreement is shown.
    for rater, levels in (("Sgt. Lee", ("competent", "developing", "expert", "novice",
                                         "competent")),
                          ("Sgt. Okafor", ("expert", "developing", "expert", "developing",
                                           "competent"))):
        review.rater.setText(rater)
        for combo, level in zip(review.levels.values(), levels, strict=True):
            combo.setCurrentIndex(combo.findData(level))
        QTest.keyClick(review, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    scores = record.scores.standing(run_ids=[run.id])
    assert len(scores) == 2 * len(review.levels)
    from simulator.review.rubric import bundled_rubric, load_rubric
    from simulator.review.scoring import agreement

    expected = agreement(scores, load_rubric(bundled_rubric())[0])
    assert expected is not None and 0 < expected.value < 1
    assert "2 raters so far" in review.scored.text()
    assert f"{expected.value:.2f}" in review.scored.text()
    assert "Trend of Officer Reyes" in review.scored.text()
    review.export(ExportFormat.pdf, tmp_path / "debrief.pdf")
    assert (tmp_path / "debrief.pdf").read_bytes().startswith(b"%PDF")
    review.export_audit(tmp_path / "audit.html")  # the same audit as the command line's
    assert "Bias audit" in (tmp_path / "audit.html").read_text()
    assert "bias audit written to" in review.scored.text()
    # Narrowed in its dialog: one trainee's coaching view, with a race reference.
    dialog = review.audit_dialog()
    qtbot.addWidget(dialog)
    assert [dialog.scenarios.item(i).text() for i in range(dialog.scenarios.count())] == [
        "corner"]
    dialog.trainee.setCurrentIndex(dialog.trainee.findData("Officer Reyes"))
    # The rotation picked the variant, so the group on screen is the one it shows.
    shown = review.run.scenario.scenario.variant(review.run.started.variant_id).people["man"]
    absent = {"white": "black_african_american", "black_african_american": "white"}[
        shown["race"]]
    race = dialog.references["race"]
    race.setCurrentIndex(race.findData(shown["race"]))
    dialog.use_since.setChecked(True)
    scope = dialog.scope()
    today = QDate.currentDate()  # the day the instructor sees, taken as a UTC date
    assert (scope.trainee, dict(scope.references), scope.agency, scope.scenario_ids,
            scope.since) == ("Officer Reyes", {"race": shown["race"]}, "Metro PD", None,
                             datetime(today.year(), today.month(), today.day(), tzinfo=UTC))
    review.export_audit(tmp_path / "one.html", scope)
    assert (tmp_path / "one.html").exists(), review.scored.text()
    assert "The trials of one trainee (Officer Reyes)" in (tmp_path / "one.html").read_text()
    dialog.use_until.setChecked(True)
    assert dialog.problem() == "'Until' must come after 'From'"
    dialog.use_until.setChecked(False)
    dialog.scenarios.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.problem() == "tick at least one scenario"
    dialog.scenarios.item(0).setCheckState(Qt.CheckState.Checked)
    dialog.references["race"].setCurrentIndex(race.findData(absent))
    review.export_audit(tmp_path / "none.html", dialog.scope())
    assert f"no audit: --reference race={absent}: no trials show that group" in \
        review.scored.text()
    assert not (tmp_path / "none.html").exists()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.setup
    assert projector.current_image() is None  # the replay left the projector


def test_the_console_signs_in_by_role_and_signs_out_when_idle_but_never_mid_run(
        qtbot, tmp_path, server, request):
    opened = open_console(
        qtbot, tmp_path, server, idle_seconds=1.0,
        accounts=(("root", Role.administrator, None), ("lee", Role.instructor, "Sgt. Lee"),
                  ("kim", Role.instructor, "Sgt. Kim"), ("okafor", Role.coordinator, None)))
    window, record, clock = next(opened)
    request.addfinalizer(opened.close)
    panel = window.sign_in

    def sign_in(name: str, password: str = PASSWORD) -> None:
        panel.username.setText(name)
        panel.password.setText(password)
        QTest.keyClick(panel.password, Qt.Key.Key_Return)

    assert window.locked and not window.open_review()  # nothing of the record shows
    sign_in("lee", "not the password")
    assert window.locked and panel.message.text().startswith("wrong user name or password")
    sign_in("root")
    assert window.locked
    assert "signed in as administrator; to run a class sign in as coordinator or " \
           "instructor" in panel.message.text()
    sign_in("lee")
    assert not window.locked and window.pages.currentWidget() is window.setup
    setup = window.setup
    assert setup.instructor.text() == "Sgt. Lee" and setup.instructor.isReadOnly()
    assert window.review.audit_button.isHidden()  # the audit is a coordinator's
    setup.new_trainee.setText("Officer Reyes")
    QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    assert setup.run_preflight()
    setup.request_start()
    qtbot.waitUntil(lambda: window.run_live, timeout=10000)
    qtbot.wait(1800)  # longer than the idle time, with nobody at the keyboard
    assert window.run_live and not window.locked  # never during a live run
    steer_one_run(qtbot, window, clock)
    qtbot.waitUntil(lambda: window.locked, timeout=5000)
    assert "Signed out after" in panel.message.text()
    (session,) = record.sittings.latest()
    assert session.instructor == "Sgt. Lee"
    lees_code = str(window.host.server.code)
    sign_in("okafor")
    assert not window.locked and not window.review.audit_button.isHidden()
    # Nothing of Lee's class stays: not the instructor's name, not the remote pairing.
    assert setup.instructor.text() == "" and not setup.instructor.isReadOnly()
    assert str(window.host.server.code) != lees_code
    assert str(window.host.server.code) in setup.pairing.text()
    assert window.open_review() and window.review.runs.count() == 1
    (lees_run,) = record.runs.summaries()
    assert window.review.open_run(lees_run.id)
    actions = [(e.username, e.action) for e in AccessLog(record).entries()]
    # The names of recent trainees are listed for Lee only once that look is logged.
    assert actions[:5] == [("lee", "sign_in_refused"), ("root", "refused"),
                           ("lee", "sign_in"), ("lee", "recent_trainees"),
                           ("lee", "idle_sign_out")]
    # The run list is logged when review mode shows it, not at each sign-in.
    assert ("lee", "runs_list") not in actions
    assert ("okafor", "runs_list") in actions and ("okafor", "run_view") in actions
    # Another instructor after a sign-out: a class and a sitting of their own.
    window.lock("Signed out.")
    sign_in("kim")
    assert setup.instructor.text() == "Sgt. Kim"
    assert setup.trainees.count() == 0  # not Lee's trainees
    assert window.live is None and window.last_plan is None
    setup.new_trainee.setText("Officer Byrne")
    QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    setup.request_start()
    steer_one_run(qtbot, window, clock)
    assert sorted((s.instructor, s.trainees) for s in record.sittings.latest()) == [
        ("Sgt. Kim", ("Officer Byrne",)), ("Sgt. Lee", ("Officer Reyes",))]
    assert window.open_review() and window.review.runs.count() == 1
    assert not window.review.open_run(lees_run.id)  # another instructor's
    assert "from another instructor's session" in window.review.scored.text()
    window.close()


def test_an_account_disabled_while_signed_in_is_signed_out_before_its_next_use(
        qtbot, tmp_path, request):
    opened = open_console(qtbot, tmp_path, None, idle_seconds=600.0,
                          accounts=(("okafor", Role.coordinator, None),))
    window, record, clock = next(opened)
    request.addfinalizer(opened.close)
    panel = window.sign_in
    panel.username.setText("okafor")
    panel.password.setText(PASSWORD)
    QTest.keyClick(panel.password, Qt.Key.Key_Return)
    setup = window.setup
    setup.new_trainee.setText("Officer Reyes")
    QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    assert setup.run_preflight()
    setup.request_start()
    qtbot.waitUntil(lambda: window.run_live, timeout=10000)
    # An administrator disables the account mid-run: the run is not cut short...
    Accounts(record).set_disabled("okafor", True)
    qtbot.wait(300)
    assert window.run_live and not window.locked
    steer_one_run(qtbot, window, clock)
    # ...but nothing more happens as that account: not a review, not another run.
    assert not window.open_review()
    assert window.locked and "okafor has been disabled" in panel.message.text()
    from simulator.review.export import ExportFormat

    (run,) = record.runs.summaries()
    assert not window.review.open_run(run.id)
    window.review.export(ExportFormat.events_csv, tmp_path / "events.csv")
    assert not (tmp_path / "events.csv").exists()
    assert not window.start(window.last_plan) and len(record.runs.summaries()) == 1
    actions = [(e.username, e.action) for e in AccessLog(record).entries()]
    assert ("okafor", "signed_out") in actions and ("okafor", "run_view") not in actions


def test_a_run_a_remote_console_starts_is_live_on_the_projector_pcs_console_too(
        qtbot, console, server):
    from simulator.transport import PreflightRequest, StartRequest

    window, record, clock = console
    port = server.listen(0)
    link = RemoteLink(f"ws://127.0.0.1:{port}", str(server.code), name="laptop")
    answers: list[object] = []
    link.answered.connect(lambda _id, answer: answers.append(answer))
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    link.request(PreflightRequest(scenario_id="corner"))
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=30000)
    assert answers[0].type == "preflight" and answers[0].problems == []
    assert window.live is None and window.pages.currentWidget() is window.setup

    link.request(StartRequest(scenario_id="corner", trainees=["Officer Reyes"],
                              instructor="Sgt. Diaz"))
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=20000)
    assert answers[1].type == "started"
    # The operator's screen follows: the same run, live, with its trainee's name.
    assert window.pages.currentWidget() is window._live_page
    qtbot.waitUntil(lambda: counting(window, clock), timeout=10000)
    assert window.live.state.run_id == answers[1].run_id
    assert "Officer Reyes" in window.live.logging.text()
    QTest.keyClick(window.live, Qt.Key.Key_1)  # and it steers it like its own
    qtbot.waitUntil(lambda: window.live.over, timeout=20000)
    assert "N: next" not in window.after_run.text()  # a one-trainee plan, no roster
    kinds = [e.type for e in record.runs.events(answers[1].run_id)]
    assert kinds[0] == "run_started" and "branch_chosen" in kinds and kinds[-1] == "run_ended"
    link.close()


def _has(answers: list[object], count: int) -> bool:
    return len(answers) >= count


def test_a_remote_consoles_run_is_never_cut_by_someone_signing_in_at_the_projector_pc(
        qtbot, tmp_path, server, request):
    from simulator.transport import PreflightRequest, SignIn, StartRequest

    opened = open_console(qtbot, tmp_path, server, idle_seconds=600.0,
                          accounts=(("kim", Role.instructor, "Sgt. Kim"),
                                    ("lee", Role.instructor, "Sgt. Lee")))
    window, record, clock = next(opened)
    request.addfinalizer(opened.close)
    assert window.locked
    link = RemoteLink(f"ws://127.0.0.1:{server.listen(0)}", str(server.code), name="laptop")
    answers: list[object] = []
    link.answered.connect(lambda _id, answer: answers.append(answer))
    link.open()
    qtbot.waitUntil(lambda: link.paired, timeout=5000)
    for asked in (SignIn(username="kim", password=PASSWORD),
                  StartRequest(scenario_id="corner", trainees=["Officer Reyes"]),
                  PreflightRequest(scenario_id="corner"),
                  StartRequest(scenario_id="corner", trainees=["Officer Reyes"])):
        count = len(answers) + 1
        link.request(asked)
        qtbot.waitUntil(partial(_has, answers, count), timeout=30000)
    # A start refused (not pre-flighted yet) took nothing from the projector.
    assert [a.type for a in answers] == ["signed_in", "refused", "preflight", "started"]
    qtbot.waitUntil(lambda: window.run_live, timeout=10000)
    # Checking a password would hold up the projector mid-run: no sign-in until it is over.
    panel = window.sign_in
    assert window.locked and panel.password.isHidden()
    assert "Sign in here once this run is over" in panel.message.text()

    link.send(RecordDecision(trainee_id=window.live.state.trainee_ids[0],
                             action="verbal_direction"))
    qtbot.waitUntil(lambda: counting(window, clock), timeout=10000)
    link.send(ChooseBranch(branch_id="calm", offer_seq=window.live.state.offer.offer_seq))
    qtbot.waitUntil(lambda: window.live.over, timeout=20000)
    assert not panel.password.isHidden()
    panel.username.setText("lee")
    panel.password.setText(PASSWORD)
    QTest.keyClick(panel.password, Qt.Key.Key_Return)
    assert not window.locked and window.pages.currentWidget() is window.setup
    # Kim's class goes on from the laptop: its sitting open, its laptop still paired.
    (sitting,) = record.sittings.latest()
    assert sitting.ended_utc is None and sitting.instructor == "Sgt. Kim"
    assert link.paired
    kinds = [e.type for e in record.runs.events(answers[3].run_id)]
    assert "decision_recorded" in kinds and "branch_chosen" in kinds
    assert kinds[-1] == "run_ended"
    link.close()
