"""An instructor's key never becomes a trainee's response, under a real X server.

Offscreen Qt has no window manager and no real keyboard focus, so these tests start their
own Xvfb (with Openbox, and with no window manager at all), run the console in a child
process on it, press a real key with xdotool right after Start, and read the record.
Run as a script, this file is that child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from xvfb import missing, skip_unless_ci, xvfb

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ROOM = textwrap.dedent(
    """
    schema_version: 1
    id: porch
    title: Porch
    focus_areas: [de_escalation]
    pledge_areas: [use_of_force]
    people:
      - {id: man, role: subject}
    variants:
      - id: a
        people: {man: {race: white, gender: man, age_band: age_35_44, language: en,
                       disability: none_visible}}
        clips: {one: one.mp4}
    start: porch
    segments:
      - id: porch
        clip: one
        in: 0
        out: 0.8
        decision:
          window: 30
          default: calm
          branches:
            - {id: calm, label: Calms, hotkey: "1", kind: de_escalate, to: calm}
            - {id: shout, label: Shouts, hotkey: "2", kind: escalate, to: shout}
      - id: calm
        clip: one
        in: 0.8
        out: 1.2
        outcome: {kind: resolved_peacefully}
      - id: shout
        clip: one
        in: 0.8
        out: 1.2
        outcome: {kind: force_used}
    """
)

SCREEN = "1600x900x24"


@pytest.fixture
def x_server() -> Iterator[str]:
    """A fresh Xvfb; yields its DISPLAY."""
    with xvfb(SCREEN, "xdotool") as display:
        yield display


def _window_manager(display: str, folder: Path) -> subprocess.Popen[bytes]:
    if missing("openbox"):
        skip_unless_ci("openbox not installed (Debian: openbox; scripts/bootstrap.sh --dev "
                        "installs it)")
    ready = folder / "wm-ready"
    wm = subprocess.Popen(["openbox", "--sm-disable", "--startup", f"touch {ready}"],
                          env={**os.environ, "DISPLAY": display},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not ready.exists():
        assert wm.poll() is None and time.monotonic() < deadline, "openbox did not start"
        time.sleep(0.05)
    return wm


def _run_child(display: str, folder: Path, choice: str) -> dict[str, object]:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "PULSE_SERVER": "unix:/nonexistent"}
    done = subprocess.run([sys.executable, __file__, str(folder), choice], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("manager", ["openbox", "none"])
@pytest.mark.parametrize("choice", ["as-set-up", "on-top"])
def test_a_key_pressed_right_after_start_goes_to_the_console_never_to_the_trainee(
        x_server, tmp_path, manager, choice):
    # One screen, as Xvfb has: set up as it comes (the projector in a window), or with
    # the projector full screen and the console kept on top of it.
    wm = _window_manager(x_server, tmp_path) if manager == "openbox" else None
    try:
        seen = _run_child(x_server, tmp_path, choice)
    finally:
        if wm is not None:
            wm.terminate()
            wm.wait(10)
    # The trainee's click on the projector is theirs; the instructor's 1 took the branch.
    assert seen["trainee_inputs"] == [["pointer", "click", None]], seen
    assert seen["branches"] == ["calm"], seen
    assert seen["focus"] == "Branchpoint console", seen
    assert seen["projector_active"] is False, seen


def child(folder: Path, choice: str) -> dict[str, object]:
    """Open the console on this display, start a run, press 1 at once, say what happened."""
    from PySide6.QtCore import QCoreApplication, QPoint
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from instructor_console.console_window import ConsoleWindow
    from simulator.agency import default_profile
    from simulator.playback.barcode import write_barcode_clip
    from simulator.projector.host import ProjectorHost
    from simulator.projector.settings import ProjectorSettings
    from simulator.record import Record
    from simulator.review.rubric import bundled_rubric, load_rubric
    from simulator.runtime import MonotonicClock

    app = QApplication([sys.argv[0]])
    scenario = folder / "library" / "porch"
    scenario.mkdir(parents=True)
    (scenario / "scenario.yaml").write_text(ROOM, encoding="utf-8")
    write_barcode_clip(scenario / "one.mp4", clip_number=1, frames=45, width=320, height=180)
    record = Record.open(f"sqlite:///{folder / 'record.sqlite3'}")
    clock = MonotonicClock()
    host = ProjectorHost(record, folder / "library", default_profile(),
                         ProjectorSettings(audio=False), clock)
    console = ConsoleWindow(host, default_profile(), clock, load_rubric(bundled_rubric()))
    console.resize(1000, 700)
    console.show()
    console.setup.load_catalog()

    def settle(seconds: float, until: object = None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (callable(until) and until()):
            QCoreApplication.processEvents()
            time.sleep(0.01)

    # The instructor clicks into the console before setting up (no WM gives it focus).
    settle(5, lambda: console.windowHandle() is not None and console.windowHandle().isExposed())
    console.activateWindow()
    settle(5, lambda: QGuiApplication.focusWindow() is console.windowHandle())
    if choice != "as-set-up":
        console.one_screen.choose(choice)
    console.setup.new_trainee.setText("Officer Diaz")
    console.setup.new_trainee.returnPressed.emit()
    assert console.setup.run_preflight(), console.setup.checks.text()
    console.setup.request_start()
    live = console.live
    assert live is not None, console.setup.checks.text()
    settle(5, lambda: live.state.offer is not None)
    projector = host.projector_surface().window()
    # A corner of the projector that the console does not cover.
    spot = projector.frameGeometry().bottomRight() - QPoint(20, 20)
    assert not console.frameGeometry().contains(spot)
    subprocess.run(["xdotool", "mousemove", str(spot.x()), str(spot.y()), "click", "1"],
                   check=True)
    subprocess.run(["xdotool", "key", "1"], check=True)
    settle(5, lambda: live.state.ended)
    settle(0.3)
    focus = QGuiApplication.focusWindow()
    events = record.runs.events(live.state.run_id or "")
    seen: dict[str, object] = {
        "trainee_inputs": [[getattr(e, name, None) for name in ("device", "kind", "key")]
                           for e in events if e.type == "trainee_input"],
        "branches": [getattr(e, "branch_id", None) for e in events if e.type == "branch_chosen"],
        "focus": focus.title() if focus is not None else None,
        "projector_active": projector.isActiveWindow(),
    }
    console.close()
    app.processEvents()
    record.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(child(Path(sys.argv[1]), sys.argv[2])))
