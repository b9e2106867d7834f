"""Setting up the range from the console: camera, calibration, weapons, triggers, the window."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from test_console_session import open_console

from instructor_console.range_setup_window import SPOT_COLOURS, RangeSetupWindow
from simulator.access import AccessDenied, Accounts, Role
from simulator.agency import default_profile
from simulator.devices.calibration import load_calibration
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
def record(tmp_path: Path):
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield record
    record.close()


@pytest.fixture(autouse=True)
def no_camera_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Probing this machine's camera numbers is slow and finds nothing here.
    monkeypatch.setattr("simulator.training.range_setup.list_cameras", lambda: [])


def range_setup(record: Record, tmp_path: Path, projector: Projector, *,
                gate: Gate | None = None, devices: RangeSettings | None = None,
                saved: list[RangeSettings] | None = None,
                laser_at: tuple[float, float] | None = None) -> RangeSetup:
    """A set-up over a synthetic camera that sees ``projector``'s picture, and a red laser
    held at ``laser_at`` (picture fractions) if given."""
    clock = MonotonicClock()
    shots: list[TrueShot] = []
    if laser_at is not None:
        start = clock.now_ns()
        shots = [TrueShot(start + k * 50_000_000, *laser_at, colour="red", pulse="11")
                 for k in range(1200)]

    def camera(_settings: CameraSettings) -> SyntheticCamera:
        return SyntheticCamera(projector.picture, size=(960, 540), fps=30, tilt_deg=12,
                               clock=clock, shots=shots)

    out = saved if saved is not None else []
    return RangeSetup(gate or Gate(record, None, "console"), devices or RangeSettings(),
                      out.append, calibration_path=tmp_path / "camera_calibration.yaml",
                      open_camera=camera, show_pattern=projector.show,
                      picture_size=lambda: PICTURE, profile=default_profile(), clock=clock,
                      hid=FakeHid())


def test_calibrating_shows_the_pattern_measures_it_keeps_it_and_checks_it(record, tmp_path):
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


def test_a_camera_that_does_not_see_the_pattern_is_refused_with_the_reason(record, tmp_path):
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


def test_an_account_that_may_not_run_a_class_may_not_set_up_the_range(record, tmp_path):
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
        record, tmp_path):
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


def test_learning_a_serial_trigger_keeps_what_its_press_sends(record, tmp_path):
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
        qtbot, record, tmp_path):
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
    assert window.weapons.item(0, 0).text() == HOSTILE
    qtbot.waitUntil(lambda: window.trigger_device.count() > 0, timeout=5_000)
    assert any(HOSTILE in window.trigger_device.itemText(i)
               for i in range(window.trigger_device.count()))
    assert window.status.textFormat() == Qt.TextFormat.PlainText
    window.close()
    assert setup.view is None


def test_f8_at_the_console_opens_the_range_set_up_and_locking_closes_it(qtbot, tmp_path):
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
