"""Setting up the range at the projector PC: the camera, its calibration, weapons, triggers.

Opened from the console with F8 between runs. The instructor sees what the camera sees,
with each laser spot circled in its colour and the calibrated picture outlined, so aiming
the camera and checking it before a class is a glance. Opening the camera, listing the
devices, calibrating, checking and learning a trigger wait on the camera or a device, so
they run off this window's thread and report back through signals; the window stays live
meanwhile, and closing it never waits long for them.

Every name here comes from a settings file or from a device (a USB product string is
whatever its maker wrote) and is shown as plain text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QImage,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from instructor_console.jobs import Job, let_finish
from instructor_console.theme import DARK, DropDown, label, plain_tooltip
from simulator.devices.calibration import Calibration, CalibrationCheck
from simulator.devices.settings import (
    HidTriggerSettings,
    SerialTriggerSettings,
    TriggerSettings,
    WeaponSettings,
)
from simulator.devices.triggers import HidDeviceInfo, LearnCancelled
from simulator.training.range_setup import CameraPicture, RangeSetup

# How a laser colour is drawn; infrared is invisible, so it gets a colour no laser has.
SPOT_COLOURS = {"red": QColor(255, 48, 48), "green": QColor(48, 255, 96),
                "infrared": QColor(255, 64, 255)}
OUTLINE_COLOUR = QColor(245, 197, 66)
COLOURS = ("red", "green", "infrared")
# A spot is circled this far out (camera pixels), however small the dot.
SPOT_RING_PX = 14.0
POLL_MS = 100
LEARN_TIMEOUT_S = 15.0
OPENING = "Opening the camera…"


def _qimage(picture: CameraPicture) -> QImage:
    image = picture.frame.image
    height, width = image.shape[:2]
    return QImage(image.tobytes(), width, height, 3 * width,
                  QImage.Format.Format_BGR888).copy()


class CameraViewWidget(QWidget):
    """What the camera sees, the laser spots circled and the calibrated picture outlined."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(480, 270)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.picture: CameraPicture | None = None
        self.calibration: Calibration | None = None
        self._image: QImage | None = None
        self.message = "The camera is not open."

    def show_picture(self, picture: CameraPicture | None) -> None:
        """Draw ``picture`` (None: the message instead)."""
        self.picture = picture
        self._image = _qimage(picture) if picture is not None else None
        self.update()

    def placement(self) -> tuple[QPointF, float]:
        """Where the camera picture's top-left corner is drawn, and its scale."""
        if self._image is None:
            return QPointF(0, 0), 1.0
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        left = (self.width() - self._image.width() * scale) / 2
        top = (self.height() - self._image.height() * scale) / 2
        return QPointF(left, top), scale

    def to_widget(self, x_px: float, y_px: float) -> QPointF:
        """Where camera pixel ``(x_px, y_px)`` is drawn."""
        origin, scale = self.placement()
        return QPointF(origin.x() + x_px * scale, origin.y() + y_px * scale)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """The picture, the outline, then the spots on top."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is None or self.picture is None:
            painter.setPen(QColor(154, 165, 177))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        origin, scale = self.placement()
        painter.drawImage(QRectF(origin.x(), origin.y(), self._image.width() * scale,
                                 self._image.height() * scale), self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.calibration is not None:
            painter.setPen(QPen(OUTLINE_COLOUR, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolygon(QPolygonF([self.to_widget(*self._corner(x, y))
                                           for x, y in ((0, 0), (1, 0), (1, 1), (0, 1))]))
        for spot in self.picture.spots:
            colour = SPOT_COLOURS.get(spot.colour, QColor(255, 255, 255))
            painter.setPen(QPen(colour, 4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            radius = max(SPOT_RING_PX, spot.length_px / 2 + 6) * max(scale, 0.5)
            painter.drawEllipse(self.to_widget(spot.x_px, spot.y_px), radius, radius)

    def _corner(self, x: float, y: float) -> tuple[float, float]:
        assert self.calibration is not None and self._image is not None
        u, v = self.calibration.to_camera(x, y)
        # A calibration measured at another camera size still outlines the same picture.
        width, height = self.calibration.camera_size
        return u * self._image.width() / width, v * self._image.height() / height


class LearnDialog(QDialog):
    """"Press the device's button now", with a way out: Cancel, or the time running out."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learn a trigger")
        self.setStyleSheet(DARK)
        self.cancelled = threading.Event()
        column = QVBoxLayout(self)
        column.addWidget(label("Press the device's button now, then let it go.", "segment"))
        column.addWidget(label(what, "status"))
        self.outcome = label(f"Waiting up to {LEARN_TIMEOUT_S:g} seconds…", "hint")
        column.addWidget(self.outcome)
        cancel = QPushButton("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        column.addWidget(cancel)

    def reject(self) -> None:
        """Stop waiting for the press."""
        self.cancelled.set()
        super().reject()


class RangeSetupWindow(QWidget):
    """The range's set-up over one `RangeSetup`, in a window of its own."""

    closed = Signal()

    def __init__(self, setup: RangeSetup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Branchpoint: set up the range")
        self.setStyleSheet(DARK)
        self.setup = setup
        self._jobs: list[Job] = []
        # Set once the window closes: a job finishing later leaves its widgets alone, and a
        # camera that opens after that is let go at once.
        self._gone = threading.Event()
        self._opening: Job | None = None
        self._working = False
        self._hid_devices: list[HidDeviceInfo] = []
        self._shown_frame = -1
        self.learn_dialog: LearnDialog | None = None

        self.view = CameraViewWidget()
        self.view.calibration = setup.calibration
        self.camera = DropDown(minimum_chars=18)
        self.camera.setAccessibleName("Camera")
        self.camera.activated.connect(self._camera_chosen)
        self.find_cameras = QPushButton("Find cameras")
        self.find_cameras.clicked.connect(self.list_devices)
        self.calibrate_button = QPushButton("Calibrate (F5)")
        self.calibrate_button.clicked.connect(self.calibrate)
        self.check_button = QPushButton("Check (F6)")
        self.check_button.clicked.connect(self.check)
        QShortcut(QKeySequence("F5"), self, self.calibrate)
        QShortcut(QKeySequence("F6"), self, self.check)
        self.calibration_label = label("", "segment")
        self.calibration_label.setWordWrap(True)
        self.camera_status = label("", "warning")
        self.camera_status.setWordWrap(True)

        self.weapons = QTableWidget(0, 5)
        self.weapons.setHorizontalHeaderLabels(["Weapon", "Laser", "Pulse", "Force option",
                                                "Trainee"])
        self.weapons.setAccessibleName("Weapons")
        add_weapon = QPushButton("Add weapon")
        add_weapon.clicked.connect(lambda: self._add_weapon_row(
            self._unused("weapon"), WeaponSettings(), 1))
        remove_weapon = QPushButton("Remove weapon")
        remove_weapon.clicked.connect(lambda: self._remove_row(self.weapons))

        self.triggers = QTableWidget(0, 5)
        self.triggers.setHorizontalHeaderLabels(["Trigger", "Device", "Press", "Action",
                                                 "Trainee"])
        self.triggers.setAccessibleName("Triggers")
        self.trigger_device = DropDown(minimum_chars=18)
        self.trigger_device.setAccessibleName("Trigger device")
        self.trigger_name = QLineEdit()
        self.trigger_name.setPlaceholderText("trigger name")
        self.trigger_name.setMaxLength(64)
        self.trigger_name.setMinimumWidth(200)
        self.learn_button = QPushButton("Learn…")
        self.learn_button.clicked.connect(self.learn)
        remove_trigger = QPushButton("Remove trigger")
        remove_trigger.clicked.connect(lambda: self._remove_row(self.triggers))

        self.save_button = QPushButton("Save (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        QShortcut(QKeySequence.StandardKey.Save, self, self.save)
        QShortcut(QKeySequence("Esc"), self, self.close)
        self.status = label("", "status")
        self.status.setWordWrap(True)

        for table in (self.weapons, self.triggers):
            # Columns share the width: a name cut short shows whole in its tooltip.
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            table.verticalHeader().hide()

        left = QVBoxLayout()
        left.addWidget(self.view, stretch=1)
        cameras = QHBoxLayout()
        cameras.addWidget(label("Camera", "heading"))
        cameras.addWidget(self.camera, stretch=1)
        cameras.addWidget(self.find_cameras)
        left.addLayout(cameras)
        actions = QHBoxLayout()
        actions.addWidget(self.calibrate_button)
        actions.addWidget(self.check_button)
        left.addLayout(actions)
        left.addWidget(self.calibration_label)
        left.addWidget(self.camera_status)
        right = QVBoxLayout()
        right.addWidget(label("Weapons", "heading"))
        right.addWidget(self.weapons, stretch=1)
        weapon_buttons = QHBoxLayout()
        weapon_buttons.addWidget(add_weapon)
        weapon_buttons.addWidget(remove_weapon)
        right.addLayout(weapon_buttons)
        right.addWidget(label("Triggers", "heading"))
        right.addWidget(self.triggers, stretch=1)
        learn_row = QHBoxLayout()
        learn_row.addWidget(self.trigger_device, stretch=1)
        learn_row.addWidget(self.trigger_name)
        learn_row.addWidget(self.learn_button)
        right.addLayout(learn_row)
        right.addWidget(remove_trigger)
        right.addWidget(self.save_button)
        right.addWidget(self.status)
        row = QHBoxLayout(self)
        row.addLayout(left, stretch=1)
        row.addLayout(right, stretch=1)

        for name, weapon in sorted(setup.devices.weapons.items()):
            self._add_weapon_row(name, weapon, setup.trainee(name))
        for name, trigger in sorted(setup.devices.triggers.items()):
            self._add_trigger_row(name, trigger, setup.trainee(name))
        self._show_calibration()
        if setup.calibration_problem is not None:
            self.camera_status.setText(f"The calibration could not be read "
                                       f"({setup.calibration_problem}): calibrate again.")
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._refresh_view)
        self.open_camera()
        self.list_devices()

    # -- the camera ------------------------------------------------------------------------

    def open_camera(self) -> None:
        """Open the camera for the live view, off this thread; its failure is said in the view.

        Opening takes a second for a USB camera (it settles and its exposure is locked) and
        up to half a minute for a network camera that does not answer.
        """
        if self._opening is not None:
            return
        self.view.message = OPENING
        self.view.show_picture(None)
        setup, gone = self.setup, self._gone

        def work() -> None:
            setup.watch()
            if gone.is_set():
                setup.close_view()  # the window closed meanwhile: a run may need the camera

        self._opening = self._run(work, self._camera_opened, self._camera_not_opened)
        self._enable()

    def _camera_opened(self, _nothing: None) -> None:
        self._opening = None
        self.view.message = "Waiting for the camera…"
        self._poll.start()
        self._enable()

    def _camera_not_opened(self, why: str) -> None:
        # The camera unplugged, busy or refused: the rest of the set-up still works.
        self._opening = None
        self.view.message = f"The camera did not open: {why}"
        self.view.show_picture(None)
        self._enable()

    def _refresh_view(self) -> None:
        view = self.setup.view
        if view is None:
            return
        picture = view.latest()
        if picture is not None and picture.frame.number != self._shown_frame:
            self._shown_frame = picture.frame.number
            self.view.show_picture(picture)
        if view.error is not None:
            self.camera_status.setText(f"The camera stopped: {view.error}")

    def list_devices(self) -> None:
        """Find the cameras, serial ports and USB devices plugged in (off this thread)."""
        self.find_cameras.setEnabled(False)
        setup = self.setup
        # The live view's camera is not opened a second time to list it.
        skip = setup.camera.source if self._opening is not None or setup.view is not None \
            else None
        self._run(lambda: (setup.cameras(skip=skip), setup.serial_ports(),
                           setup.hid_devices(), skip),
                  self._devices_listed, self._devices_not_listed)

    def _devices_listed(self, found: tuple[list[Any], list[str], list[HidDeviceInfo],
                                           int | str | None]) -> None:
        cameras, ports, hid_devices, skipped = found
        self.find_cameras.setEnabled(True)
        current = self.setup.camera.source
        self.camera.clear()
        for camera in cameras:
            self.camera.addItem(f"Camera {camera.index}: {camera.width}×{camera.height}, "
                                f"{camera.fps:g} fps ({camera.backend})", camera.index)
        if self.camera.findData(current) < 0:
            where = "open here" if skipped == current else "in the settings"
            self.camera.addItem(f"Camera {current} ({where})", current)
        self.camera.setCurrentIndex(self.camera.findData(current))
        self._hid_devices = hid_devices
        self.trigger_device.clear()
        for port in ports:
            self.trigger_device.addItem(f"Serial {port}", ("serial", port))
        for at, device in enumerate(hid_devices):
            maker = f"{device.manufacturer} " if device.manufacturer else ""
            self.trigger_device.addItem(
                f"USB {maker}{device.product} ({device.vendor_id:04x}:{device.product_id:04x})",
                ("hid", at))

    def _devices_not_listed(self, why: str) -> None:
        self.find_cameras.setEnabled(True)
        self.status.setText(f"Devices could not be listed: {why}")

    def _camera_chosen(self, index: int) -> None:
        source = self.camera.itemData(index)
        if source is None or source == self.setup.camera.source or self._opening is not None:
            return
        self.setup.set_camera(self.setup.camera.model_copy(update={"source": source}))
        self._shown_frame = -1
        self.open_camera()

    # -- calibration -----------------------------------------------------------------------

    def calibrate(self) -> None:
        """Show the pattern on the projector and measure the calibration (off this thread)."""
        self._busy("Calibrating: the pattern is on the projector…")
        self._run(self.setup.calibrate, self._calibrated, self._not_calibrated)

    def _calibrated(self, _calibration: Calibration) -> None:
        self._idle()
        self.camera_status.setText("")
        self._show_calibration()

    def _not_calibrated(self, why: str) -> None:
        self._idle()
        self.camera_status.setText(f"Not calibrated: {why}")

    def _show_calibration(self) -> None:
        calibration = self.setup.calibration
        self.view.calibration = calibration
        self.view.update()
        if calibration is None:
            self.calibration_label.setText("Not calibrated yet: Calibrate with the camera "
                                           "seeing the whole screen.")
            return
        when = calibration.measured_utc.astimezone().strftime("%d %b %Y %H:%M")
        self.calibration_label.setText(
            f"Calibrated {when}: residual {calibration.residual * 100:.2f}% of the picture's "
            f"width ({calibration.points} points)")

    def check(self) -> None:
        """Show the pattern again and see whether the calibration still holds."""
        self._busy("Checking: the pattern is on the projector…")
        self._run(self.setup.check, self._checked, self._not_checked)

    def _checked(self, result: CalibrationCheck) -> None:
        self._idle()
        tolerance = self.setup.camera.tolerance
        moved = f"{result.moved * 100:.2f}% of the picture's width"
        if result.within(tolerance):
            self.camera_status.setText("")
            self.status.setText(f"The calibration holds: moved {moved} (at most "
                                f"{tolerance * 100:.2f}%).")
        else:
            self.camera_status.setText(f"The calibration has moved {moved}, more than "
                                       f"{tolerance * 100:.2f}%: calibrate again.")

    def _not_checked(self, why: str) -> None:
        self._idle()
        self.camera_status.setText(f"Not checked: {why}")

    def _busy(self, what: str) -> None:
        self._working = True
        self._enable()
        self.status.setText(what)

    def _idle(self) -> None:
        self._working = False
        self._enable()
        self.status.setText("")

    def _enable(self) -> None:
        # While the camera opens, nothing else may open it or switch to another.
        opening = self._opening is not None
        for button in (self.calibrate_button, self.check_button):
            button.setEnabled(not self._working and not opening)
        self.learn_button.setEnabled(not self._working)
        self.camera.setEnabled(not opening)

    # -- weapons and triggers --------------------------------------------------------------

    def _unused(self, stem: str) -> str:
        taken = {self._name(self.weapons, row) for row in range(self.weapons.rowCount())}
        taken |= {self._name(self.triggers, row) for row in range(self.triggers.rowCount())}
        return next(f"{stem}-{n}" for n in range(1, 1000) if f"{stem}-{n}" not in taken)

    @staticmethod
    def _name(table: QTableWidget, row: int) -> str:
        item = table.item(row, 0)
        return item.text().strip() if item is not None else ""

    @staticmethod
    def _name_item(name: str) -> QTableWidgetItem:
        item = QTableWidgetItem(name)
        item.setToolTip(plain_tooltip(name))
        return item

    @staticmethod
    def _trainee_box(trainee: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(1, 32)
        box.setValue(trainee)
        return box

    def _add_weapon_row(self, name: str, weapon: WeaponSettings, trainee: int) -> None:
        row = self.weapons.rowCount()
        self.weapons.insertRow(row)
        self.weapons.setItem(row, 0, self._name_item(name))
        colour = QComboBox()
        colour.addItems(list(COLOURS))
        colour.setCurrentText(weapon.colour)
        self.weapons.setCellWidget(row, 1, colour)
        pulse = QLineEdit(weapon.pulse or "")
        pulse.setPlaceholderText("any flash")
        pulse.setMaxLength(16)
        self.weapons.setCellWidget(row, 2, pulse)
        option = QComboBox()
        for choice in self.setup.profile.force_options:
            option.addItem(choice.label, choice.id)
        if option.findData(weapon.force_option) < 0:
            # A force option the profile no longer has: shown, so Save says what is wrong.
            option.addItem(weapon.force_option, weapon.force_option)
        option.setCurrentIndex(option.findData(weapon.force_option))
        self.weapons.setCellWidget(row, 3, option)
        self.weapons.setCellWidget(row, 4, self._trainee_box(trainee))
        self.weapons.setRowHeight(row, 48)

    def _add_trigger_row(self, name: str, trigger: TriggerSettings, trainee: int) -> None:
        row = next((at for at in range(self.triggers.rowCount())
                    if self._name(self.triggers, at) == name), None)
        if row is None:
            row = self.triggers.rowCount()
            self.triggers.insertRow(row)
        self.triggers.setItem(row, 0, self._name_item(name))
        device = self.triggers.item(row, 1) or QTableWidgetItem()
        press = QTableWidgetItem()
        if isinstance(trigger, SerialTriggerSettings):
            device.setText(f"Serial {trigger.port} at {trigger.baudrate}")
            press.setText(trigger.press)
        else:
            device.setText(f"USB {trigger.vendor_id:04x}:{trigger.product_id:04x}")
            press.setText(f"byte {trigger.byte}, bits {trigger.mask:08b}")
        device.setData(Qt.ItemDataRole.UserRole, trigger)
        device.setToolTip(plain_tooltip(device.text()))
        for item in (device, press):
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.triggers.setItem(row, 1, device)
        self.triggers.setItem(row, 2, press)
        action = QComboBox()
        action.addItem("(none)", None)
        for choice in self.setup.profile.force_options:
            action.addItem(choice.label, choice.id)
        for tactic, wording in self.setup.profile.verbal_tactics.items():
            action.addItem(wording, tactic)
        if trigger.action is not None and action.findData(trigger.action) < 0:
            action.addItem(trigger.action, trigger.action)
        action.setCurrentIndex(max(0, action.findData(trigger.action)))
        self.triggers.setCellWidget(row, 3, action)
        self.triggers.setCellWidget(row, 4, self._trainee_box(trainee))
        self.triggers.setRowHeight(row, 48)

    @staticmethod
    def _remove_row(table: QTableWidget) -> None:
        if table.currentRow() >= 0:
            table.removeRow(table.currentRow())

    def learn(self) -> None:
        """Learn what the chosen device sends for a press: a dialog waits for the button."""
        chosen = self.trigger_device.currentData()
        name = self.trigger_name.text().strip() or self._unused("trigger")
        if chosen is None:
            self.status.setText("No serial port or USB device to learn from: plug one in, "
                                "then Find cameras lists it too.")
            return
        kind, which = chosen
        dialog = LearnDialog(self.trigger_device.currentText(), self)
        existing = self.setup.devices.triggers.get(name)
        action = existing.action if existing is not None else None
        trainee = self.setup.trainee(name)
        setup = self.setup
        cancelled = dialog.cancelled.is_set
        work: Callable[[], TriggerSettings]
        if kind == "serial":
            baudrate = (existing.baudrate if isinstance(existing, SerialTriggerSettings)
                        else 9600)
            def work() -> TriggerSettings:
                return setup.learn_serial(name, which, baudrate, trainee, action=action,
                                          timeout_s=LEARN_TIMEOUT_S, cancelled=cancelled)
        else:
            device = self._hid_devices[which]
            def work() -> TriggerSettings:
                return setup.learn_hid(name, device, trainee, action=action,
                                       timeout_s=LEARN_TIMEOUT_S, cancelled=cancelled)

        def learned(trigger: TriggerSettings) -> None:
            self._idle()
            dialog.accept()
            self._add_trigger_row(name, trigger, trainee)
            self.status.setText(f"Learned {name}: Save to keep it.")

        def not_learned(why: str) -> None:
            self._idle()
            dialog.accept()
            self.status.setText(f"Not learned: {why}" if why else "Learning was cancelled.")

        self._busy("Waiting for the press…")
        self.learn_dialog = dialog
        self._run(work, learned, not_learned)
        dialog.open()

    # -- saving ----------------------------------------------------------------------------

    def save(self) -> bool:
        """Put the tables into the set-up and write it into the projector settings."""
        try:
            self._apply_tables()
            self.setup.save()
        except Exception as exc:
            # A refusal, a bad pulse pattern, a name twice, a file that cannot be written.
            self.status.setText(f"Not saved: {exc}")
            return False
        self.status.setText("Saved. The range uses these settings from the next run.")
        return True

    def _apply_tables(self) -> None:
        setup = self.setup
        weapons: dict[str, tuple[WeaponSettings, int]] = {}
        for row in range(self.weapons.rowCount()):
            name = self._name(self.weapons, row)
            colour, pulse, option, position = (self.weapons.cellWidget(row, column)
                                               for column in range(1, 5))
            assert isinstance(colour, QComboBox) and isinstance(pulse, QLineEdit)
            assert isinstance(option, QComboBox) and isinstance(position, QSpinBox)
            if name in weapons:
                raise ValueError(f"two weapons are named {name}")
            weapons[name] = (WeaponSettings.model_validate(
                {"colour": colour.currentText(), "pulse": pulse.text().strip() or None,
                 "force_option": option.currentData()}), position.value())
        triggers: dict[str, tuple[TriggerSettings, int]] = {}
        for row in range(self.triggers.rowCount()):
            name = self._name(self.triggers, row)
            device = self.triggers.item(row, 1)
            action, position = (self.triggers.cellWidget(row, 3),
                                self.triggers.cellWidget(row, 4))
            assert device is not None and isinstance(action, QComboBox)
            assert isinstance(position, QSpinBox)
            trigger = device.data(Qt.ItemDataRole.UserRole)
            assert isinstance(trigger, SerialTriggerSettings | HidTriggerSettings)
            if name in triggers or name in weapons:
                raise ValueError(f"two devices are named {name}")
            triggers[name] = (trigger.model_copy(update={"action": action.currentData()}),
                              position.value())
        for name in set(setup.devices.weapons) - set(weapons):
            setup.remove_weapon(name)
        for name in set(setup.devices.triggers) - set(triggers):
            setup.remove_trigger(name)
        for name, (weapon, trainee) in weapons.items():
            setup.set_weapon(name, weapon, trainee)
        for name, (trigger, trainee) in triggers.items():
            setup.set_trigger(name, trigger, trainee)

    # -- background work and closing -------------------------------------------------------

    def _run(self, work: Callable[[], Any], done: Callable[[Any], None],
             failed: Callable[[str], None]) -> Job:
        job = Job(lambda _progress: work(), cancelled=(LearnCancelled,), parent=self)
        gone = self._gone

        # An outcome already on its way when the window closed is dropped: the widgets it
        # would update may be deleted by the time it arrives.
        def succeeded(result: Any) -> None:
            if not gone.is_set():
                done(result)

        def not_done(why: str) -> None:
            if not gone.is_set():
                failed(why)

        job.succeeded.connect(succeeded)
        job.failed.connect(not_done)
        jobs = self._jobs

        def finished() -> None:
            if job in jobs:
                jobs.remove(job)

        job.finished.connect(finished)
        jobs.append(job)
        job.start()
        return job

    def shut(self) -> None:
        """Close now (the console locked, or a class run needs the camera); unsaved edits go."""
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Let the camera go and give what runs in the background a moment to stop.

        Closing the camera ends a calibration or check that waits on it at once, and a
        learn is cancelled; listing the devices or opening a camera cannot be cut short,
        so they finish on their own, their outcome dropped, rather than hold the console
        (its lock closes this window).
        """
        self._gone.set()
        self._poll.stop()
        if self.learn_dialog is not None:
            self.learn_dialog.cancelled.set()
        self.setup.close_view()
        let_finish(self._jobs)
        super().closeEvent(event)
        self.closed.emit()
