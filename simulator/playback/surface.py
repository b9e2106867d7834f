"""The widget frames are painted on, shared by the projector, the replay and the preview.

Players hand it whole pictures and it paints them synchronously, so the moment
`show_frame` returns is the moment the frame left the application for the window system:
the closest to "presented" a program can know without a light sensor on the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from simulator.playback.decode import Picture

if TYPE_CHECKING:
    from simulator.playback.gl_picture import GLPicture

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
    """Shows the current frame letterboxed on black, then any overlays.

    By default it paints with QPainter (the CPU painter). With ``gpu`` a `GLPicture` child
    fills it and draws with OpenGL, taking the decoder's YUV planes (`takes_yuv`); overlays,
    the picture's rectangle and the rest of this interface are the same either way.
    """

    picture_swapped = Signal()
    """The GPU presenter put the pictures given so far on the screen (a buffer swap)."""

    def __init__(self, parent: QWidget | None = None, *, gpu: bool = False) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAutoFillBackground(False)
        self._image: QImage | None = None
        self._pixels: object = None  # keeps the array under _image alive
        self.overlays: list[Overlay] = []
        self._gl: GLPicture | None = None
        if gpu:
            from simulator.playback.gl_picture import GLPicture

            self._gl = GLPicture(self, self.picture_rect, self._draw_overlays)
            self._gl.frameSwapped.connect(self.picture_swapped)
            layout = QVBoxLayout(self)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(self._gl)

    @property
    def presenter(self) -> str:
        """``gpu`` (OpenGL, stamped at the swap) or ``cpu`` (QPainter, stamped at the paint)."""
        return "gpu" if self._gl is not None else "cpu"

    @property
    def takes_yuv(self) -> bool:
        """Whether decoders should hand this surface YUV planes rather than RGB."""
        return self._gl is not None

    @property
    def gl_picture(self) -> GLPicture | None:
        """The OpenGL child drawing the picture, when presenting on the GPU."""
        return self._gl

    def show_picture(self, picture: Picture) -> None:
        """Show a decoded picture now: RGB, or YUV planes on the GPU presenter."""
        if self._gl is not None:
            self._gl.present(picture)
        elif isinstance(picture, np.ndarray):
            self.show_frame(image_from_rgb(picture), picture)
        else:
            raise TypeError("the CPU painter takes RGB pictures; YUV planes need the GPU")

    def show_frame(self, image: QImage, pixels: object = None) -> None:
        """Paint ``image`` now (``pixels`` is whatever buffer it points into)."""
        if self._gl is not None:
            self._gl.present(np.ascontiguousarray(rgb_of(image)))
            return
        image.setDevicePixelRatio(self.devicePixelRatioF())
        self._image, self._pixels = image, pixels
        self.repaint()

    def clear(self) -> None:
        """Black: between runs, the trainees see nothing rather than the last picture."""
        self._image = self._pixels = None
        if self._gl is not None:
            self._gl.present(None)
        self.update()

    def draw_now(self) -> None:
        """Draw again at once, as for a flash a light sensor times.

        The CPU painter has painted when this returns; the GPU presenter may swap later:
        `swap_pending` and `picture_swapped` say when.
        """
        if self._gl is not None:
            self._gl.redraw()
        else:
            self.repaint()

    def refresh(self) -> None:
        """Draw again soon, as after an overlay changed."""
        self.update()
        if self._gl is not None:
            self._gl.update()

    def swap_pending(self) -> bool:
        """Whether a picture given is not on the screen yet (`picture_swapped` will say).

        Always False for the CPU painter, which paints before `show_picture` returns.
        """
        return self._gl is not None and self._gl.swap_pending

    def has_picture(self) -> bool:
        """Whether a picture is up (not black)."""
        return self._gl.has_picture() if self._gl is not None else self._image is not None

    def picture_rect(self) -> QRect:
        """Where the current picture sits in the widget."""
        if self._gl is not None:
            size = self._gl.picture_size() or QSize(16, 9)
        else:
            size = (self._image.deviceIndependentSize().toSize() if self._image is not None
                    else QSize(16, 9))
        return fitted(size, self.size())

    def pixel_area(self) -> tuple[int, int]:
        """The widget's size in device pixels: what a decoder should scale pictures into."""
        ratio = self.devicePixelRatioF()
        return max(2, round(self.width() * ratio)), max(2, round(self.height() * ratio))

    def current_image(self) -> QImage | None:
        """The picture on screen, for previews and screenshots.

        The CPU painter's shares its pixels and has no overlays; the GPU presenter's is read
        back from the graphics chip as drawn, overlays and all.
        """
        if self._gl is not None:
            return self._gl.grabFramebuffer() if self._gl.has_picture() else None
        return self._image

    def _draw_overlays(self, painter: QPainter, target: QRect) -> None:
        for overlay in self.overlays:
            overlay(painter, target)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Black, then the picture, then the overlays (the OpenGL child does its own)."""
        if self._gl is not None:
            return
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        target = self.picture_rect()
        if self._image is not None:
            if self._image.deviceIndependentSize().toSize() == target.size():
                painter.drawImage(target.topLeft(), self._image)
            else:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(target, self._image)
        self._draw_overlays(painter, target)
        painter.end()
