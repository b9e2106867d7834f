"""The room camera and microphone of ``projector.yaml``'s ``recording:``, opened for a class.

They are opened at each pre-flight of a class that records its trainees (a device unplugged
since is found then, and one plugged back in is used again) and stay open from run to run,
each read all the time by its feed, so that a run's first second is recorded like the
others and nothing taken before it is.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.devices.camera import CameraError, OpenCVCamera
from simulator.devices.frames import CameraSource
from simulator.devices.settings import MicrophoneSettings, RecordingSettings, RoomCameraSettings
from simulator.names import inert
from simulator.ports import Clock
from simulator.recording.feeds import CameraFeed, MicrophoneFeed
from simulator.recording.sound import Microphone, MicrophoneError, SoundDeviceMicrophone
from simulator.training.recording import RecordingDevices

OpenCamera = Callable[[RoomCameraSettings, Clock], CameraSource]
OpenMicrophone = Callable[[MicrophoneSettings, Clock], Microphone]


def _open_camera(settings: RoomCameraSettings, clock: Clock) -> CameraSource:
    # Automatic exposure: a face in changing light, not a laser dot, is what matters here.
    return OpenCVCamera(settings.as_camera(), clock, settle_frames=0, lock_exposure=False)


def _open_microphone(settings: MicrophoneSettings, clock: Clock) -> Microphone:
    return SoundDeviceMicrophone(clock, device=settings.device, rate=settings.rate,
                                 channels=settings.channels)


def camera_name(settings: RoomCameraSettings) -> str:
    """What the record and the console call the room camera.

    Never a stream's address, which may hold a password.
    """
    if isinstance(settings.source, int):
        return f"room camera {settings.source}"
    return "room camera (network stream)"


def microphone_name(settings: MicrophoneSettings) -> str:
    """What the record and the console call the microphone."""
    if settings.device is None:
        return "default microphone"
    return f"microphone {inert(str(settings.device))[:80]}"


class RoomRecordingDevices:
    """Opens and keeps the room camera and microphone; ``open_*`` are for tests."""

    def __init__(self, settings: RecordingSettings | None, clock: Clock, *,
                 open_camera: OpenCamera = _open_camera,
                 open_microphone: OpenMicrophone = _open_microphone) -> None:
        self.settings = settings
        self._clock = clock
        self._open_camera = open_camera
        self._open_microphone = open_microphone
        self._opened: RecordingDevices | None = None

    @property
    def opened(self) -> RecordingDevices | None:
        """What `open` opened last, until `close`."""
        return self._opened

    def open(self) -> RecordingDevices | None:
        """Close what is open and open the devices anew; None when none are set up.

        A device that cannot be opened is a problem in the result, naming it and the fix;
        the other is still opened.
        """
        self.close()
        settings = self.settings
        if settings is None or (settings.camera is None and settings.microphone is None):
            return None
        devices = RecordingDevices(speech=settings.speech)
        if settings.camera is not None:
            devices.camera_name = camera_name(settings.camera)
            try:
                devices.camera = CameraFeed(self._open_camera(settings.camera, self._clock))
            except CameraError as exc:
                devices.problems.append(f"the room camera: {exc}")
        if settings.microphone is not None:
            devices.microphone_name = microphone_name(settings.microphone)
            try:
                devices.microphone = MicrophoneFeed(
                    self._open_microphone(settings.microphone, self._clock))
            except MicrophoneError as exc:
                devices.problems.append(f"the microphone: {exc}")
        self._opened = devices
        return devices

    def close(self) -> None:
        """Release the camera and the microphone."""
        opened, self._opened = self._opened, None
        if opened is None:
            return
        try:
            if opened.camera is not None:
                opened.camera.close()
        finally:
            if opened.microphone is not None:
                opened.microphone.close()
