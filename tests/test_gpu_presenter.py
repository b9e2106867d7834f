"""The GPU presenter under a real X server's OpenGL (Xvfb with Mesa's software renderer).

Offscreen Qt has no OpenGL, so the test starts its own Xvfb and runs this file as a child
on it: the frame-exact player plays barcoded clips through the OpenGL surface, and after
each frame the child reads the window back from the X server, what was swapped to the
screen, and its barcode. Real vsync timing needs a real display (docs/projector.md).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from xvfb import xvfb

from simulator.playback.screen_player import timing_mode_for

pytestmark = [pytest.mark.gui, pytest.mark.slow]

FPS = 30
SIZE = (640, 360)


def _colour_cases() -> list[dict[str, object]]:
    """RGB colours turned to Y'CbCr by the standards' own equations, to turn back on the GPU."""
    cases = []
    weights = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}
    for matrix, full in [(m, f) for m in weights for f in (False, True)]:
        kr, kb = weights[matrix]
        for rgb in ((200, 60, 30), (20, 120, 220), (240, 240, 240), (16, 16, 16)):
            r, g, b = (c / 255 for c in rgb)
            y = kr * r + (1 - kr - kb) * g + kb * b
            cb, cr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
            levels = ((y * 255, cb * 255 + 128, cr * 255 + 128) if full
                      else (16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr))
            cases.append({"rgb": rgb, "yuv": [round(v) for v in levels], "matrix": matrix,
                          "full": full})
    return cases


def _child(folder: Path) -> None:
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QGuiApplication, QPainter
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from simulator.playback.barcode import read_barcode
    from simulator.playback.decode import YuvPicture
    from simulator.playback.decoded_player import DecodedPlayer, FrameShown
    from simulator.playback.gl_picture import check_gpu, use_gpu
    from simulator.playback.surface import VideoSurface, rgb_of
    from simulator.ports import PlayRequest, ReachedOut
    from simulator.runtime import MonotonicClock

    surface = VideoSurface(gpu=True)
    surface.resize(*SIZE)
    surface.show()
    gl = surface.gl_picture
    assert gl is not None
    for _ in range(50):  # mapped and the OpenGL context up
        app.processEvents()

    def on_screen() -> np.ndarray:
        shot = QGuiApplication.primaryScreen().grabWindow(surface.winId()).toImage()
        return np.ascontiguousarray(rgb_of(shot))

    def settle() -> None:
        while surface.swap_pending():
            app.processEvents()

    clock = MonotonicClock()
    player = DecodedPlayer(surface, clock, virtual_display=True)
    shown: list[dict[str, object]] = []

    def on_frame(frame: FrameShown) -> None:
        # Called as the swap that showed it is announced: the screen holds it now.
        shown.append({"token": frame.token, "index": frame.index, "t_ns": frame.t_ns,
                      "on_screen": frame.on_screen, "swaps": gl.swaps,
                      "pending": surface.swap_pending(), "code": read_barcode(on_screen())})

    player.on_frame = on_frame
    reports: list[object] = []
    player.reports_ready.connect(lambda: reports.extend(player.poll()))

    def ended(count: int) -> bool:
        return sum(isinstance(r, ReachedOut) for r in reports) >= count

    def run_until(done: object, seconds: float = 30) -> None:
        deadline = clock.now_ns() + seconds * 1e9
        while not done() and clock.now_ns() < deadline:  # type: ignore[operator]
            app.processEvents()

    clips = [str(folder / f"clip{n}.mp4") for n in (1, 2)]
    player.play(PlayRequest(1, "s1", "c", clips[0], 0.0, 0.5))
    player.preload([PlayRequest(0, "s2", "c", clips[1], 0.5, 1.0)])
    run_until(lambda: player.wait_parked(0.01) and ended(1))
    player.play(PlayRequest(2, "s2", "c", clips[1], 0.5, 1.0))
    run_until(lambda: ended(2))
    timing_mode = player.timing_mode
    never_shown = player.frames_never_shown
    player.shutdown()

    # Colours: each case alone on screen, converted by the shader, read back from X.
    colours = []
    for case in _colour_cases():
        y, u, v = case["yuv"]  # type: ignore[misc]
        picture = YuvPicture(np.full((36, 64), y, np.uint8), np.full((18, 32), u, np.uint8),
                             np.full((18, 32), v, np.uint8), matrix=case["matrix"],
                             full_range=bool(case["full"]))
        surface.show_picture(picture)
        settle()
        centre = on_screen()[SIZE[1] // 2, SIZE[0] // 2]
        colours.append({**case, "shown": [int(c) for c in centre]})

    # Overlays draw over the GL picture, as the low light and the trainee's inset do.
    def red_box(painter: QPainter, target: QRect) -> None:
        painter.fillRect(target.x() + 10, target.y() + 10, 20, 20, QColor(255, 0, 0))

    surface.overlays.append(red_box)
    surface.refresh()
    swaps = gl.swaps
    while gl.swaps == swaps:
        app.processEvents()
    overlay = [int(c) for c in on_screen()[20, 20]]
    surface.overlays.clear()
    surface.clear()
    while gl.swaps == swaps + 1:
        app.processEvents()
    black = int(on_screen().max())

    print(json.dumps({"frames": shown, "timing_mode": timing_mode, "never_shown": never_shown,
                      "presenter": surface.presenter, "yuv": surface.takes_yuv,
                      "auto": use_gpu("auto"), "forced": use_gpu("gpu"),
                      "renderer": check_gpu().renderer, "colours": colours,
                      "overlay": overlay, "black_after_clear": black}))


@pytest.fixture(scope="module")
def child_result(tmp_path_factory) -> dict:
    from simulator.playback.barcode import write_barcode_clip

    folder = tmp_path_factory.mktemp("gpu")
    for number in (1, 2):
        write_barcode_clip(folder / f"clip{number}.mp4", clip_number=number, frames=FPS,
                           fps=FPS, width=SIZE[0], height=SIZE[1])
    with xvfb("1280x720x24") as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
               "PULSE_SERVER": "unix:/nonexistent"}
        done = subprocess.run([sys.executable, __file__, str(folder)], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_each_frame_swapped_to_the_screen_is_the_one_the_player_stamped(child_result):
    frames = child_result["frames"]
    first = [f for f in frames if f["token"] == 1]
    second = [f for f in frames if f["token"] == 2]
    assert [f["index"] for f in first] == list(range(0, 15))
    assert [f["index"] for f in second] == list(range(15, 30))  # the cut's in-point first
    seen = [f for f in frames if f["on_screen"]]
    # Mesa's software renderer may let a frame be replaced before a swap shows it; the
    # player then says so, rather than stamp a picture that never reached the screen.
    assert len(frames) - len(seen) == child_result["never_shown"] < len(frames) // 3
    assert seen[0]["index"] == 0 and seen[-1]["index"] == 29
    assert second[0]["on_screen"] and second[0]["code"] == [2, 15]  # no cut lands unseen
    # Read back from the X server as each swap is announced: the screen holds that frame.
    assert [f["code"] for f in seen] == [[f["token"], f["index"]] for f in seen]
    # Stamped at the swap: each frame seen comes with a swap of its own, none pending.
    swaps = [f["swaps"] for f in seen]
    assert all(later > earlier for earlier, later in itertools.pairwise(swaps))
    assert not any(f["pending"] for f in frames)
    assert [f["t_ns"] for f in frames] == sorted(f["t_ns"] for f in frames)


def test_the_run_records_the_gpu_presenter_and_its_stamps(child_result):
    assert child_result["presenter"] == "gpu" and child_result["yuv"] is True
    assert child_result["timing_mode"] == "frame_exact_swap"  # a virtual screen: no vsync
    # Mesa's llvmpipe draws on the CPU: `auto` keeps the CPU painter, `gpu` forces it.
    assert "llvmpipe" in child_result["renderer"]
    assert child_result["auto"] is False and child_result["forced"] is True


def test_the_shader_turns_bt709_601_and_2020_limited_and_full_range_into_the_right_colours(
        child_result):
    assert len(child_result["colours"]) == 24
    for case in child_result["colours"]:
        assert all(abs(shown - wanted) <= 3 for shown, wanted in zip(
            case["shown"], case["rgb"], strict=True)), case


def test_overlays_draw_over_the_gpu_picture_and_clear_leaves_black(child_result):
    assert child_result["overlay"] == [255, 0, 0]
    assert child_result["black_after_clear"] == 0


def test_timing_modes_say_what_a_stamp_times():
    modes = {(presenter, virtual, lag): timing_mode_for(
        frame_exact=True, virtual_display=virtual, display_lag_ms=lag, presenter=presenter)
        for presenter in ("gpu", "cpu") for virtual in (True, False) for lag in (None, 12.0)}
    assert modes[("gpu", False, 12.0)] == "frame_exact_vsync"
    assert modes[("gpu", False, None)] == "frame_exact_vsync_uncalibrated"
    assert modes[("gpu", True, None)] == modes[("gpu", True, 12.0)] == "frame_exact_swap"
    assert modes[("cpu", False, 12.0)] == "frame_exact"
    assert modes[("cpu", True, None)] == "frame_exact_paint"
    assert timing_mode_for(frame_exact=False, virtual_display=False, display_lag_ms=None,
                           presenter="gpu") == "estimated"
    assert max(len(mode) for mode in modes.values()) <= 32  # the record's column


def test_offscreen_has_no_opengl_so_auto_paints_on_the_cpu_and_gpu_says_why(qapp):
    from simulator.playback.gl_picture import GpuUnavailable, check_gpu, use_gpu
    from simulator.projector.settings import ProjectorSettings
    from simulator.projector.window import ProjectorWindow
    from simulator.runtime import MonotonicClock

    assert not check_gpu().usable and use_gpu("auto") is False and use_gpu("cpu") is False
    with pytest.raises(GpuUnavailable, match="presenter: gpu, but no OpenGL on the offscreen "
                                             "platform; set `presenter: auto` or `cpu`"):
        use_gpu("gpu")
    window = ProjectorWindow(MonotonicClock(), ProjectorSettings(), list)
    assert window.surface.presenter == "cpu" and not window.surface.takes_yuv
    window.close()



def test_projector_devices_says_where_pictures_are_decoded_and_presented(qapp):
    from typer.testing import CliRunner

    from simulator.cli.app import app

    result = CliRunner().invoke(app, ["projector", "devices"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("video (decoding: auto): ")
    assert lines[1] == ("picture (presenter: auto): presenting with the CPU painter: no "
                        "OpenGL on the offscreen platform")


def test_presenter_gpu_on_a_pc_without_opengl_is_refused_plainly(qapp, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from simulator.cli.app import app

    monkeypatch.setenv("BRANCHPOINT_DATA", str(tmp_path))
    (tmp_path / "projector.yaml").write_text("schema_version: 1\npresenter: gpu\n")
    result = CliRunner().invoke(app, ["projector", "test-pattern", "--seconds", "1"],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "presenter: gpu, but no OpenGL on the offscreen platform" in result.output


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
