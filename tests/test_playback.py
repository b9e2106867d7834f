"""Both player backends on real decoded clips, offscreen: what each one guarantees.

Clips carry a barcode of (clip number, frame index) in every frame, so a test reads the
frame actually painted on the surface rather than trusting the player's word for it.
Timing is never asserted as a duration; order, identity and counts are.
"""

from __future__ import annotations

import os

import pytest
from PySide6.QtGui import QImage

from simulator.inputs import PresentedFrame
from simulator.playback.barcode import read_barcode, write_barcode_clip
from simulator.playback.decoded_player import DecodedPlayer, FrameShown
from simulator.playback.surface import VideoSurface, rgb_of
from simulator.ports import MarkShown, PlaybackFailed, PlayRequest, Presented, ReachedOut
from simulator.runtime import MonotonicClock

pytestmark = pytest.mark.gui

FPS = 30


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[int, str]:
    folder = tmp_path_factory.mktemp("barcode-clips")
    paths = {}
    for number in (1, 2, 3):
        path = folder / f"clip{number}.mp4"
        write_barcode_clip(path, clip_number=number, frames=45, fps=FPS, width=320, height=180)
        paths[number] = str(path)
    return paths


def shown_code(image: QImage) -> tuple[int, int] | None:
    """The barcode in a painted picture."""
    return read_barcode(rgb_of(image))


@pytest.fixture
def surface(qtbot) -> VideoSurface:
    widget = VideoSurface()
    widget.resize(640, 360)
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.fixture
def decoded(surface) -> DecodedPlayer:
    player = DecodedPlayer(surface, MonotonicClock(), virtual_display=True)
    yield player
    player.shutdown()


def request(token: int, clip: str, in_s: float, out_s: float, **kw: object) -> PlayRequest:
    return PlayRequest(token=token, segment_id=f"s{token}", clip_id="c", path=clip, in_s=in_s,
                       out_s=out_s, **kw)  # type: ignore[arg-type]


def collect(player) -> list:
    reports: list = []
    player.reports_ready.connect(lambda: reports.extend(player.poll()))
    return reports


def test_cut_to_a_prerolled_target_shows_its_in_point_frame_first_and_skips_none(
        qtbot, decoded, surface, clips):
    frames: list[FrameShown] = []
    codes: list[tuple[int, tuple[int, int] | None]] = []

    def on_frame(frame: FrameShown) -> None:
        frames.append(frame)
        codes.append((frame.token, shown_code(surface.current_image())))

    decoded.on_frame = on_frame
    reports = collect(decoded)
    decoded.play(request(1, clips[1], 0.0, 0.5, marks=(0.2,)))
    decoded.preload([request(0, clips[2], 0.5, 1.0), request(0, clips[3], 0.2, 0.6)])
    assert decoded.wait_parked(10)
    assert len(decoded.parked_spans) == 2
    qtbot.waitUntil(lambda: any(isinstance(r, ReachedOut) for r in reports), timeout=5000)
    decoded.play(request(2, clips[2], 0.5, 1.0))
    qtbot.waitUntil(lambda: sum(isinstance(r, ReachedOut) for r in reports) == 2, timeout=5000)

    first = [f.index for f in frames if f.token == 1]
    second = [f.index for f in frames if f.token == 2]
    assert first == list(range(0, 15))
    assert second == list(range(15, 30))  # in-point 0.5 s is frame 15, then every frame
    # The pixels agree with the player: each painted picture carries its own frame.
    assert next(c for t, c in codes if t == 2) == (2, 15)
    assert all(code == (1 if t == 1 else 2, f.index) for (t, code), f in zip(codes, frames,
                                                                          strict=True))
    kinds = [(type(r).__name__, r.token) for r in reports]
    assert kinds == [("Presented", 1), ("MarkShown", 1), ("ReachedOut", 1),
                     ("Presented", 2), ("ReachedOut", 2)]
    mark = next(r for r in reports if isinstance(r, MarkShown))
    mark_frame = next(f for f in frames if f.token == 1 and f.index == 6)  # 0.2 s = frame 6
    assert mark.t_ns == mark_frame.t_ns
    presented = [r for r in reports if isinstance(r, Presented)]
    assert presented[1].t_ns == next(f.t_ns for f in frames if f.token == 2)


def test_waiting_in_a_loop_replays_the_loop_span_and_never_goes_black(
        qtbot, decoded, surface, clips):
    frames: list[FrameShown] = []
    decoded.on_frame = frames.append
    decoded.play(request(1, clips[1], 0.0, 0.4, waiting="loop", loop_s=(0.1, 0.3)))
    decoded.preload([])
    qtbot.waitUntil(lambda: sum(f.phase == "loop" for f in frames) >= 14, timeout=5000)
    segment = [f.index for f in frames if f.phase == "segment"]
    looped = [f.index for f in frames if f.phase == "loop"][:12]
    assert segment == list(range(0, 12))
    assert looped == [3, 4, 5, 6, 7, 8, 3, 4, 5, 6, 7, 8]
    assert surface.current_image() is not None


def test_pause_freezes_the_picture_and_resume_goes_on_from_the_next_frame(
        qtbot, decoded, clips):
    frames: list[FrameShown] = []
    decoded.on_frame = frames.append
    decoded.play(request(1, clips[1], 0.0, 1.0))
    qtbot.waitUntil(lambda: len(frames) >= 5, timeout=5000)
    decoded.pause()
    frozen = len(frames)
    qtbot.wait(200)
    assert len(frames) == frozen
    decoded.resume()
    qtbot.waitUntil(lambda: len(frames) == 30, timeout=5000)
    assert [f.index for f in frames] == list(range(30))


def test_a_corrupt_clip_is_reported_and_the_segment_keeps_its_timing(
        qtbot, decoded, surface, clips, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    reports = collect(decoded)
    decoded.play(request(1, clips[1], 0.0, 0.2))
    qtbot.waitUntil(lambda: any(isinstance(r, ReachedOut) for r in reports), timeout=5000)
    decoded.play(request(2, str(broken), 0.0, 0.3, marks=(0.1,)))
    qtbot.waitUntil(lambda: sum(isinstance(r, ReachedOut) for r in reports) == 2, timeout=5000)
    after = [r for r in reports if r.token == 2]
    assert isinstance(after[0], PlaybackFailed) and "broken.mp4" in after[0].detail
    assert [type(r) for r in after[1:]] == [Presented, MarkShown, ReachedOut]
    # The last good picture stays up: never black.
    assert shown_code(surface.current_image()) == (1, 5)


def test_timing_modes_say_how_stamps_relate_to_light(surface):
    clock = MonotonicClock()
    modes = []
    for virtual, lag in ((True, None), (False, None), (False, 21.5)):
        player = DecodedPlayer(surface, clock, virtual_display=virtual, display_lag_ms=lag)
        modes.append((player.timing_mode, player.display_lag_ms))
        player.shutdown()
    assert modes == [("frame_exact_paint", None), ("frame_exact_uncalibrated", None),
                     ("frame_exact", 21.5)]


# -- the libvlc backend ------------------------------------------------------------------------


@pytest.fixture
def vlc_player(surface):
    from simulator.playback.vlc_player import VlcPlayer

    player = VlcPlayer(surface, MonotonicClock(), audio=False, virtual_display=True)
    yield player
    player.shutdown()


def test_vlc_cut_to_a_prerolled_target_shows_its_in_point_picture_and_never_black(
        qtbot, vlc_player, surface, clips):
    reports = collect(vlc_player)
    vlc_player.play(request(1, clips[1], 0.0, 0.5, marks=(0.2,)))
    vlc_player.preload([request(0, clips[2], 0.5, 1.0)])
    assert vlc_player.wait_parked(10)
    qtbot.waitUntil(lambda: any(isinstance(r, ReachedOut) for r in reports), timeout=10000)
    assert shown_code(surface.current_image())[0] == 1
    vlc_player.play(request(2, clips[2], 0.5, 1.0))
    # The pre-rolled first picture is painted within play(), before VLC runs on, and it is
    # the in-point frame (VLC's own first picture is often the one before it).
    assert shown_code(surface.current_image()) == (2, 15)
    qtbot.waitUntil(lambda: sum(isinstance(r, ReachedOut) for r in reports) == 2, timeout=10000)
    kinds = [(type(r).__name__, r.token) for r in reports]
    assert kinds == [("Presented", 1), ("MarkShown", 1), ("ReachedOut", 1),
                     ("Presented", 2), ("ReachedOut", 2)]
    # VLC stops at its own pace: on the out-point frame (29) or a frame or two past it.
    code = shown_code(surface.current_image())
    assert code is not None and code[0] == 2 and 29 <= code[1] <= 32
    assert vlc_player.timing_mode == "estimated"


def test_any_screen_width_paints_and_reads_back_the_exact_frame(qtbot, surface, clips):
    # FFmpeg pads rows for widths that are not a multiple of 32 (1366 x 768 laptops).
    surface.resize(1366, 768)
    player = DecodedPlayer(surface, MonotonicClock(), virtual_display=True)
    frames: list[FrameShown] = []
    codes: list[tuple[int, int] | None] = []
    player.on_frame = lambda f: (frames.append(f), codes.append(shown_code(
        surface.current_image())))
    try:
        player.play(request(1, clips[3], 0.0, 0.3))
        qtbot.waitUntil(lambda: len(frames) == 9, timeout=5000)
    finally:
        player.shutdown()
    assert surface.current_image().width() % 32 != 0
    assert codes == [(3, i) for i in range(9)]


def test_a_loop_with_no_frame_in_it_holds_instead_of_reopening(qtbot, decoded, surface, clips):
    frames: list[FrameShown] = []
    decoded.on_frame = frames.append
    reports = collect(decoded)
    # The clip has 1.5 s; this loop lies past its end.
    decoded.play(request(1, clips[1], 0.0, 0.2, waiting="loop", loop_s=(2.0, 2.5)))
    qtbot.waitUntil(lambda: any(isinstance(r, ReachedOut) for r in reports), timeout=5000)
    qtbot.wait(300)
    assert [f.index for f in frames] == list(range(6))
    assert shown_code(surface.current_image()) == (1, 5)
    assert decoded.holding  # nothing scheduled: not reopening the empty loop again and again


def test_vlc_keeps_reporting_on_the_clock_when_a_clip_cannot_play(qtbot, vlc_player, tmp_path):
    reports = collect(vlc_player)
    vlc_player.play(request(1, str(tmp_path / "gone.mp4"), 0.0, 0.3, marks=(0.1,)))
    qtbot.waitUntil(lambda: any(isinstance(r, ReachedOut) for r in reports), timeout=5000)
    assert [type(r) for r in reports] == [PlaybackFailed, Presented, MarkShown, ReachedOut]
    presented, mark, out = reports[1:]
    assert mark.t_ns - presented.t_ns == 100_000_000
    assert out.t_ns - presented.t_ns == 300_000_000


def test_the_frame_exact_player_keeps_each_frame_it_presents_with_its_stamp(
        qtbot, decoded, clips):
    frames: list[FrameShown] = []
    decoded.on_frame = frames.append
    decoded.play(request(1, clips[1], 0.0, 0.3))
    qtbot.waitUntil(lambda: decoded.holding, timeout=5000)
    decoded.play(request(2, clips[2], 0.5, 0.7))
    qtbot.waitUntil(lambda: len(frames) == 15, timeout=5000)
    history = decoded.frames
    assert len(history) == len(frames) == 15
    # Each frame with its time in its clip: frame n of a 30 fps clip is n / 30 s in.
    assert [history.frame_at(f.t_ns) for f in frames] == [
        PresentedFrame(f.token, f.index, f.t_ns, pytest.approx(f.index / FPS))
        for f in frames]
    assert history.frame_at(frames[0].t_ns - 1) is None
    # Between two paints the earlier frame is the one on screen.
    cut = next(i for i, f in enumerate(frames) if f.token == 2)
    assert history.frame_at(frames[cut].t_ns - 1) == PresentedFrame(
        1, 8, frames[cut - 1].t_ns, pytest.approx(8 / FPS))


class _UndrawnSurface(VideoSurface):
    """A presenter whose window the system does not draw (minimised): no swap ever comes."""

    def swap_pending(self) -> bool:
        return self.has_picture()


def test_frames_no_swap_shows_are_stamped_at_hand_over_and_the_run_goes_on(qtbot, clips):
    surface = _UndrawnSurface()
    surface.resize(320, 180)
    qtbot.addWidget(surface)
    surface.show()
    player = DecodedPlayer(surface, MonotonicClock(), virtual_display=True)
    frames: list[FrameShown] = []
    player.on_frame = frames.append
    reports = collect(player)
    player.play(request(1, clips[1], 0.0, 0.4, marks=(0.2,)))
    qtbot.waitUntil(lambda: any(isinstance(r, ReachedOut) for r in reports), timeout=5000)
    player.shutdown()
    # Every frame reached the record, in order, with its cue; none waited for ever, and
    # none is called unseen for want of a swap: once none came, each is stamped as handed.
    assert [f.index for f in frames] == list(range(0, 12))
    assert [type(r).__name__ for r in reports] == ["Presented", "MarkShown", "ReachedOut"]
    assert player.swaps_missed == 1 and player.frames_never_shown == 0
    assert all(f.on_screen for f in frames)
    assert len({f.t_ns for f in frames}) == len(frames)  # one stamp each, not in batches
