"""The console's live control: state folded from events, keys that send commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QFontMetrics, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QToolTip
from test_projector import street_session

from instructor_console.link import LocalLink
from instructor_console.live_panel import LivePanel, decision_keys, profile_keys, shots_note
from instructor_console.live_state import LiveState
from simulator.agency import default_profile
from simulator.protocol import (
    BranchChosen,
    BranchesOffered,
    CueShown,
    DecisionWindowOpened,
    FlagRaised,
    OfferedBranch,
    Paused,
    Resumed,
    RunEnded,
    RunRecovered,
    SegmentStarted,
    TraineeInput,
)
from simulator.runtime import ManualClock
from simulator.scenario import ScenarioLibrary, bundled_library, outline
from simulator.transport import Snapshot

SECOND = 1_000_000_000


def stamp(seq: int) -> dict[str, object]:
    return {"run_id": "r", "seq": seq, "t_ns": seq, "utc": datetime(2026, 1, 1, tzinfo=UTC)}


def test_the_countdown_runs_on_the_console_clock_and_freezes_while_paused():
    state = LiveState()
    branches = [OfferedBranch(id="calm", label="Calms", hotkey="1", kind="de_escalate",
                              to="b"),
                OfferedBranch(id="run", label="Runs", hotkey="2", kind="escalate", to="c")]
    state.apply(SegmentStarted(**stamp(1), segment_id="a", play_token=1), 0)
    state.apply(BranchesOffered(**stamp(2), segment_id="a", branches=branches,
                                default_branch="calm", window_ms=6000), 0)
    assert state.offer is not None and state.offer.by_hotkey("2").id == "run"
    assert state.seconds_to_default(5 * SECOND) is None  # counting starts at the out-point
    state.apply(DecisionWindowOpened(**stamp(3), segment_id="a", offer_seq=2, window_ms=6000,
                                     waiting="hold"), 10 * SECOND)
    assert state.seconds_to_default(12 * SECOND) == 4.0
    state.apply(Paused(**stamp(4)), 12 * SECOND)
    assert state.seconds_to_default(100 * SECOND) == 4.0
    state.apply(Resumed(**stamp(5), paused_ms=30_000), 42 * SECOND)
    assert state.seconds_to_default(43 * SECOND) == 3.0
    state.apply(BranchChosen(**stamp(6), offer_seq=2, branch_id="run", from_segment="a",
                             to_segment="c"), 43 * SECOND)
    assert state.offer is None and state.seconds_to_default(43 * SECOND) is None
    state.apply(RunEnded(**stamp(7), reason="outcome", segment_id="c",
                         outcome_kind="force_used"), 44 * SECOND)
    assert state.ended and state.outcome == "force_used"


@pytest.mark.gui
def test_keys_on_the_console_steer_the_run_and_the_panel_redraws_from_events(
        qtbot, tmp_path, journal):
    session, clock = street_session(qtbot, tmp_path, journal, window_s=30)
    player, run = session.player, session.run
    panel = LivePanel(LocalLink(session), clock)
    qtbot.addWidget(panel)
    panel.show()
    session.start()
    try:
        qtbot.waitUntil(lambda: panel.state.seconds_to_default(clock.now_ns()) is not None,
                        timeout=5000)
        assert "default 'calm' in" in panel.countdown.text()
        buttons = [b.text() for b in panel.findChildren(QPushButton)
                   if b.isVisible() and b.property("kind")]
        assert sorted(buttons) == ["1  Calms  [de_escalate]  (default)", "2  Runs  [escalate]"]
        QTest.keyClick(panel, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: panel.state.paused, timeout=2000)
        assert "(paused)" in panel.countdown.text()
        QTest.keyClick(panel, Qt.Key.Key_Space)
        QTest.keyClick(panel, Qt.Key.Key_F)
        QTest.keyClick(panel, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
        assert panel.flag_note.hasFocus()
        QTest.keyClicks(panel.flag_note, "hand in pocket")
        QTest.keyClick(panel.flag_note, Qt.Key.Key_Return)
        assert panel.hasFocus() and not panel.flag_note.text()
        QTest.keyClick(panel, Qt.Key.Key_Q)  # officer presence, for trainee t1
        qtbot.waitUntil(lambda: len(panel.state.entries) == 3, timeout=2000)
        assert "last entry: presence" in panel.logging.text()
        QTest.keyClick(panel, Qt.Key.Key_Backspace)  # mis-keyed: take it back
        qtbot.waitUntil(lambda: len(panel.state.entries) == 2, timeout=2000)
        QTest.keyClick(panel, Qt.Key.Key_2)
        qtbot.waitUntil(lambda: run.ended, timeout=5000)
    finally:
        player.shutdown()
    kinds = [e.type for e in journal.events]
    # What the keys did, in the order they were pressed (a cue window may close between).
    steered = [k for k in kinds if k in ("decision_window_opened", "paused", "resumed",
                                         "flag_raised", "decision_recorded", "entry_retracted",
                                         "branch_chosen", "default_taken")]
    assert steered == ["decision_window_opened", "paused", "resumed", "flag_raised",
                       "flag_raised", "decision_recorded", "entry_retracted", "branch_chosen"]
    flags = [e for e in journal.events if isinstance(e, FlagRaised)]
    assert flags[0].note_digest is None and flags[1].note_digest is not None
    decision = next(e for e in journal.events if e.type == "decision_recorded")
    retracted = next(e for e in journal.events if e.type == "entry_retracted")
    assert (decision.trainee_id, decision.action, decision.source) == ("t1", "presence",
                                                                       "instructor")
    assert retracted.entry_seq == decision.seq
    chosen = next(e for e in journal.events if isinstance(e, BranchChosen))
    assert chosen.branch_id == "run"
    assert any(isinstance(e, FlagRaised) for e in journal.events)
    assert isinstance(journal.events[-1], RunEnded)
    assert panel.state.ended and "run ended" in panel.status.text()


def test_decision_keys_follow_the_continuum_and_leave_the_flag_key_free():
    keys = profile_keys(default_profile())
    assert [keys[k] for k in "QWE"] == ["presence", "verbal_direction", "soft_control"]
    assert keys["O"] == "firearm" and keys["A"] == "rapport"
    assert "F" not in keys
    # A profile with only force options (or more options than keys) still has a keyboard.
    only_force = decision_keys([f"option_{i}" for i in range(12)], [])
    assert list(only_force) == list("QWERTYUIOP")


def test_a_restored_state_counts_down_from_the_projectors_reckoning():
    branches = [OfferedBranch(id="calm", label="Calms", hotkey="1", kind="de_escalate",
                              to="b")]
    events = [SegmentStarted(**stamp(1), segment_id="a", play_token=1),
              BranchesOffered(**stamp(2), segment_id="a", branches=branches,
                              default_branch="calm", window_ms=6000),
              DecisionWindowOpened(**stamp(3), segment_id="a", offer_seq=2, window_ms=6000,
                                   waiting="hold")]
    state = LiveState.restored(events, default_in_ms=2500, now_ns=100 * SECOND)
    assert state.seconds_to_default(101 * SECOND) == 1.5
    paused = LiveState.restored([*events, Paused(**stamp(4))], default_in_ms=2500,
                                now_ns=100 * SECOND)
    assert paused.paused and paused.seconds_to_default(500 * SECOND) == 2.5
    gone = LiveState.restored([*events, BranchChosen(**stamp(4), offer_seq=2,
                                                     branch_id="calm", from_segment="a",
                                                     to_segment="b")],
                              default_in_ms=None, now_ns=100 * SECOND)
    assert gone.offer is None and gone.seconds_to_default(100 * SECOND) is None


@pytest.mark.gui
def test_the_mini_map_lays_out_every_segment_and_fills_the_one_on_screen(qtbot, doorway):
    from PySide6.QtGui import QColor

    from instructor_console.mini_map import TAKEN, MiniMap
    from simulator.scenario import outline

    mini_map = MiniMap()
    qtbot.addWidget(mini_map)
    mini_map.resize(480, 240)
    mini_map.set_outline(outline(doorway.scenario))
    mini_map.show_path(["door", "calm"])
    boxes = mini_map.boxes()
    assert set(boxes) == {"door", "calm", "talked", "knife"}
    assert all(mini_map.rect().contains(box.toRect()) for box in boxes.values())
    assert not any(a.intersects(b) for i, a in enumerate(boxes.values())
                   for b in list(boxes.values())[i + 1:])
    assert boxes["door"].left() < boxes["calm"].left() < boxes["talked"].left()
    image = mini_map.grab().toImage()

    def fill(segment: str) -> str:
        box = boxes[segment]
        return image.pixelColor(round(box.left() + 8), round(box.top() + 4)).name()

    assert fill("calm") == QColor(TAKEN).name()  # on screen now
    assert fill("door") == QColor("#3a4552").name()  # played before
    assert fill("knife") == QColor("#1b2129").name()  # not reached


def test_after_a_crash_the_recovered_run_counts_anew():
    branches = [OfferedBranch(id="calm", label="Calms", hotkey="1", kind="de_escalate",
                              to="b")]
    state = LiveState()
    state.apply(SegmentStarted(**stamp(1), segment_id="a", play_token=1), 0)
    state.apply(BranchesOffered(**stamp(2), segment_id="a", branches=branches,
                                default_branch="calm", window_ms=6000), 0)
    state.apply(DecisionWindowOpened(**stamp(3), segment_id="a", offer_seq=2, window_ms=6000,
                                     waiting="hold"), 0)
    later = {**stamp(4), "t_ns": 7}  # the new process's clock starts anywhere
    state.apply(RunRecovered(**later, last_seq=3, segment_id="a", player_backend="pyav",
                             timing_mode="frame_exact"), SECOND)
    assert state.offer is None and state.seconds_to_default(SECOND) is None
    state.apply(CueShown(**{**stamp(5), "t_ns": 7 + 2 * SECOND}, segment_id="a", cue_id="c",
                         person_id=None, scored=True, window_ms=1000), 3 * SECOND)
    assert state.cues[-1].at_s == 2.0


class StandInLink(QObject):
    """A link that keeps what the panel sends; the test hands the panel its events."""

    received = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[object] = []

    def send(self, command) -> None:
        self.sent.append(command)


@pytest.mark.gui
def test_the_key_legend_goes_when_the_run_is_over_and_comes_back_with_the_next(qtbot, doorway):
    panel = LivePanel(StandInLink(), ManualClock())
    qtbot.addWidget(panel)
    panel.show()
    panel.on_event(SegmentStarted(**stamp(1), segment_id="door", play_token=1))
    assert panel.hint.isVisible() and "1-9 branch" in panel.hint.text()
    panel.on_event(RunEnded(**stamp(2), reason="outcome", segment_id="door",
                            outcome_kind="force_used"))
    # The live keys no longer act: the window's change-over line says what does.
    assert not panel.hint.isVisible()
    snapshot = Snapshot(run_id="r2", events=[SegmentStarted(**stamp(1), segment_id="door",
                                                            play_token=1)],
                        default_in_ms=None, outline=outline(doorway.scenario), names={},
                        force_options=["presence"], verbal_tactics=["rapport"])
    panel.restore(snapshot)  # a remote console, on the projector's next run
    assert panel.hint.isVisible() and "1-9 branch" in panel.hint.text()
    panel.show_fault("the record cannot be written")
    assert not panel.hint.isVisible()


BUNDLED = ScenarioLibrary(bundled_library())


@pytest.mark.gui
@pytest.mark.parametrize("scenario_id", [p.parent.name for p in BUNDLED.paths()])
def test_mini_map_labels_are_whole_inside_their_boxes(qtbot, scenario_id):
    from instructor_console.mini_map import LABEL_FLAGS, MiniMap

    mapped = outline(BUNDLED.load(scenario_id).scenario)
    # The map at the size the console gives it, in a window of the size it opens at.
    panel = LivePanel(StandInLink(), ManualClock(), outline=mapped)
    qtbot.addWidget(panel)
    panel.resize(1280, 770)
    panel.show()
    squeezed = MiniMap()  # and at its smallest
    qtbot.addWidget(squeezed)
    squeezed.set_outline(mapped)
    squeezed.resize(squeezed.minimumSize())
    squeezed.show()
    for mini_map in (panel.map, squeezed):
        boxes = mini_map.boxes()
        labels = mini_map.labels()
        assert sorted(label.segment_id for label in labels) == sorted(boxes)
        metrics = QFontMetrics(mini_map.label_font())
        for label in labels:
            box = boxes[label.segment_id]
            # Measured again here: the text as drawn, wrapped in its area, stays in its box.
            drawn = metrics.boundingRect(label.area.toRect(), LABEL_FLAGS, label.text)
            assert box.contains(label.area) and box.toRect().contains(drawn), label
            assert mini_map.rect().contains(drawn) and drawn == label.rect.toRect(), label
            if mini_map is panel.map:
                assert label.text == label.whole, label
            elif label.text != label.whole:
                assert label.text.endswith("…")
                QApplication.sendEvent(mini_map, QHelpEvent(
                    QEvent.Type.ToolTip, box.center().toPoint(),
                    mini_map.mapToGlobal(box.center().toPoint())))
                assert QToolTip.text() == label.whole
        rects = [label.rect for label in labels]
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    QApplication.sendEvent(squeezed, QHelpEvent(QEvent.Type.ToolTip, QPoint(0, 0),
                                                squeezed.mapToGlobal(QPoint(0, 0))))
    # Between the boxes there is nothing to explain (a tooltip shown before fades out).
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=2000)


def test_shots_are_counted_live_a_hit_on_someone_no_threat_loudest():
    state = LiveState()

    def shot(seq: int, placement: str | None, after: bool = False,
             kind: str = "shot") -> TraineeInput:
        return TraineeInput(**stamp(seq), trainee_id="t", device="pistol_red", kind=kind,
                            key=None, x=0.5, y=0.5, frame_token=1, frame_index=3,
                            action="firearm", cue_id=None, cue_seq=None, latency_ms=None,
                            placement=placement, after_threat_ended=after)

    for seq, placement, after in ((1, "threat", False), (2, "non_threat", False),
                                  (3, "miss", True), (4, None, False)):
        state.apply(shot(seq, placement, after), seq)
    state.apply(shot(5, None, kind="click"), 5)  # a click is no shot
    assert state.shots == {"threat": 1, "non_threat": 1, "miss": 1, "unplaced": 1}
    assert state.shots_after_threat_ended == 1
    assert shots_note(state.shots, state.shots_after_threat_ended) == (
        "shots: 4 (1 on the threat, 1 ON A PERSON WHO WAS NO THREAT, 1 missed, "
        "1 not placed, 1 AFTER THE THREAT ENDED)")
