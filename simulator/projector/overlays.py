"""What the projector draws over the picture: low light with a flashlight, the test pattern."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QRadialGradient

# The flashlight's radius as a share of the picture's height: about a torch beam at 5 m.
FLASHLIGHT_RADIUS = 0.22


class LowLight:
    """Darkens the scene by ``strength`` except in a soft cone around the pointer."""

    def __init__(self) -> None:
        self.strength = 0.0
        self.pointer: QPointF | None = None  # in widget coordinates

    def __call__(self, painter: QPainter, picture: QRect) -> None:
        """Paint the darkness (nothing at strength 0)."""
        if self.strength <= 0:
            return
        alpha = round(255 * min(1.0, self.strength))
        dark = QColor(0, 0, 0, alpha)
        if self.pointer is None:
            painter.fillRect(picture, dark)
            return
        radius = FLASHLIGHT_RADIUS * picture.height()
        cone = QRadialGradient(self.pointer, radius)
        cone.setColorAt(0.0, QColor(0, 0, 0, 0))
        cone.setColorAt(0.6, QColor(0, 0, 0, alpha // 4))
        cone.setColorAt(1.0, dark)
        painter.fillRect(picture, QBrush(cone))


class TestPattern:
    """A calibration picture: grid, corners, grey steps, colour bars and a flashing patch.

    The patch flashes white for one frame each second; a light sensor taped over it and
    wired as an input device lets `branchpoint projector calibrate` measure the screen's lag.
    """

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.flash = False

    # Where the light sensor goes: the top-left corner, clear of the grid labels.
    @staticmethod
    def patch(picture: QRect) -> QRectF:
        """The flashing patch's rectangle."""
        side = picture.height() * 0.12
        return QRectF(picture.left() + side * 0.5, picture.top() + side * 0.5, side, side)

    def __call__(self, painter: QPainter, picture: QRect) -> None:
        """Paint the whole pattern (it replaces the picture)."""
        painter.fillRect(picture, QColor(16, 16, 16))
        w, h = picture.width(), picture.height()
        pen = QPen(QColor(200, 200, 200))
        pen.setWidth(max(1, h // 540))
        painter.setPen(pen)
        for i in range(1, 16):
            x = picture.left() + w * i / 16
            painter.drawLine(QPointF(x, picture.top()), QPointF(x, picture.bottom()))
        for i in range(1, 9):
            y = picture.top() + h * i / 9
            painter.drawLine(QPointF(picture.left(), y), QPointF(picture.right(), y))
        painter.drawRect(picture.adjusted(0, 0, -1, -1))
        centre = QPointF(picture.center())
        painter.drawEllipse(centre, h * 0.4, h * 0.4)
        bars = [QColor(c) for c in ("#ffffff", "#ffff00", "#00ffff", "#00ff00", "#ff00ff",
                                    "#ff0000", "#0000ff", "#000000")]
        bar_w = w * 0.6 / len(bars)
        top = picture.top() + h * 0.62
        for i, colour in enumerate(bars):
            painter.fillRect(QRectF(picture.left() + w * 0.2 + i * bar_w, top, bar_w, h * 0.1),
                             colour)
        for i in range(11):
            grey = round(255 * i / 10)
            painter.fillRect(QRectF(picture.left() + w * 0.2 + i * w * 0.6 / 11, top + h * 0.11,
                                    w * 0.6 / 11, h * 0.06), QColor(grey, grey, grey))
        painter.fillRect(self.patch(picture), QColor(255, 255, 255) if self.flash
                         else QColor(0, 0, 0))
        font = QFont()
        font.setPixelSize(max(12, h // 24))
        painter.setFont(font)
        painter.setPen(QColor(255, 255, 255))
        text = f"{w} x {h}  {self.label}".strip()
        painter.drawText(QRectF(picture.left(), picture.top() + h * 0.3, w, h * 0.1),
                         Qt.AlignmentFlag.AlignCenter, text)
