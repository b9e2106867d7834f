"""The widget frames are painted on, shared by the projector, the replay and the preview.

Players hand it whole pictures and it paints them synchronously, so the moment
`show_frame` returns is the moment the frame left the application for the window system:
the closest to "presented" a program can know without a light sensor on the screen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

# Draws over the picture (low light, calibration marks): painter and the picture's rectangle.
Overlay = Callable[[QPainter, QRect], None]


def image_from_rgb(rgb: np.ndarray) -> QImage:
    """A QImage over ``rgb`` (height x width x 3, uint8) without copying the pixels.

    The array must outlive the image; `VideoSurface` keeps both together.
    """
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)


def rgb_of(image: QImage) -> np.ndarray:
    """A painted picture as ``height x width x 3`` uint8 RGB: `image_from_rgb` reversed.

    For reading back what was shown. RGB888 and RGB32 pictures are read in place, without
    a copy: use the array while the image lives. Any other format is converted (and
    copied).
    """
    if image.format() == QImage.Format.Format_RGB32:
        channels, order = 4, [2, 1, 0]  # BGRX in memory on a little-endian machine
    elif image.format() == QImage.Format.Format_RGB888:
        channels, order = 3, [0, 1, 2]
    else:
        return rgb_of(image.convertToFormat(QImage.Format.Format_RGB888)).copy()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * channels]
    return rows.reshape(image.height(), image.width(), channels)[:, :, order]


def fit_within(width: int, height: int, area_w: int, area_h: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled to fit the area, in even numbers as scalers prefer."""
    scale = min(area_w / width, area_h / height)
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)


def fitted(frame: QSize, area: QSize) -> QRect:
    """The largest rectangle of ``frame``'s shape centred in ``area`` (letterboxed)."""
    if frame.isEmpty() or area.isEmpty():
        return QRect(0, 0, area.width(), area.height())
    scaled = frame.scaled(area, Qt.AspectRatioMode.KeepAspectRatio)
    return QRect((area.width() - scaled.width()) // 2, (area.height() - scaled.height()) // 2,
                 scaled.width(), scaled.height())


class VideoSurface(QWidget):
    """Paints the current frame letterboxed on black, then any overlays."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAutoFillBackground(False)
        self._image: QImage | None = None
        self._pixels: object = None  # keeps the array under _image alive
        self.overlays: list[Overlay] = []

    def show_frame(self, image: QImage, pixels: object = None) -> None:
        """Paint ``image`` now (``pixels`` is whatever buffer it points into)."""
        image.setDevicePixelRatio(self.devicePixelRatioF())
        self._image, self._pixels = image, pixels
        self.repaint()

    def clear(self) -> None:
        """Black: between runs, the trainees see nothing rather than the last picture."""
        self._image = self._pixels = None
        self.update()

    def picture_rect(self) -> QRect:
        """Where the current picture sits in the widget."""
        size = (self._image.deviceIndependentSize().toSize() if self._image is not None
                else QSize(16, 9))
        return fitted(size, self.size())

    def pixel_area(self) -> tuple[int, int]:
        """The widget's size in device pixels: what a decoder should scale pictures into."""
        ratio = self.devicePixelRatioF()
        return max(2, round(self.width() * ratio)), max(2, round(self.height() * ratio))

    def current_image(self) -> QImage | None:
        """The picture on screen, for previews and screenshots (shares its pixels)."""
        return self._image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Black, then the picture, then the overlays."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        target = self.picture_rect()
        if self._image is not None:
            if self._image.deviceIndependentSize().toSize() == target.size():
                painter.drawImage(target.topLeft(), self._image)
            else:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(target, self._image)
        for overlay in self.overlays:
            overlay(painter, target)
        painter.end()
