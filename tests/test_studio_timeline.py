"""The studio's timeline: the frame on screen is the frame whose seconds it emits.

Clips carry a barcode of their frame number (simulator.playback.barcode), so every check
reads the frame back from a picture instead of trusting a counter.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from test_playback import shown_code

from instructor_console.studio.timeline import (
    ClipTimeline,
    frame_at,
    rate_text,
    time_of_frame,
    timecode,
)
from simulator.playback.barcode import read_barcode, write_barcode_clip
from simulator.playback.decode import DecodeError, SegmentDecoder
from simulator.playback.replay import ReplayPlayer
from simulator.playback.surface import VideoSurface
from simulator.review.timeline import Shot, Timeline

pytestmark = pytest.mark.gui

RATES = [24, 25, Fraction(30000, 1001), 30, 50, Fraction(60000, 1001), 60]
CLIP = 5


def players_show(seconds: float, fps: Fraction | int) -> dict[str, int]:
    """The frame each player's rule (simulator/playback) picks for a stored time."""
    period = float(1 / fps)
    # replay.py reads on while the frame after the current one starts at or before the
    # moment; here from a few frames before, as from the keyframe it opened at.
    reading = max(0, math.floor(seconds * fps) - 3)
    while float(reading / fps) + period <= seconds + 1e-6:
        reading += 1
    return {
        # decode.py: a segment starts on the frame nearest its in-point...
        "projector in": math.ceil(seconds * fps - 0.5),
        # ...and the replay, seeking, opens on the last to start at or before the moment,
        "replay seek": math.floor(seconds * fps + 1e-9),
        "replay play": reading,
    }


def check_frame(n: int, fps: Fraction | int) -> None:
    at = time_of_frame(n, fps)
    assert at == round(at, 3)
    assert frame_at(at, fps) == n
    assert set(players_show(at, fps).values()) == {n}, (n, fps, at, players_show(at, fps))
    # An out-point emitted for frame n (its end) stops the projector after frame n.
    assert math.ceil(time_of_frame(n + 1, fps) * fps - 0.5) - 1 == n


@pytest.mark.parametrize("fps", RATES, ids=rate_text)
def test_the_first_ten_minutes_of_frames_come_back_as_themselves(fps):
    for n in range(0, round(600 * fps), 7):
        check_frame(n, fps)


@given(st.sampled_from(RATES), st.integers(min_value=0, max_value=60 * 60 * 60 * 10))
def test_any_frame_of_ten_hours_comes_back_as_itself(fps, n):
    check_frame(n, fps)


def test_rounding_to_the_nearest_millisecond_would_show_the_frame_before():
    # The reason for rounding up: 31 / 30 = 1.0333..., and at 1.033 the replay shows 30.
    assert time_of_frame(31, 30) == 1.034
    assert players_show(1.033, 30)["replay seek"] == 30


def test_timecode_counts_frames_within_the_clock_second():
    assert timecode(0, 30) == "00:00:00.00"
    assert timecode(2515, 30) == "00:01:23.25"
    assert timecode(29, Fraction(30000, 1001)) == "00:00:00.29"
    assert timecode(30, Fraction(30000, 1001)) == "00:00:01.00"  # starts at 1.001 s
    assert timecode(36 * 3600 * 25 + 24, 25) == "36:00:00.24"
    assert [rate_text(f) for f in RATES] == ["24", "25", "29.97", "30", "50", "59.94", "60"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio_timeline")
    made = {}
    for fps in RATES:
        path = folder / f"clip_{rate_text(fps)}.mp4"
        write_barcode_clip(path, clip_number=CLIP, frames=36, fps=fps, width=192, height=108,
                           gop=12, audio=False)
        made[fps] = path
    return made


@pytest.mark.parametrize("fps", RATES, ids=rate_text)
def test_the_real_decoder_and_replay_show_the_frame_of_each_emitted_time(qtbot, clips, fps):
    path = clips[fps]
    surface = VideoSurface()
    qtbot.addWidget(surface)
    shot = Shot(seq=0, segment_id="s", clip_id="c", start_s=0.0, end_s=1.5, in_point=0.0,
                out_point=time_of_frame(36, fps), loop=None)
    replay = ReplayPlayer(Timeline("r", "x", "a", ("t",), 1.5, (shot,), ()), {"c": path},
                          [surface])
    try:
        for n in range(36):
            # A segment from frame n to the end of frame n is that one frame, on the projector.
            decoder = SegmentDecoder(path, time_of_frame(n, fps), time_of_frame(n + 1, fps),
                                     sound=False)
            shown = [(frame.index, read_barcode(frame.rgb)) for frame in decoder]
            decoder.close()
            assert shown == [(n, (CLIP, n))], (n, shown)
            replay.seek(time_of_frame(n, fps))
            assert shown_code(surface.current_image()) == (CLIP, n)
    finally:
        replay.close()


@pytest.fixture
def timeline(qtbot, clips):
    widget = ClipTimeline()
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    widget.load(clips[30])
    widget.setFocus()
    yield widget
    widget.unload()


def shown(widget: ClipTimeline) -> int | None:
    code = shown_code(widget.shown_image())
    assert code is None or code[0] == CLIP
    return code[1] if code is not None else None


def press(qtbot, widget, key, times=1, shift=False):
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    for _ in range(times):
        qtbot.keyClick(widget, key, modifier)


def test_keys_step_frames_and_seconds(qtbot, timeline):
    moves: list[tuple[int, float]] = []
    timeline.position_changed.connect(lambda frame, at: moves.append((frame, at)))
    assert shown(timeline) == 0 and timeline.frame_count == 36 and timeline.fps == 30
    press(qtbot, timeline, Qt.Key.Key_Right, 3)
    assert shown(timeline) == 3 == timeline.current_frame
    assert moves[-1] == (3, 0.1)
    press(qtbot, timeline, Qt.Key.Key_Right, shift=True)
    assert shown(timeline) == 33
    press(qtbot, timeline, Qt.Key.Key_Left)
    assert shown(timeline) == 32
    press(qtbot, timeline, Qt.Key.Key_Left, shift=True)
    assert shown(timeline) == 2
    press(qtbot, timeline, Qt.Key.Key_End)
    assert shown(timeline) == 35
    press(qtbot, timeline, Qt.Key.Key_Right)  # past the end it stays on the last frame
    assert shown(timeline) == 35
    press(qtbot, timeline, Qt.Key.Key_Home)
    assert shown(timeline) == 0
    assert "Frame 0 of 35" in timeline.readout.text() and "30 fps" in timeline.readout.text()


def test_in_out_and_cue_emit_seconds_that_are_the_frame_on_screen(qtbot, timeline):
    emitted: dict[str, float] = {}
    timeline.in_point_set.connect(lambda at: emitted.__setitem__("in", at))
    timeline.out_point_set.connect(lambda at: emitted.__setitem__("out", at))
    timeline.cue_marked.connect(lambda at: emitted.__setitem__("cue", at))
    press(qtbot, timeline, Qt.Key.Key_Right, 7)
    press(qtbot, timeline, Qt.Key.Key_I)
    press(qtbot, timeline, Qt.Key.Key_Right, 6)
    press(qtbot, timeline, Qt.Key.Key_M)
    press(qtbot, timeline, Qt.Key.Key_Right, 18)
    press(qtbot, timeline, Qt.Key.Key_O)
    assert emitted == {"in": 0.234, "cue": 0.434, "out": 1.067}
    assert frame_at(emitted["in"], 30) == 7 == timeline.in_frame
    assert frame_at(emitted["cue"], 30) == 13
    # The out-point is the last frame shown: the segment ends where frame 32 would begin.
    assert frame_at(emitted["out"], 30) - 1 == 31 == timeline.out_frame == shown(timeline)


def test_marks_on_a_2997_clip_map_back_to_their_frames(qtbot, clips):
    widget = ClipTimeline()
    qtbot.addWidget(widget)
    widget.load(clips[Fraction(30000, 1001)])
    marked: list[float] = []
    widget.cue_marked.connect(marked.append)
    for n in range(36):
        widget.seek_frame(n)
        widget.mark_cue()
        assert shown(widget) == n
    assert [frame_at(at, widget.fps) for at in marked] == list(range(36))
    assert "29.97 fps" in widget.readout.text()
    widget.unload()


def test_a_click_on_the_bar_goes_to_that_frame(qtbot, timeline):
    bar = timeline.bar
    x = round(bar.x_of_frame(20) + (bar.x_of_frame(21) - bar.x_of_frame(20)) / 2)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=QPoint(x, bar.height() // 2))
    assert timeline.current_frame == 20 == shown(timeline)
    assert bar.frame_under(bar.x_of(0.0) - 30) == 0
    assert bar.frame_under(bar.width() + 30) == 35


def send_mouse(widget, kind, x, buttons):
    pos = QPointF(x, widget.height() / 2)
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), Qt.MouseButton.LeftButton,
                        buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_the_in_and_out_handles_can_be_dragged(qtbot, timeline):
    ins: list[float] = []
    outs: list[float] = []
    timeline.in_point_set.connect(ins.append)
    timeline.out_point_set.connect(outs.append)
    timeline.set_range(time_of_frame(6, 30), time_of_frame(30, 30))
    assert (timeline.in_frame, timeline.out_frame) == (6, 29)
    bar, held = timeline.bar, Qt.MouseButton.LeftButton
    send_mouse(bar, QEvent.Type.MouseButtonPress, bar.x_of_frame(6) + 2, held)
    send_mouse(bar, QEvent.Type.MouseMove, bar.x_of_frame(10), held)
    assert shown(timeline) == 10  # the picture follows the handle
    send_mouse(bar, QEvent.Type.MouseMove, bar.x_of_frame(12), held)
    send_mouse(bar, QEvent.Type.MouseButtonRelease, bar.x_of_frame(12),
               Qt.MouseButton.NoButton)
    assert ins == [time_of_frame(12, 30)] and timeline.in_frame == 12
    # The out handle sits at the end of the out frame; it cannot pass the in-point.
    send_mouse(bar, QEvent.Type.MouseButtonPress, bar.x_of_frame(30) - 1, held)
    send_mouse(bar, QEvent.Type.MouseMove, bar.x_of_frame(2), held)
    send_mouse(bar, QEvent.Type.MouseButtonRelease, bar.x_of_frame(2), Qt.MouseButton.NoButton)
    assert timeline.out_frame == 12 == shown(timeline)
    assert outs == [time_of_frame(13, 30)]
    # A click on a handle shows its frame and moves nothing.
    send_mouse(bar, QEvent.Type.MouseButtonPress, bar.x_of_frame(12) + 3, held)
    send_mouse(bar, QEvent.Type.MouseButtonRelease, bar.x_of_frame(12) + 3,
               Qt.MouseButton.NoButton)
    assert (timeline.in_frame, timeline.out_frame, len(ins), len(outs)) == (12, 12, 1, 1)


def test_l_plays_faster_each_time_and_k_stops(qtbot, timeline):
    press(qtbot, timeline, Qt.Key.Key_L)
    assert timeline.speed == 1
    qtbot.waitUntil(lambda: timeline.current_frame >= 4, timeout=2000)
    press(qtbot, timeline, Qt.Key.Key_L)
    assert timeline.speed == 2 and "▶ 2×" in timeline.readout.text()
    press(qtbot, timeline, Qt.Key.Key_K)
    stopped = timeline.current_frame
    qtbot.wait(100)
    assert timeline.speed == 0 and timeline.current_frame == stopped == shown(timeline)
    press(qtbot, timeline, Qt.Key.Key_L, 3)
    assert timeline.speed == 4
    # At the end it stops on the last frame by itself.
    qtbot.waitUntil(lambda: timeline.speed == 0, timeout=3000)
    assert timeline.current_frame == 35 == shown(timeline)


def test_j_plays_backward_and_stops_at_the_first_frame(qtbot, timeline):
    timeline.seek_frame(30)
    press(qtbot, timeline, Qt.Key.Key_J)
    assert timeline.speed == -1
    qtbot.waitUntil(lambda: timeline.current_frame <= 26, timeout=2000)
    assert shown(timeline) == timeline.current_frame
    press(qtbot, timeline, Qt.Key.Key_J)
    assert timeline.speed == -2
    press(qtbot, timeline, Qt.Key.Key_L)  # the other way starts over at normal speed
    assert timeline.speed == 1
    press(qtbot, timeline, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: timeline.speed == 0, timeout=3000)
    assert timeline.current_frame == 0 == shown(timeline)


def test_marks_are_drawn_and_named(qtbot, timeline):
    timeline.set_range(0.5, 0.9)
    timeline.set_segments([("approach", 0.0, 0.4), ("a name far too long for its band", 1.0,
                                                    1.1)])
    timeline.set_cues([("hand to waistband", 0.6), ("<b>phone</b>", 0.7)])
    timeline.set_proposed_cuts([0.2, 1.0])
    timeline.seek_frame(20)
    assert not timeline.grab().isNull()
    bar = timeline.bar
    assert bar._named_at(bar.x_of(0.6)) == "Cue: hand to waistband at 0.600 s"
    assert bar._named_at(bar.x_of(0.1)).startswith("Segment: approach")
    assert bar._named_at(bar.x_of(0.95)).startswith("J plays backward")


def test_keys_are_said_and_focus_stays_on_the_timeline(timeline):
    assert timeline.focusPolicy() == Qt.FocusPolicy.StrongFocus
    assert timeline.bar.focusPolicy() == Qt.FocusPolicy.NoFocus
    assert timeline.accessibleName() and "J plays backward" in timeline.accessibleDescription()
    assert "M marks a cue" in timeline.surface.toolTip()


def test_a_file_that_is_not_video_says_so(qtbot, tmp_path, timeline):
    junk = tmp_path / "take.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(DecodeError, match=r"take\.mp4"):
        timeline.load(junk)
    assert shown(timeline) == 0  # the clip that was open stays open


@pytest.mark.parametrize("read_on", [None, 1], ids=["reading on", "reopening"])
def test_a_clip_shorter_than_its_header_says_ends_on_its_last_frame(timeline, read_on):
    frames = timeline._frames
    frames.count = 40  # as a header counting the sound past the picture would say
    if read_on is not None:
        frames._read_on = read_on
    timeline.seek_frame(38)
    assert shown(timeline) == 35 == timeline.current_frame and timeline.frame_count == 36
