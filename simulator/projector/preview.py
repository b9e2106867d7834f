"""A small, slow copy of what the projector shows, for the instructor's console.

Scaled down and at a few frames a second it costs a few milliseconds a second; the console
shows it live, and a remote console gets it as JPEG.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage

from simulator.playback.surface import VideoSurface


class PreviewFeed(QObject):
    """Emits `frame` with a scaled copy of the projector picture ``fps`` times a second."""

    frame = Signal(QImage)

    def __init__(self, surface: VideoSurface, *, width: int = 320, fps: float = 5.0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._surface = surface
        self._width = width
        self._timer = QTimer(self)
        self._timer.setInterval(max(20, round(1000 / fps)))
        self._timer.timeout.connect(self.capture)
        self.latest: QImage | None = None

    def start(self) -> None:
        """Begin emitting."""
        self._timer.start()

    def stop(self) -> None:
        """Stop emitting."""
        self._timer.stop()

    def capture(self) -> QImage | None:
        """Take one preview picture now (an independent copy) and emit it."""
        if not self._surface.has_picture():
            return None
        # Grabbing the widget includes the overlays (low light), as the trainee sees it.
        image = self._surface.grab(self._surface.picture_rect()).toImage()
        self.latest = image.scaledToWidth(self._width, Qt.TransformationMode.FastTransformation)
        self.frame.emit(self.latest)
        return self.latest

    def jpeg(self, quality: int = 70) -> bytes:
        """The latest preview as JPEG bytes (empty before the first picture)."""
        if self.latest is None:
            return b""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        self.latest.save(buffer, "JPEG", quality)  # type: ignore[call-overload]  # stubs want bytes; the binding takes str
        return bytes(data.data())
