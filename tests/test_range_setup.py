"""Setting up the range from the console: camera, calibration, weapons, triggers, the window."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from test_console_session import open_console

from instructor_console import jobs
from instructor_console.range_setup_window import OPENING, SPOT_COLOURS, RangeSetupWindow
from simulator.access import AccessDenied, Accounts, Role
from simulator.agency import default_profile
from simulator.devices import camera as camera_module
from simulator.devices.calibration import Calibration, CalibrationError, load_calibration
from simulator.devices.calibration import calibrate as real_calibrate
from simulator.devices.camera import CameraError
from simulator.devices.settings import CameraSettings, SerialTriggerSettings, WeaponSettings
from simulator.devices.synthetic_camera import SyntheticCamera, TrueShot
from simulator.devices.triggers import HidDeviceInfo, HidHandle
from simulator.projector.console_server import ConsoleServer
from simulator.projector.settings import ProjectorSettings, load_settings, save_settings
from simulator.record import Record
from simulator.runtime.clock import MonotonicClock
from simulator.training.gate import Gate
from simulator.training.range_setup import RangeSettings, RangeSetup, RangeSetupError
from simulator.transport import PairingCode

pytestmark = pytest.mark.gui

PASSWORD = "correct horse battery staple"
PICTURE = (1280, 720)
HOSTILE = "<b>Trigger</b><img src=x onerror=alert(1)>"


class Projector:
    """The projector as the set-up sees it: a scene, or the pattern when it is shown."""

    def __init__(self) -> None:
        self.scene = np.full((PICTURE[1], PICTURE[0], 3), 90, dtype=np.uint8)
        self.pattern: np.ndarray | None = None
        self.shown: list[bool] = []

    def show(self, picture: np.ndarray | None) -> None:
        self.pattern = picture
        self.shown.append(picture is not None)

    def picture(self, _t_ns: int) -> np.ndarray:
        return self.pattern if self.pattern is not None else self.scene


class FakeHid:
    """A HID backend with one device whose maker wrote markup into its product name."""

    def enumerate(self) -> list[HidDeviceInfo]:
        return [HidDeviceInfo(vendor_id=0x1234, product_id=0xABCD, serial_number=None,
                              product=HOSTILE, manufacturer="", path=b"1")]

    def open(self, vendor_id: int, product_id: int, serial_number: str | None) -> HidHandle:
        raise OSError("not in this test")


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield record
    record.close()


@pytest.fixture(autouse=True)
def no_camera_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Probing this machine's camera numbers is slow and finds nothing here.
    monkeypatch.setattr("simulator.training.range_setup.list_cameras", lambda **_kw: [])


def range_setup(record: Record, tmp_path: Path, projector: Projector, *,
                gate: Gate | None = None, devices: RangeSettings | None = None,
                saved: list[RangeSettings] | None = None,
                laser_at: tuple[float, float] | None = None,
                picture_size: Callable[[], tuple[int, int]] = lambda: PICTURE,
                opening: Callable[[], object] = lambda: None,
                display_lag_ms: float | None = None,
                clock: MonotonicClock | None = None) -> RangeSetup:
    """A set-up over a synthetic camera that sees ``projector``'s picture, and a red laser
    held at ``laser_at`` (picture fractions) if given. ``opening`` is called as the camera
    opens (to wait, or to fail, as a real one may)."""
    clock = clock or MonotonicClock()
    shots: list[TrueShot] = []
    if laser_at is not None:
        start = clock.now_ns()
        shots = [TrueShot(start + k * 50_000_000, *laser_at, colour="red", pulse="11")
                 for k in range(1200)]

    def camera(_settings: CameraSettings) -> SyntheticCamera:
        opening()
        return SyntheticCamera(projector.picture, size=(960, 540), fps=30, tilt_deg=12,
                               clock=clock, shots=shots)

    out = saved if saved is not None else []
    return RangeSetup(gate or Gate(record, None, "console"), devices or RangeSettings(),
                      out.append, calibration_path=tmp_path / "camera_calibration.yaml",
                      open_camera=camera, show_pattern=projector.show,
                      picture_size=picture_size, profile=default_profile(), clock=clock,
                      hid=FakeHid(), display_lag_ms=display_lag_ms)


def test_calibrating_shows_the_pattern_measures_it_keeps_it_and_checks_it(
        record: Record, tmp_path: Path) -> None:
    projector = Projector()
    setup = range_setup(record, tmp_path, projector)
    try:
        calibration = setup.calibrate()
        # The pattern went up, and came down again.
        assert projector.shown == [True, False]
        assert calibration.residual < 0.002
        stored = load_calibration(tmp_path / "camera_calibration.yaml")
        assert stored is not None and stored.residual == pytest.approx(calibration.residual)
        assert setup.check().within(setup.camera.tolerance)
        assert setup.view is None  # opened for the measurement only, and let go
    finally:
        setup.close_view()


def test_a_camera_that_does_not_see_the_pattern_is_refused_with_the_reason(
        record: Record, tmp_path: Path) -> None:
    projector = Projector()
    projector.show = lambda picture: projector.shown.append(picture is not None)  # type: ignore[method-assign]
    setup = range_setup(record, tmp_path, projector)
    with pytest.raises(RangeSetupError, match="did not find the calibration pattern"):
        setup.calibrate(timeout_s=1.0)
    assert projector.shown == [True, False]
    assert setup.calibration is None
    assert not (tmp_path / "camera_calibration.yaml").exists()
    with pytest.raises(RangeSetupError, match="not calibrated yet"):
        setup.check()


def test_an_account_that_may_not_run_a_class_may_not_set_up_the_range(
        record: Record, tmp_path: Path) -> None:
    accounts = Accounts(record)
    accounts.add("admin", Role.administrator, PASSWORD)
    accounts.add("trainer", Role.instructor, PASSWORD, display_name="Sgt Trainer")
    admin = accounts.get("admin")
    with pytest.raises(AccessDenied):
        range_setup(record, tmp_path, Projector(), gate=Gate(record, admin, "console"))
    trainer = Gate(record, accounts.get("trainer"), "console")
    setup = range_setup(record, tmp_path, Projector(), gate=trainer)
    trainer.sign_out("test")
    with pytest.raises(Exception, match="sign in"):
        setup.save()


def test_weapons_and_triggers_are_checked_and_saved_into_the_projector_settings(
        record: Record, tmp_path: Path) -> None:
    path = tmp_path / "projector.yaml"
    save_settings(ProjectorSettings(audio=False, devices={"pointer": 1}), path)

    def save(devices: RangeSettings) -> None:
        save_settings(load_settings(path).model_copy(update=devices.as_update()), path)

    setup = RangeSetup(Gate(record, None, "console"), RangeSettings.of(load_settings(path)),
                       save, calibration_path=tmp_path / "cal.yaml",
                       open_camera=lambda _c: pytest.fail("no camera needed"),
                       show_pattern=lambda _p: None, picture_size=lambda: PICTURE,
                       profile=default_profile(), clock=MonotonicClock())
    with pytest.raises(RangeSetupError, match="not a force option"):
        setup.set_weapon("pistol", WeaponSettings(force_option="bazooka"), 1)
    setup.set_weapon("pistol", WeaponSettings(colour="red", force_option="firearm"), 1)
    setup.set_weapon("taser", WeaponSettings(colour="red", force_option="cew"), 2)
    with pytest.raises(RangeSetupError, match="cannot tell them apart"):
        setup.save()
    setup.set_weapon("taser", WeaponSettings(colour="red", pulse="101", force_option="cew"), 2)
    with pytest.raises(RangeSetupError, match="cannot tell them apart"):
        setup.save()  # a pistol without a pattern could fire a pulse that reads as 101
    setup.set_weapon("pistol", WeaponSettings(colour="red", pulse="1", force_option="firearm"),
                     1)
    with pytest.raises(RangeSetupError, match="neither a force option nor a verbal tactic"):
        setup.set_trigger("pedal", SerialTriggerSettings(port="COM3", press="31",
                                                         action="dance"), 1)
    setup.save()
    loaded = load_settings(path)
    assert loaded.audio is False  # the rest of the projector settings are kept
    assert loaded.weapons["taser"] == WeaponSettings(colour="red", pulse="101",
                                                     force_option="cew")
    assert loaded.devices == {"pointer": 1, "pistol": 1, "taser": 2}
    assert RangeSettings.of(loaded) == setup.devices


def test_learning_a_serial_trigger_keeps_what_its_press_sends(
        record: Record, tmp_path: Path) -> None:
    controller, device = os.openpty()
    saved: list[RangeSettings] = []
    setup = range_setup(record, tmp_path, Projector(), saved=saved)
    # Pressed once the port is open and settled, as the dialog asks.
    press = threading.Timer(0.6, os.write, (controller, b"1\r"))
    press.start()
    try:
        trigger = setup.learn_serial("door button", os.ttyname(device), 9600, 2,
                                     action="verbal_direction", timeout_s=5)
    finally:
        press.cancel()
        os.close(controller)
        os.close(device)
    assert trigger.press == "310d"
    setup.save()
    assert saved[-1].triggers["door button"] == trigger
    assert saved[-1].positions["door button"] == 2


def test_the_window_shows_the_camera_its_laser_spots_and_the_calibration(
        qtbot: Any, record: Record, tmp_path: Path) -> None:
    projector = Projector()
    devices = RangeSettings(weapons={HOSTILE: WeaponSettings()}, positions={HOSTILE: 1})
    setup = range_setup(record, tmp_path, projector, devices=devices, laser_at=(0.3, 0.4))
    window = RangeSetupWindow(setup)
    qtbot.addWidget(window)
    window.resize(1280, 760)
    window.show()
    view = window.view
    qtbot.waitUntil(lambda: view.picture is not None and bool(view.picture.spots),
                    timeout=10_000)
    assert "Not calibrated yet" in window.calibration_label.text()

    window.calibrate_button.click()
    qtbot.waitUntil(lambda: "residual" in window.calibration_label.text(), timeout=20_000)
    assert "% of the picture's width" in window.calibration_label.text()
    assert window.camera_status.text() == ""
    assert projector.shown == [True, False]

    qtbot.waitUntil(lambda: view.picture is not None and bool(view.picture.spots),
                    timeout=10_000)
    window.grab().save(str(tmp_path / "range-setup.png"))
    # The spot is circled in its laser's colour.
    assert view.picture is not None
    spot = view.picture.spots[0]
    image = view.grab().toImage()
    centre = view.to_widget(spot.x_px, spot.y_px)
    ring = [QColor(image.pixel(round(centre.x() + dx), round(centre.y() + dy)))
            for dx in range(-30, 31) for dy in range(-30, 31)
            if 8 <= (dx * dx + dy * dy) ** 0.5 <= 30]
    red = SPOT_COLOURS["red"]
    assert any(abs(c.red() - red.red()) + abs(c.green() - red.green())
               + abs(c.blue() - red.blue()) < 40 for c in ring)

    # Names from files and devices are shown as they are, never as markup.
    name = window.weapons.item(0, 0)
    assert name is not None and name.text() == HOSTILE
    qtbot.waitUntil(lambda: window.trigger_device.count() > 0, timeout=5_000)
    assert any(HOSTILE in window.trigger_device.itemText(i)
               for i in range(window.trigger_device.count()))
    assert window.status.textFormat() == Qt.TextFormat.PlainText
    window.close()
    assert setup.view is None


def test_f8_at_the_console_opens_the_range_set_up_and_locking_closes_it(
        qtbot: Any, tmp_path: Path) -> None:
    server = ConsoleServer(MonotonicClock(), PairingCode(), default_profile())
    console = open_console(qtbot, tmp_path, server)
    window, record, _clock = next(console)
    try:
        setup = range_setup(record, tmp_path, Projector())
        window.host.range_setup = lambda: setup  # the projector PC's devices, here fake
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
        QTest.keyClick(window, Qt.Key.Key_F8)
        assert window.range_window is not None and window.range_window.setup is setup
        qtbot.waitUntil(lambda: setup.view is not None, timeout=5_000)
        assert window.open_range_setup() is window.range_window  # F8 again: the same one
        window.lock("Signed out.")
        assert window.range_window is None
        assert setup.view is None  # the camera is let go
    finally:
        console.close()


class LaggingProjector(Projector):
    """A projector whose screen shows a picture ``lag_ms`` after it was asked for."""

    def __init__(self, clock: MonotonicClock, lag_ms: float) -> None:
        super().__init__()
        self._clock = clock
        self._lag_ns = round(lag_ms * 1e6)
        self._on_screen_ns: int | None = None

    def show(self, picture: np.ndarray | None) -> None:
        super().show(picture)
        self._on_screen_ns = self._clock.now_ns() + self._lag_ns if picture is not None \
            else None

    def picture(self, t_ns: int) -> np.ndarray:
        if (self.pattern is not None and self._on_screen_ns is not None
                and t_ns >= self._on_screen_ns):
            return self.pattern
        return self.scene


def test_the_pattern_is_measured_only_once_the_display_lag_has_passed(
        record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = MonotonicClock()
    projector = LaggingProjector(clock, lag_ms=400)
    measured: list[bool] = []
    real = real_calibrate

    def calibrate(image: np.ndarray, size: tuple[int, int]) -> Calibration:
        try:
            found = real(image, size)
        except CalibrationError:
            measured.append(False)  # the scene, or the pattern half painted
            raise
        measured.append(True)
        return found

    monkeypatch.setattr("simulator.training.range_setup.calibrate", calibrate)
    setup = range_setup(record, tmp_path, projector, display_lag_ms=400, clock=clock)
    try:
        setup.calibrate()
    finally:
        setup.close_view()
    # The first picture measured is of the pattern: none exposed before it reached the
    # screen was taken for it.
    assert measured == [True]


def test_checking_refuses_a_calibration_made_for_a_screen_of_another_shape(
        record: Record, tmp_path: Path) -> None:
    projector = Projector()
    size = [PICTURE]
    setup = range_setup(record, tmp_path, projector, picture_size=lambda: size[0])
    try:
        setup.calibrate()
        size[0] = (1920, 1080)  # the same shape, larger: still the calibration's screen
        assert setup.check().within(setup.camera.tolerance)
        size[0] = (1024, 768)
        shown = len(projector.shown)
        with pytest.raises(RangeSetupError, match=r"the calibration was made for a 1280x720 "
                           r"screen and the projector's is now 1024x768; calibrate again"):
            setup.check()
        assert len(projector.shown) == shown  # refused before the pattern was shown
    finally:
        setup.close_view()


class FakeCapture:
    """A camera number that opens, as OpenCV would hand it over."""

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def get(self, _prop: int) -> float:
        return 640.0

    def getBackendName(self) -> str:  # noqa: N802 - OpenCV's name
        return "FAKE"

    def release(self) -> None:
        pass


def test_listing_cameras_leaves_the_open_one_alone(
        record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int | str] = []

    def open_capture(source: int | str, _backend: int) -> FakeCapture:
        opened.append(source)
        return FakeCapture()

    monkeypatch.setattr("simulator.training.range_setup.list_cameras",
                        camera_module.list_cameras)
    monkeypatch.setattr("simulator.training.range_setup._open_video_capture", open_capture)
    setup = range_setup(record, tmp_path, Projector())
    assert [c.index for c in setup.cameras(skip=1)] == [0, 2, 3, 4, 5]
    assert 1 not in opened


def test_the_window_lists_devices_without_opening_its_own_camera_again(
        qtbot: Any, record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = range_setup(record, tmp_path, Projector())
    asked: list[int | str | None] = []

    def cameras(*, skip: int | str | None = None) -> list[object]:
        asked.append(skip)
        return []

    monkeypatch.setattr(setup, "cameras", cameras)
    window = RangeSetupWindow(setup)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: setup.view is not None and window.find_cameras.isEnabled(),
                    timeout=5_000)
    window.find_cameras.click()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=5_000)
    assert asked[-1] == setup.camera.source
    window.close()


def test_the_window_opens_the_camera_off_its_thread_and_says_why_it_did_not(
        qtbot: Any, record: Record, tmp_path: Path) -> None:
    gate = threading.Event()
    setup = range_setup(record, tmp_path, Projector(), opening=lambda: gate.wait(5))
    started = time.monotonic()
    window = RangeSetupWindow(setup)
    qtbot.addWidget(window)
    assert time.monotonic() - started < 1.0
    assert window.view.message == OPENING
    assert not window.calibrate_button.isEnabled()  # nothing else opens it meanwhile
    gate.set()
    qtbot.waitUntil(lambda: window.view.picture is not None, timeout=10_000)
    assert window.calibrate_button.isEnabled()
    window.close()

    def refuse() -> None:
        raise CameraError("camera 0 could not be opened; is another program using it?")

    broken = range_setup(record, tmp_path, Projector(), opening=refuse)
    window = RangeSetupWindow(broken)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.view.message != OPENING, timeout=5_000)
    assert window.view.message == ("The camera did not open: camera 0 could not be opened; "
                                   "is another program using it?")
    assert window.calibrate_button.isEnabled()  # calibrating tries the camera again
    window.close()


def test_closing_the_window_does_not_wait_for_slow_devices(
        qtbot: Any, record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = threading.Event()

    def slow_listing(**_kw: object) -> list[object]:
        listing.wait(3)  # probing cameras that do not answer
        return []

    monkeypatch.setattr("simulator.training.range_setup.list_cameras", slow_listing)
    opening = threading.Event()
    setup = range_setup(record, tmp_path, Projector(), opening=lambda: opening.wait(3))
    window = RangeSetupWindow(setup)
    window.show()
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 1.0
    left = jobs.detached()
    assert len(left) == 2 and all(job.parent() is None for job in left)
    window.deleteLater()  # as the console does; the jobs outlive it
    qtbot.wait(50)
    opening.set()
    listing.set()
    qtbot.waitUntil(lambda: not jobs.detached(), timeout=5_000)
    qtbot.wait(50)  # their outcome, had it been delivered, would reach a deleted window
    assert setup.view is None  # the camera that opened after the window closed is let go


def test_a_job_says_its_progress_its_result_its_failure_and_a_cancel(qtbot: Any) -> None:
    class Stopped(Exception):
        pass

    outcomes: list[object] = []

    def run(work: Callable[[jobs.Progress], object]) -> None:
        job = jobs.Job(work, cancelled=(Stopped,))
        job.progressed.connect(lambda done, total: outcomes.append((done, total)))
        job.succeeded.connect(outcomes.append)
        job.failed.connect(lambda why: outcomes.append(f"failed: {why}"))
        with qtbot.waitSignal(job.finished, timeout=5_000):
            job.start()
        qtbot.wait(20)

    def counted(progress: jobs.Progress) -> str:
        progress(1, 2)
        return "done"

    def stopped(_progress: jobs.Progress) -> None:
        raise Stopped

    def broken(_progress: jobs.Progress) -> None:
        raise OSError("the disk is full")

    for work in (counted, stopped, broken):
        run(work)
    assert outcomes == [(1, 2), "done", "failed: ", "failed: the disk is full"]
