"""The input port: the history of presented frames, and input matched to it at its stamp."""

from __future__ import annotations

import threading

import pytest

from simulator.headless.player import HeadlessPlayer
from simulator.inputs import DeviceInput, FrameHistory, InputPort, PresentedFrame
from simulator.ports import PlayRequest
from simulator.runtime import ManualClock


def history_of(*stamps: int, capacity: int = 8) -> FrameHistory:
    """Frames 0, 1, 2... of play 1 presented at ``stamps``."""
    history = FrameHistory(capacity)
    for index, t_ns in enumerate(stamps):
        history.presented(1, index, t_ns)
    return history


def test_before_any_frame_nothing_was_on_screen():
    assert FrameHistory().frame_at(10**12) is None
    assert history_of(100, 200).frame_at(99) is None


def test_the_frame_on_screen_is_the_last_presented_at_or_before_the_moment():
    history = history_of(100, 200, 300)
    assert history.frame_at(100) == PresentedFrame(1, 0, 100)
    assert history.frame_at(199) == PresentedFrame(1, 0, 100)
    assert history.frame_at(200) == PresentedFrame(1, 1, 200)
    assert history.frame_at(301) == PresentedFrame(1, 2, 300)
    # A held picture stays on screen until the next one, however long that is.
    assert history.frame_at(10**15) == PresentedFrame(1, 2, 300)


def test_of_two_frames_with_one_stamp_the_later_is_on_screen():
    history = FrameHistory()
    history.presented(1, 14, 500)
    history.presented(2, 15, 500)
    assert history.frame_at(500) == PresentedFrame(2, 15, 500)


def test_memory_is_bounded_and_the_oldest_frames_go_first():
    history = history_of(*range(100, 2100, 100), capacity=8)  # 20 frames, 8 kept
    assert len(history) == 8
    # Frames 12-19 are kept (stamped 1300-2000): before them, what was on screen is unknown.
    assert history.frame_at(1299) is None
    assert history.frame_at(1300) == PresentedFrame(1, 12, 1300)
    assert history.frame_at(1750) == PresentedFrame(1, 16, 1700)
    assert history.frame_at(2000) == PresentedFrame(1, 19, 2000)
    assert [history.frame_at(t) for t in range(1300, 2100, 100)] == [
        PresentedFrame(1, index, 100 * (index + 1)) for index in range(12, 20)]


def test_a_stamp_that_goes_back_forgets_the_frames_stamped_after_it():
    history = history_of(100, 200, 300)
    history.presented(2, 0, 150)
    assert len(history) == 2
    assert history.frame_at(400) == PresentedFrame(2, 0, 150)
    assert history.frame_at(120) == PresentedFrame(1, 0, 100)


def test_a_history_keeps_at_least_one_frame():
    with pytest.raises(ValueError, match="at least one frame"):
        FrameHistory(0)
    history = history_of(100, 200, capacity=1)
    assert (history.frame_at(150), history.frame_at(200)) == (None, PresentedFrame(1, 1, 200))


def test_lookups_from_another_thread_see_a_consistent_history():
    history = FrameHistory(64)
    seen: list[PresentedFrame | None] = []
    done = threading.Event()

    def look() -> None:
        while not done.is_set():
            seen.append(history.frame_at(10**9))

    reader = threading.Thread(target=look)
    reader.start()
    for index in range(20_000):
        history.presented(1, index, index)
    done.set()
    reader.join()
    # Whatever the reader caught was the newest frame at that moment, never a torn one.
    found = [frame for frame in seen if frame is not None]
    assert all(frame.t_ns == frame.index for frame in found)
    assert [f.index for f in found] == sorted(f.index for f in found)


def test_the_port_names_the_trainee_holding_the_device_and_the_frame_at_the_stamp():
    port = InputPort({"pointer": 1, "cew-2": 2}, lambda: ["t1", "t2"])
    shot = DeviceInput("cew-2", "tool", 250, x=0.25, y=0.75, key="F12", action="cew")
    # Between runs there is no player, so no frame.
    assert port.command(shot).frame_token is None
    port.frames = history_of(100, 200, 300)
    command = port.command(shot)
    assert (command.device, command.kind, command.input_ns, command.key, command.action) == (
        "cew-2", "tool", 250, "F12", "cew")
    assert (command.x, command.y, command.trainee_id) == (0.25, 0.75, "t2")
    assert (command.frame_token, command.frame_index) == (1, 1)
    # A device nobody holds, or held by a trainee this run does not have, is nobody's.
    assert port.command(DeviceInput("laser-9", "shot", 250)).trainee_id is None
    assert InputPort({"cew-2": 2}, lambda: ["t1"]).command(shot).trainee_id is None


def test_input_reported_after_the_next_segment_is_on_screen_keeps_the_frame_seen():
    # The trainee fires while the first segment is on screen; the report reaches the run
    # only after the cut to the next one (a camera still analysing, a busy GUI thread).
    clock = ManualClock()
    player = HeadlessPlayer(clock)
    port = InputPort({"trigger": 1}, lambda: ["t1"])
    port.frames = player.frames
    player.play(PlayRequest(1, "approach", "one", None, 0.0, 2.0))
    player.poll()
    clock.advance(0.5)
    fired = DeviceInput("trigger", "shot", clock.now_ns(), action="firearm")
    clock.advance(0.2)
    player.play(PlayRequest(2, "knife", "two", None, 0.0, 2.0))
    player.poll()
    clock.advance(0.05)
    command = port.command(fired)
    assert (command.frame_token, command.trainee_id) == (1, "t1")
    later = port.command(DeviceInput("trigger", "shot", clock.now_ns()))
    assert later.frame_token == 2
