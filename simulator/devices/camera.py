"""Cameras that watch the screen: a real one through OpenCV, and a recorded video file.

Each picture is stamped on the run's clock the moment it reaches the computer, less the
camera's measured latency, so a laser shot is placed against the frame the trainee saw
when they fired, however long the picture then waits to be analysed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import cv2
import numpy as np

from simulator.devices.frames import CameraFrame
from simulator.devices.settings import CameraSettings
from simulator.ports import Clock

# A USB camera now and then fails one grab (a dropped isochronous packet); only this many in
# a row mean it has gone.
_FAILED_GRABS_ALLOWED = 5

# What each backend takes for "manual exposure" in CAP_PROP_AUTO_EXPOSURE: V4L2 passes the
# value straight to the driver (1 = V4L2_EXPOSURE_MANUAL, 3 = automatic); Media Foundation
# reads any value but 0 as automatic, and DirectShow anything that rounds to 1.
_MANUAL_EXPOSURE = {cv2.CAP_V4L2: 1.0}
_MANUAL_EXPOSURE_DEFAULT = 0.0
# Most USB 2 webcams give 60 fps at 720p only compressed: left to their default (YUY2) they
# fall to about 10 fps there, and a one-frame laser flash is then mostly missed.
_MJPG = float(cv2.VideoWriter.fourcc("M", "J", "P", "G"))
# A driver's frame rate a hair under the asked one (59.94 for 60) is the same rate.
_FPS_SLACK = 0.97


class CameraError(Exception):
    """A camera (or a recording of one) could not be opened, or stopped sending pictures."""


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` a camera uses; tests hand in a fake one."""

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        """Whether the device opened."""
        ...

    def set(self, propId: int, value: float) -> bool:  # noqa: N803 - OpenCV's name
        """Ask the driver for a property's value; False when it refuses."""
        ...

    def get(self, propId: int) -> float:  # noqa: N803 - OpenCV's name
        """A property's current value (0 when the driver does not know it)."""
        ...

    def grab(self) -> bool:
        """Wait for the next picture and take it from the driver, undecoded."""
        ...

    def retrieve(self) -> tuple[bool, Any]:
        """Decode the picture last grabbed."""
        ...

    def release(self) -> None:
        """Let the device go."""
        ...

    def getBackendName(self) -> str:  # noqa: N802 - OpenCV's name
        """The backend that opened the device (``V4L2``, ``DSHOW``...)."""
        ...


CaptureFactory = Callable[[int | str, int], Capture]
"""Opens a capture for a camera number or URL with an OpenCV backend (``cv2.CAP_*``)."""


def _open_video_capture(source: int | str, backend: int) -> Capture:
    return cv2.VideoCapture(source, backend)


def capture_backends(source: int | str, platform: str = sys.platform) -> tuple[int, ...]:
    """The OpenCV backends to try for ``source``, best first, on ``platform``.

    A URL (``rtsp://``, ``http://``) goes through FFmpeg. A camera uses the platform's own
    API, the one that honours exposure and gain: DirectShow then Media Foundation on
    Windows, V4L2 on Linux, AVFoundation on macOS.
    """
    if isinstance(source, str) and "://" in source:
        return (cv2.CAP_FFMPEG,)
    if platform == "win32":
        return (cv2.CAP_DSHOW, cv2.CAP_MSMF)
    if platform == "darwin":
        return (cv2.CAP_AVFOUNDATION,)
    if platform.startswith("linux"):
        return (cv2.CAP_V4L2,)
    return (cv2.CAP_ANY,)


@contextmanager
def _opencv_quiet() -> Iterator[None]:
    # Probing absent cameras makes OpenCV print a warning for each; nobody should see those.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


@dataclass(frozen=True)
class CameraInfo:
    """A camera found on this computer, as it first opened."""

    index: int
    width: int
    height: int
    fps: float
    backend: str


def list_cameras(limit: int = 6, *,
                 open_capture: CaptureFactory = _open_video_capture) -> list[CameraInfo]:
    """The cameras numbered 0 to ``limit`` - 1 that open, for the console to offer.

    Each is opened and released at once; none is read from. OpenCV's warnings for numbers
    with no camera are silenced.
    """
    found: list[CameraInfo] = []
    with _opencv_quiet():
        for index in range(limit):
            for backend in capture_backends(index):
                capture = open_capture(index, backend)
                try:
                    if not capture.isOpened():
                        continue
                    found.append(CameraInfo(
                        index=index, width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        fps=float(capture.get(cv2.CAP_PROP_FPS)),
                        backend=capture.getBackendName()))
                    break
                finally:
                    capture.release()
    return found


def _as_bgr(image: np.ndarray) -> np.ndarray:
    # An infrared camera may hand over one grey channel; frames are always three.
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    if image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR))
    return image


class OpenCVCamera:
    """A camera (or a network stream) read through OpenCV.

    Opening it asks for MJPG (a camera's; a stream keeps its own format), the settings'
    size and frame rate, and locks exposure and gain, because a bright scene would
    otherwise darken the laser dot mid-run: to the settings' values, or when they are None
    to the values the camera settled on by itself. `locked` says what the driver really
    accepted, and `shortfalls` what of it falls short. ``open_capture`` is for tests, to drive this
    code with a fake capture; ``settle_frames`` pictures are read and thrown away first so
    that automatic exposure has settled before it is locked. With ``lock_exposure`` False
    exposure, gain and white balance are left to the camera, as a camera filming the
    trainee wants in a room whose light changes; `locked` then holds only the size.
    """

    backend: str
    """The OpenCV backend that opened the camera (``DSHOW``, ``V4L2``...)."""
    locked: dict[str, float | None]
    """What the driver accepted, read back after asking: a property it refused is None."""

    def __init__(self, settings: CameraSettings, clock: Clock, *,
                 open_capture: CaptureFactory = _open_video_capture,
                 settle_frames: int = 10, platform: str = sys.platform,
                 lock_exposure: bool = True) -> None:
        self._settings = settings
        self._lock = lock_exposure
        self._clock = clock
        self._latency_ns = round(settings.latency_ms * 1_000_000)
        self._readout_ns = round(settings.readout_ms * 1_000_000)
        # Guards the flags below; the capture itself is only ever used by one thread at a
        # time (opening, then the reading thread), as OpenCV's is not thread-safe.
        self._state = threading.Lock()
        self._closed = False
        self._reading = False
        self._released = False
        self._number = 0
        self._capture = self._open(open_capture, platform)
        try:
            self.backend = self._capture.getBackendName()
            self._set_size()
            for _ in range(settle_frames):
                self._capture.grab()
            self.locked = self._lock_exposure() if lock_exposure else {}
            self.locked.update(self._read_back_size())
        except BaseException:
            self._capture.release()
            raise

    def _describe(self) -> str:
        source = self._settings.source
        return f"camera {source}" if isinstance(source, int) else f"camera stream {source}"

    def _open(self, open_capture: CaptureFactory, platform: str) -> Capture:
        source = self._settings.source
        with _opencv_quiet():
            for backend in capture_backends(source, platform):
                capture = open_capture(source, backend)
                if capture.isOpened():
                    return capture
                capture.release()
        what = ("check the address and that the stream is running"
                if isinstance(source, str) else
                "check that it is plugged in, that no other program is using it, and the "
                "camera number in the projector settings")
        raise CameraError(f"{self._describe()} could not be opened: {what}")

    def _set_size(self) -> None:
        capture, settings = self._capture, self._settings
        # Asked before the size and rate, which the driver chooses among the format's own;
        # a stream's format is the sender's to choose.
        if isinstance(settings.source, int):
            capture.set(cv2.CAP_PROP_FOURCC, _MJPG)
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        capture.set(cv2.CAP_PROP_FPS, settings.fps)

    def _lock_exposure(self) -> dict[str, float | None]:
        capture, settings = self._capture, self._settings
        # Read before switching to manual: these are what automatic exposure settled on.
        exposure = (settings.exposure if settings.exposure is not None
                    else capture.get(cv2.CAP_PROP_EXPOSURE))
        gain = settings.gain if settings.gain is not None else capture.get(cv2.CAP_PROP_GAIN)
        manual = _MANUAL_EXPOSURE.get(self._backend_id(), _MANUAL_EXPOSURE_DEFAULT)
        # Manual mode first: Media Foundation sets the exposure itself to 0 on the way.
        accepted = {
            "auto_exposure": capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, manual),
            "exposure": capture.set(cv2.CAP_PROP_EXPOSURE, exposure),
            "gain": capture.set(cv2.CAP_PROP_GAIN, gain),
            # Automatic white balance would shift a red or green dot's colour as well.
            "auto_white_balance": capture.set(cv2.CAP_PROP_AUTO_WB, 0),
        }
        properties = {"auto_exposure": cv2.CAP_PROP_AUTO_EXPOSURE,
                      "exposure": cv2.CAP_PROP_EXPOSURE, "gain": cv2.CAP_PROP_GAIN,
                      "auto_white_balance": cv2.CAP_PROP_AUTO_WB}
        return {name: capture.get(prop) if accepted[name] else None
                for name, prop in properties.items()}

    def _backend_id(self) -> int:
        names = {"V4L2": cv2.CAP_V4L2, "DSHOW": cv2.CAP_DSHOW, "MSMF": cv2.CAP_MSMF,
                 "AVFOUNDATION": cv2.CAP_AVFOUNDATION, "FFMPEG": cv2.CAP_FFMPEG}
        return names.get(self.backend.upper(), cv2.CAP_ANY)

    def _read_back_size(self) -> dict[str, float | None]:
        capture = self._capture
        return {"width": capture.get(cv2.CAP_PROP_FRAME_WIDTH),
                "height": capture.get(cv2.CAP_PROP_FRAME_HEIGHT),
                "fps": capture.get(cv2.CAP_PROP_FPS)}

    def shortfalls(self) -> list[str]:
        """What the driver did not give of the size and rate the settings ask, with the fix.

        A size or frame rate below the settings' misses shots.
        """
        settings, locked, what = self._settings, self.locked, self._describe()
        found: list[str] = []
        width, height, fps = locked.get("width"), locked.get("height"), locked.get("fps")
        # 0 (or None) is a driver that does not say: nothing to hold against it.
        if width and height and (width < settings.width or height < settings.height):
            found.append(
                f"{what} gives {int(width)}x{int(height)} pictures, not the "
                f"{settings.width}x{settings.height} the projector settings ask: small "
                "laser dots would be missed; use a camera that gives that size at "
                f"{settings.fps:g} fps, or calibrate again at a size it gives")
        if fps and fps < settings.fps * _FPS_SLACK:
            found.append(
                f"{what} gives {fps:g} frames a second, not the {settings.fps:g} the "
                "projector settings ask: a laser flash between two frames is missed; use a "
                f"camera that can do {settings.fps:g} fps at {settings.width}x"
                f"{settings.height} (most USB 2 webcams cannot)")
        return found

    def unlocked(self) -> str | None:
        """What of exposure and gain the driver would not lock, with what to do; None: both.

        Only a warning: many drivers have no gain control at all, and exposure set by hand
        in the camera's own tool holds as well (which this cannot see). A stream's exposure
        is set on its camera, not through the stream, so it is not looked at, nor is a
        camera opened with ``lock_exposure`` False.
        """
        refused = [name for name in ("exposure", "gain")
                   if self._lock and isinstance(self._settings.source, int)
                   and self.locked.get(name) is None]
        if not refused:
            return None
        return (f"{self._describe()}'s driver would not lock its {' and '.join(refused)}: on "
                "a bright scene automatic exposure darkens the laser dot and shots are "
                "missed; set exposure and gain by hand in the camera's own tool, or use a "
                "camera whose driver lets them be set")

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of its pictures, as the driver gives them."""
        width, height = self.locked.get("width"), self.locked.get("height")
        if not width or not height:
            return self._settings.width, self._settings.height
        return int(width), int(height)

    @property
    def fps(self) -> float:
        """Frames a second, as the driver gives them (the settings' when it does not say)."""
        return self.locked.get("fps") or self._settings.fps

    def read(self) -> CameraFrame | None:
        """The next picture, waiting for it; None once closed.

        Raises `CameraError` when the camera stops sending pictures.
        """
        with self._state:
            if self._closed:
                return None
            self._reading = True
        try:
            failures = 0
            while True:
                frame = self._take()
                if self._closed:
                    return None
                if frame is not None:
                    return frame
                failures += 1
                if failures >= _FAILED_GRABS_ALLOWED:
                    raise CameraError(
                        f"{self._describe()} stopped sending pictures: check its cable and "
                        "power; shots are not being seen")
        finally:
            with self._state:
                self._reading = False
                if self._closed:
                    self._release()

    def _take(self) -> CameraFrame | None:
        if not self._capture.grab():
            return None
        # Stamped before decoding: decoding takes milliseconds the trainee never saw.
        arrived_ns = self._clock.now_ns()
        ok, image = self._capture.retrieve()
        if not ok or image is None:
            return None
        number = self._number
        self._number += 1
        return CameraFrame(image=_as_bgr(np.asarray(image)), number=number,
                           exposure_ns=arrived_ns - self._latency_ns,
                           readout_ns=self._readout_ns)

    def close(self) -> None:
        """Release the camera; a `read` under way returns None once its grab is done.

        Never waits for that grab: OpenCV's capture must not be released while another
        thread is in it, so the reading thread releases it itself on its way out.
        """
        with self._state:
            self._closed = True
            if not self._reading:
                self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._capture.release()


class FileCamera:
    """A recorded camera feed replayed from a video file, for tests and demonstrations.

    Frame ``n`` is stamped ``start_ns + n * period``, the period from ``fps`` (the file's
    own frame rate when None). With ``realtime`` each frame is handed over no sooner than
    its place in the recording, counted from the first `read`, as a live camera would.
    """

    def __init__(self, path: str | Path, *, start_ns: int = 0, fps: float | None = None,
                 realtime: bool = False) -> None:
        try:
            self._container = av.open(str(path))
        except (OSError, av.FFmpegError) as error:
            raise CameraError(f"the camera recording {path} could not be opened ({error}): "
                              "check that the file exists and is a video") from error
        if not self._container.streams.video:
            self._container.close()
            raise CameraError(f"the camera recording {path} has no video in it")
        stream = self._container.streams.video[0]
        rate = fps if fps is not None else float(stream.average_rate or 30)
        self._fps = rate
        self._period_ns = 1e9 / rate
        self._size = (int(stream.codec_context.width), int(stream.codec_context.height))
        self._start_ns = start_ns
        self._realtime = realtime
        self._frames = self._container.decode(stream)
        self._number = 0
        self._began: float | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the recording's pictures."""
        return self._size

    @property
    def fps(self) -> float:
        """Frames a second the recording is replayed at."""
        return self._fps

    def read(self) -> CameraFrame | None:
        """The next picture of the recording; None at its end or once closed."""
        if self._realtime:
            if self._began is None:
                self._began = time.perf_counter()
            due = self._began + self._number * self._period_ns / 1e9
            # Waiting on the event, not sleeping, so that `close` wakes a waiting read.
            self._closed.wait(max(0.0, due - time.perf_counter()))
        with self._lock:
            if self._closed.is_set():
                return None
            frame = next(self._frames, None)
            if frame is None:
                return None
            number = self._number
            self._number += 1
            return CameraFrame(image=frame.to_ndarray(format="bgr24"), number=number,
                               exposure_ns=self._start_ns + round(number * self._period_ns))

    def close(self) -> None:
        """Close the file; a waiting `read` returns None."""
        with self._lock:
            if not self._closed.is_set():
                self._closed.set()
                self._container.close()


__all__ = ["CameraError", "CameraInfo", "Capture", "CaptureFactory", "FileCamera",
           "OpenCVCamera", "capture_backends", "list_cameras"]
