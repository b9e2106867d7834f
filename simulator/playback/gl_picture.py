"""The GPU presenter: pictures drawn with OpenGL, YUV converted by a shader, swapped at vsync.

The CPU painter (`VideoSurface` on its own) converts every frame to RGB on the decoder's
thread and scales it in QPainter. Here the decoder's own 4:2:0 planes go to the graphics
chip as three textures, a fragment shader converts them to RGB, and the chip scales up: at
1080p that is half the bytes per frame, and no colour conversion on the CPU at all.

The picture is drawn in `GLPicture.paintGL`; Qt composes the widget into its window and
swaps the window's buffers (with a swap interval of one: at the display's vertical blank
where the driver honours it), within `show`'s repaint when it can and otherwise at its next
update request, paced by the display. `frameSwapped` says when: the player stamps a frame
then, so the stamp times the swap, not a CPU paint, and a frame replaced before any swap
showed it is known to have never reached the screen. What the light does after the swap
(the projector's own processing) is for the light-sensor calibration to measure
(docs/projector.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QOffscreenSurface,
    QOpenGLContext,
    QPainter,
    QSurfaceFormat,
    QVector3D,
)
from PySide6.QtOpenGL import QOpenGLBuffer, QOpenGLShader, QOpenGLShaderProgram
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QWidget

from simulator.playback import PlayerUnavailable
from simulator.playback.decode import Picture, YuvPicture

log = logging.getLogger(__name__)

# OpenGL enumerants (the Python bindings take plain numbers).
_TEXTURE_2D = 0x0DE1
_LUMINANCE = 0x1909
_RGB = 0x1907
_UNSIGNED_BYTE = 0x1401
_FLOAT = 0x1406
_LINEAR = 0x2601
_CLAMP_TO_EDGE = 0x812F
_MIN_FILTER, _MAG_FILTER, _WRAP_S, _WRAP_T = 0x2801, 0x2800, 0x2802, 0x2803
_UNPACK_ALIGNMENT = 0x0CF5
_TEXTURE0 = 0x84C0
_COLOR_BUFFER_BIT = 0x4000
_TRIANGLE_STRIP = 0x0005
_VENDOR, _RENDERER, _VERSION = 0x1F00, 0x1F01, 0x1F02

# GLSL 1.10 / ES 2.0: what every PC a projector runs on has.
_VERTEX = """
attribute highp vec2 position;
attribute highp vec2 texcoord;
varying highp vec2 uv;
void main() { uv = texcoord; gl_Position = vec4(position, 0.0, 1.0); }
"""
_YUV_FRAGMENT = """
varying highp vec2 uv;
uniform sampler2D y_plane;
uniform sampler2D u_plane;
uniform sampler2D v_plane;
uniform highp vec3 offset;
uniform highp vec3 scale;
uniform highp vec3 to_r;
uniform highp vec3 to_g;
uniform highp vec3 to_b;
void main() {
    highp vec3 yuv = (vec3(texture2D(y_plane, uv).r, texture2D(u_plane, uv).r,
                           texture2D(v_plane, uv).r) - offset) * scale;
    gl_FragColor = vec4(clamp(vec3(dot(to_r, yuv), dot(to_g, yuv), dot(to_b, yuv)), 0.0, 1.0),
                        1.0);
}
"""
_RGB_FRAGMENT = """
varying highp vec2 uv;
uniform sampler2D rgb;
void main() { gl_FragColor = vec4(texture2D(rgb, uv).rgb, 1.0); }
"""
# A full-viewport quad: x, y, then the texture's u, v (rows run top to bottom in memory).
_QUAD = np.array([-1, -1, 0, 1, 1, -1, 1, 1, -1, 1, 0, 0, 1, 1, 1, 0], np.float32)

# Each standard's luma weights of red and blue (ITU-R BT.709, BT.601, BT.2020).
_WEIGHTS = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}


def _rgb_rows(kr: float, kb: float) -> tuple[tuple[float, float, float], ...]:
    """Rows giving R, G and B from (Y, Cb, Cr) once offset and scaled to 0-1 and +-0.5."""
    kg = 1 - kr - kb
    return ((1.0, 0.0, 2 * (1 - kr)),
            (1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg),
            (1.0, 2 * (1 - kb), 0.0))

# Renderers that draw on the CPU: slower than QPainter, so `auto` keeps the CPU painter.
_SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "swiftshader", "gdi generic",
                       "microsoft basic render")


@dataclass(frozen=True)
class GpuCheck:
    """Whether pictures can be presented with OpenGL here, and what was found."""

    usable: bool
    """An OpenGL context came up on a graphics chip (not a software renderer)."""
    renderer: str
    """The driver's own words (vendor, renderer, version), or why there is none."""
    software: bool = False

    def describe(self) -> str:
        """One line for the log and `branchpoint projector devices`."""
        if self.usable:
            return f"presenting on the GPU: {self.renderer}"
        return f"presenting with the CPU painter: {self.renderer}"


def check_gpu() -> GpuCheck:
    """Try an OpenGL context on this display, once a process (needs a QGuiApplication)."""
    if QGuiApplication.instance() is None:
        return GpuCheck(False, "no display opened yet")
    return _probe_gpu()


@functools.cache
def _probe_gpu() -> GpuCheck:
    context = QOpenGLContext()
    if not context.create():
        return GpuCheck(False, f"no OpenGL on the {QGuiApplication.platformName()} platform")
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    if not context.makeCurrent(surface):
        return GpuCheck(False, "an OpenGL context came up but could not be used")
    try:
        gl = context.functions()
        words = [str(gl.glGetString(name) or "") for name in (_VENDOR, _RENDERER, _VERSION)]
        renderer = ", ".join(word for word in words if word)
        # A driver that cannot build the shaders would show black: found out here, where
        # `auto` can still choose the CPU painter.
        for fragment in (_YUV_FRAGMENT, _RGB_FRAGMENT):
            _compiled(fragment).removeAllShaders()
    except GpuUnavailable as exc:
        return GpuCheck(False, f"{exc} ({renderer})")
    finally:
        context.doneCurrent()
    software = any(name in words[1].lower() for name in _SOFTWARE_RENDERERS)
    if software:
        return GpuCheck(False, f"OpenGL renders on the CPU here ({renderer})", software=True)
    return GpuCheck(True, renderer)


def use_gpu(setting: str) -> bool:
    """Whether the projector presents on the GPU for its ``presenter`` setting.

    ``cpu``: never. ``gpu``: whenever OpenGL comes up at all, a software renderer included
    (tests under Xvfb do this). ``auto``: only on a graphics chip.

    Raises:
        GpuUnavailable: ``gpu`` was asked for and OpenGL does not come up here.
    """
    if setting == "cpu":
        return False
    found = check_gpu()
    log.info("%s", found.describe())
    if setting == "gpu":
        if not (found.usable or found.software):
            raise GpuUnavailable(f"presenter: gpu, but {found.renderer}; set `presenter: "
                                 "auto` or `cpu` in projector.yaml")
        return True
    return found.usable


class GpuUnavailable(PlayerUnavailable):
    """The GPU presenter was asked for and this PC's display gives no OpenGL."""


def _compiled(fragment: str, parent: QObject | None = None) -> QOpenGLShaderProgram:
    """The picture's vertex shader with ``fragment``, linked in the current context."""
    program = QOpenGLShaderProgram(parent)
    if not (program.addShaderFromSourceCode(QOpenGLShader.ShaderTypeBit.Vertex, _VERTEX)
            and program.addShaderFromSourceCode(QOpenGLShader.ShaderTypeBit.Fragment, fragment)
            and program.link()):
        raise GpuUnavailable(f"the picture shaders do not compile here: {program.log()}")
    return program


def _colour_uniforms(picture: YuvPicture) -> tuple[QVector3D, QVector3D, tuple[QVector3D, ...]]:
    if picture.full_range:
        offset, scale = QVector3D(0.0, 128 / 255, 128 / 255), QVector3D(1.0, 1.0, 1.0)
    else:
        offset = QVector3D(16 / 255, 128 / 255, 128 / 255)
        scale = QVector3D(255 / 219, 255 / 224, 255 / 224)
    rows = _rgb_rows(*_WEIGHTS[picture.matrix])
    return offset, scale, tuple(QVector3D(*row) for row in rows)


class GLPicture(QOpenGLWidget):
    """Draws a picture (`YuvPicture` or RGB) letterboxed on black, then overlays.

    It fills its `VideoSurface`, which owns the overlays and the picture's rectangle;
    ``overlays`` is called with a painter on this widget after the picture is drawn.
    """

    def __init__(self, parent: QWidget, picture_rect: Callable[[], QRect],
                 overlays: Callable[[QPainter, QRect], None]) -> None:
        super().__init__(parent)
        surface_format = QSurfaceFormat.defaultFormat()
        surface_format.setSwapInterval(1)  # wait for the vertical blank where drivers allow
        self.setFormat(surface_format)
        # The mouse is the surface's business (a trainee's click is stamped there), as it is
        # with the CPU painter.
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._picture_rect = picture_rect
        self._overlays = overlays
        self._picture: Picture | None = None
        self._uploaded = True
        self._textures = np.zeros(0, np.uint32)
        self._sizes: dict[int, tuple[int, int]] = {}
        self._yuv_program: QOpenGLShaderProgram | None = None
        self._rgb_program: QOpenGLShaderProgram | None = None
        self._quad: QOpenGLBuffer | None = None
        self.swaps = 0
        self.swap_pending = False
        """A picture was given that no swap has put on the screen yet."""
        self.frameSwapped.connect(self._swapped)

    def _swapped(self) -> None:
        self.swaps += 1
        self.swap_pending = False

    def present(self, picture: Picture | None) -> None:
        """Draw ``picture``; None draws black.

        Qt swaps within `repaint` when it can, and otherwise at its next update request,
        paced by the display: watch ``swap_pending`` and ``frameSwapped``.
        """
        self._picture, self._uploaded = picture, picture is None
        self.swap_pending = picture is not None
        self.repaint()

    def redraw(self) -> None:
        """Draw again now (an overlay changed), awaiting a swap like a new picture."""
        self.swap_pending = True
        self.repaint()

    def picture_size(self) -> QSize | None:
        """The current picture's size in pixels, None with no picture."""
        if self._picture is None:
            return None
        if isinstance(self._picture, YuvPicture):
            return QSize(self._picture.width, self._picture.height)
        return QSize(int(self._picture.shape[1]), int(self._picture.shape[0]))

    def has_picture(self) -> bool:
        """Whether a picture is up (not black)."""
        return self._picture is not None

    # -- OpenGL -----------------------------------------------------------------------------

    def initializeGL(self) -> None:  # noqa: N802 - Qt's name
        """Compile the shaders and make the textures and the quad, once per context."""
        for stale in (self._yuv_program, self._rgb_program):
            if stale is not None:  # from the context Qt remade this one in place of
                stale.deleteLater()
        self._yuv_program = self._program(_YUV_FRAGMENT, ("y_plane", "u_plane", "v_plane"))
        self._rgb_program = self._program(_RGB_FRAGMENT, ("rgb",))
        # Plain texture names: they live and die with the context (which Qt remakes when the
        # widget moves to another window), where wrapper objects would outlive it.
        self._textures = np.zeros(4, np.uint32)
        self.context().functions().glGenTextures(4, self._textures)  # type: ignore[arg-type]  # fills the array
        self._sizes = {}
        self._uploaded = self._picture is None
        self._quad = QOpenGLBuffer()
        self._quad.create()
        self._quad.bind()
        self._quad.allocate(_QUAD.tobytes(), _QUAD.nbytes)
        self._quad.release()

    def _program(self, fragment: str, samplers: tuple[str, ...]) -> QOpenGLShaderProgram:
        program = _compiled(fragment, self)
        program.bind()
        for unit, name in enumerate(samplers):
            program.setUniformValue1i(program.uniformLocation(name), unit)
        program.release()
        return program

    def paintGL(self) -> None:  # noqa: N802 - Qt's name
        """Black, the picture in its letterboxed rectangle, then the overlays."""
        target = self._picture_rect()
        painter = QPainter(self)
        painter.beginNativePainting()
        gl = self.context().functions()
        gl.glClearColor(0.0, 0.0, 0.0, 1.0)
        gl.glClear(_COLOR_BUFFER_BIT)
        if self._picture is not None:
            ratio = self.devicePixelRatioF()
            gl.glViewport(round(target.x() * ratio),
                          round((self.height() - target.y() - target.height()) * ratio),
                          round(target.width() * ratio), round(target.height() * ratio))
            self._draw(self._picture)
        painter.endNativePainting()
        if self._picture is None:
            painter.fillRect(self.rect(), QColor(0, 0, 0))
        self._overlays(painter, target)
        painter.end()

    def _draw(self, picture: Picture) -> None:
        gl = self.context().functions()
        gl.glPixelStorei(_UNPACK_ALIGNMENT, 1)
        if isinstance(picture, YuvPicture):
            program, planes = self._yuv_program, [(picture.y, _LUMINANCE),
                                                  (picture.u, _LUMINANCE),
                                                  (picture.v, _LUMINANCE)]
        else:
            program, planes = self._rgb_program, [(picture, _RGB)]
        assert program is not None and self._quad is not None
        program.bind()
        for unit, (pixels, kind) in enumerate(planes):
            self._bind(unit, pixels, kind, upload=not self._uploaded)
        self._uploaded = True
        gl.glPixelStorei(_UNPACK_ALIGNMENT, 4)  # Qt's own drawing expects the default
        if isinstance(picture, YuvPicture):
            offset, scale, (to_r, to_g, to_b) = _colour_uniforms(picture)
            for name, value in (("offset", offset), ("scale", scale), ("to_r", to_r),
                                ("to_g", to_g), ("to_b", to_b)):
                program.setUniformValue(program.uniformLocation(name), value)
        self._quad.bind()
        # Each vertex: x, y, u, v as floats (16 bytes); position first, texcoord after it.
        position, texcoord = (program.attributeLocation(n) for n in ("position", "texcoord"))
        for location, offset_bytes in ((position, 0), (texcoord, 8)):
            program.enableAttributeArray(location)
            program.setAttributeBuffer(location, _FLOAT, offset_bytes, 2, 16)
        gl.glDrawArrays(_TRIANGLE_STRIP, 0, 4)
        for location in (position, texcoord):
            program.disableAttributeArray(location)
        self._quad.release()
        program.release()
        gl.glActiveTexture(_TEXTURE0)

    def _bind(self, unit: int, pixels: np.ndarray, kind: int, *, upload: bool) -> None:
        gl = self.context().functions()
        # RGB pictures use their own texture so a YUV picture's planes stay as they are.
        texture = 3 if kind == _RGB else unit
        gl.glActiveTexture(_TEXTURE0 + unit)
        gl.glBindTexture(_TEXTURE_2D, int(self._textures[texture]))
        if not upload:
            return
        height, width = int(pixels.shape[0]), int(pixels.shape[1])
        if self._sizes.get(texture) != (width, height):
            for name, value in ((_MIN_FILTER, _LINEAR), (_MAG_FILTER, _LINEAR),
                                (_WRAP_S, _CLAMP_TO_EDGE), (_WRAP_T, _CLAMP_TO_EDGE)):
                gl.glTexParameteri(_TEXTURE_2D, name, value)
            gl.glTexImage2D(_TEXTURE_2D, 0, kind, width, height, 0, kind, _UNSIGNED_BYTE,
                            pixels)  # type: ignore[arg-type]  # takes a buffer; stubs say int
            self._sizes[texture] = (width, height)
        else:
            gl.glTexSubImage2D(_TEXTURE_2D, 0, 0, 0, width, height, kind, _UNSIGNED_BYTE,
                               pixels)  # type: ignore[arg-type]  # as glTexImage2D
