"""How an installation's range devices are set up: its camera, its weapons, its triggers.

They live in ``projector.yaml`` beside the screen and player settings (the projector PC is
where the devices are plugged in). The calibration the camera needs is measured, not typed,
and is kept apart in ``camera_calibration.yaml`` (`calibration_store`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LaserColour = Literal["red", "green", "infrared"]
Recoil = Literal["up", "down", "left", "right", "none"]

# A pulse pattern is what the weapon's laser does on consecutive camera frames from the
# first frame it is seen: 1 lit, 0 dark ("101" = lit, dark, lit). It starts lit.
_PULSE = re.compile(r"^1[01]{0,15}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(_Strict):
    """The camera that watches the screen for laser shots."""

    source: int | str = Field(
        default=0, description="Camera number (0 = first) or a stream URL (rtsp://...).")
    width: int = Field(default=1280, ge=160, le=7680)
    height: int = Field(default=720, ge=120, le=4320)
    fps: float = Field(default=60.0, gt=0, le=1000)
    # Locked so that a bright scene does not darken the laser dot (auto exposure would).
    exposure: float | None = Field(
        default=None, description="Exposure in the driver's units, locked for the run; "
        "None: lock whatever the camera settled on.")
    gain: float | None = None
    latency_ms: float = Field(
        default=0.0, ge=0, le=1000, description="Measured delay from exposure to the "
        "frame reaching the computer; subtracted from each frame's stamp.")
    readout_ms: float = Field(
        default=0.0, ge=0, le=100, description="Rolling shutter: time from exposing the "
        "top row to the bottom row; 0 for a global shutter.")
    infrared: bool = Field(
        default=False, description="The camera has an IR-pass filter (sees infrared lasers "
        "only).")
    tolerance: float = Field(
        default=0.005, gt=0, le=0.1, description="How far (fraction of the picture's "
        "width) the calibration may have moved before a run is refused.")


class WeaponSettings(_Strict):
    """A laser-fitted training weapon, told apart from the others by colour or pulse."""

    colour: LaserColour = "red"
    pulse: str | None = Field(
        default=None, description="Per-frame pulse pattern (`1` lit, `0` dark) when two "
        "weapons share a colour; None: any single flash.")
    force_option: str = Field(default="firearm", min_length=1, max_length=64)
    recoil: Recoil = Field(
        default="up", description="Which way a recoil kit smears the dot; the shot is "
        "the streak's other end, where it began.")

    @field_validator("pulse")
    @classmethod
    def _pulse_pattern(cls, value: str | None) -> str | None:
        if value is not None and not _PULSE.match(value):
            raise ValueError("a pulse pattern is 1 to 16 of `1` (lit) and `0` (dark), "
                             "starting with `1`, such as `1101`")
        return value


class SerialTriggerSettings(_Strict):
    """A trigger or button on a serial port (USB-serial adapters included)."""

    kind: Literal["serial"] = "serial"
    port: str = Field(min_length=1, max_length=256, description="COM3, /dev/ttyUSB0...")
    baudrate: int = Field(default=9600, ge=50, le=4_000_000)
    # What the device sends for a press, learned in the console ("press the button").
    press: str = Field(min_length=1, max_length=64, description="The bytes of a press, "
                       "in hex (`31` for the character 1).")
    action: str | None = Field(default=None, max_length=64)


class HidTriggerSettings(_Strict):
    """A USB HID button, foot pedal or trigger."""

    kind: Literal["hid"] = "hid"
    vendor_id: int = Field(ge=0, le=0xFFFF)
    product_id: int = Field(ge=0, le=0xFFFF)
    serial_number: str | None = Field(default=None, max_length=128)
    # The report byte and bit mask that change on a press, learned in the console.
    byte: int = Field(ge=0, le=63)
    mask: int = Field(ge=1, le=0xFF)
    action: str | None = Field(default=None, max_length=64)


TriggerSettings = SerialTriggerSettings | HidTriggerSettings


class RoomCameraSettings(_Strict):
    """The camera that faces the trainee and records them for the debrief.

    Unlike the range camera it keeps automatic exposure: a face in changing light matters
    more here than a steady laser dot.
    """

    source: int | str = Field(
        default=0, description="Camera number (0 = first) or a stream URL (rtsp://...).")
    width: int = Field(default=1280, ge=160, le=3840)
    height: int = Field(default=720, ge=120, le=2160)
    fps: float = Field(default=30.0, gt=0, le=120)
    latency_ms: float = Field(
        default=0.0, ge=0, le=1000, description="Measured delay from exposure to the "
        "frame reaching the computer; subtracted from each frame's stamp.")

    def as_camera(self) -> CameraSettings:
        """The same camera in the terms the camera adapter opens cameras by."""
        return CameraSettings(source=self.source, width=self.width, height=self.height,
                              fps=self.fps, latency_ms=self.latency_ms)


class MicrophoneSettings(_Strict):
    """The microphone that records what the trainee says."""

    device: int | str | None = Field(
        default=None, description="Input device number or name (as `branchpoint projector "
        "devices` lists them); None: the system's default input.")
    # What the recording's AAC sound takes (`simulator.recording.fragments.AudioFormat`).
    rate: int = Field(default=48_000, ge=8_000, le=96_000)
    channels: int = Field(default=1, ge=1, le=2)


class SpeechSettings(_Strict):
    """Spotting the agency's phrases for each verbal tactic in what the microphone hears."""

    languages: list[str] = Field(
        default_factory=lambda: ["en"], min_length=1, max_length=8,
        description="Language codes whose phrases are listened for (the agency profile's).")
    whisper_model: str | None = Field(
        default=None, max_length=1024, description="A faster-whisper model folder the "
        "agency installed; None: pocketsphinx with the model it ships (US English).")


class RecordingSettings(_Strict):
    """The room camera and microphone that record trainees, where the agency allows it.

    Recording happens only where the agency's setting turns it on and the class keeps it
    on; these say which devices do it (docs/recording.md).
    """

    camera: RoomCameraSettings | None = None
    microphone: MicrophoneSettings | None = None
    speech: SpeechSettings | None = Field(
        default_factory=SpeechSettings, description="None: no phrase spotting.")


__all__ = ["CameraSettings", "HidTriggerSettings", "LaserColour", "MicrophoneSettings",
           "Recoil", "RecordingSettings", "RoomCameraSettings", "SerialTriggerSettings",
           "SpeechSettings", "TriggerSettings", "WeaponSettings"]
