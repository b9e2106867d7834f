"""Measuring this installation's screen lag with a light sensor, once.

The test pattern flashes a patch white for one frame each second and stamps each flash
when it is painted (the CPU painter) or swapped to the screen (the GPU presenter). A light
sensor on the patch, wired to send a key or click (any microcontroller that acts as a USB
keyboard will do), answers each flash; the median gap between stamp and answer is the lag
the screen and the sensor add together. Subtract the sensor's own latency (from its data
sheet) and store the rest as ``display_lag_ms``.
"""

from __future__ import annotations

import statistics

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from simulator.inputs import DeviceInput
from simulator.ports import Clock
from simulator.projector.window import ProjectorWindow, UnboundKey

# An answer later than this after a flash belongs to no flash (a stray key).
MAX_LAG_NS = 400_000_000


class LagCalibration(QObject):
    """Flashes the pattern ``flashes`` times and collects the sensor's answers."""

    finished = Signal(object)  # the median lag in ms, or None if too few answers

    def __init__(self, window: ProjectorWindow, clock: Clock, *, flashes: int = 20,
                 sensor_latency_ms: float = 0.0, period_ms: int = 1000) -> None:
        super().__init__()
        self._window = window
        self._clock = clock
        self._flashes_left = flashes
        self._sensor_ns = round(sensor_latency_ms * 1e6)
        self._flash_times: list[int] = []
        self.lags_ms: list[float] = []
        self._pattern = window.show_test_pattern("calibrating: light sensor on the square")
        self._timer = QTimer(self)
        self._timer.setInterval(period_ms)
        self._timer.timeout.connect(self.flash)
        # The sensor answers with a click, or with a key bound to no trainee device.
        window.connect_inputs(self._answer_input)
        window.unbound_key.connect(self._answer_key)

    def start(self) -> None:
        """Begin flashing."""
        self._timer.start()

    def flash(self) -> None:
        """Light the patch for one frame and stamp it (the timer calls this each period)."""
        if self._flashes_left == 0:
            self._finish()
            return
        self._flashes_left -= 1
        self._pattern.flash = True
        surface = self._window.surface
        surface.draw_now()
        if surface.swap_pending():
            surface.picture_swapped.connect(self._flashed, Qt.ConnectionType.SingleShotConnection)
        else:
            self._flashed()

    def _flashed(self) -> None:
        self._flash_times.append(self._clock.now_ns())
        self._pattern.flash = False
        # One frame later the patch goes dark again.
        QTimer.singleShot(17, self._window.surface.draw_now)

    def _answer_input(self, seen: DeviceInput) -> None:
        self._answer(seen.input_ns)

    def _answer_key(self, key: UnboundKey) -> None:
        if not key.auto_repeat:
            self._answer(key.input_ns)

    def _answer(self, input_ns: int) -> None:
        earlier = [t for t in self._flash_times if t <= input_ns]
        if earlier and input_ns - earlier[-1] <= MAX_LAG_NS:
            self.lags_ms.append((input_ns - earlier[-1] - self._sensor_ns) / 1e6)
            self._flash_times.remove(earlier[-1])

    def _finish(self) -> None:
        self._timer.stop()
        # The window outlives the calibration: later clicks and keys are not answers.
        self._window.disconnect_inputs(self._answer_input)
        self._window.unbound_key.disconnect(self._answer_key)
        self._window.hide_test_pattern()
        enough = len(self.lags_ms) >= 5
        self.finished.emit(round(statistics.median(self.lags_ms), 2) if enough else None)
