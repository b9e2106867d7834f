"""The projector PC's own settings: which screen, which player, its measured lag, its devices.

They belong to the installation, not to a scenario: one YAML file in the data folder
(``projector.yaml``), written by ``branchpoint projector calibrate`` and editable by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from simulator.agency import AgencyProfile
from simulator.devices.settings import (
    CameraSettings,
    HidTriggerSettings,
    RecordingSettings,
    SerialTriggerSettings,
    WeaponSettings,
)
from simulator.documents import DocumentError, load_document
from simulator.documents.writing import write_whole
from simulator.paths import data_dir

SETTINGS_FILE = "projector.yaml"
SETTINGS_SCHEMA_VERSION = 1
Backend = Literal["pyav", "vlc"]


class KeyBinding(BaseModel):
    """What a key on the trainee's side means: which device sent it, and as what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = Field(min_length=1, max_length=64)
    kind: Literal["key", "shot", "tool"] = "key"
    action: str | None = None


class ProjectorSettings(BaseModel):
    """Installation settings (all optional; the defaults suit a single-trainee room)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SETTINGS_SCHEMA_VERSION
    backend: Backend = "pyav"
    screen: str | int | None = Field(
        default=None, description="Screen name or number for the projector; default: the "
        "last screen (a projector is usually the second).")
    display_lag_ms: float | None = Field(
        default=None, ge=0, le=500, description="Measured light-sensor lag of this screen.")
    audio: bool = True
    # Where the frame-exact player decodes clips: ``auto`` (this PC's graphics chip if one
    # comes up, else software), ``software``, or one device kind (``d3d11va``, ``dxva2``,
    # ``vaapi``, ``videotoolbox``, ``cuda``, ``qsv``); docs/projector.md, "Large footage".
    decoding: str = Field(default="auto", pattern=r"^[a-z0-9_]{2,20}$")
    # How pictures reach the screen: ``gpu`` (OpenGL: YUV converted by a shader, swapped at
    # vsync, stamped at the swap), ``cpu`` (QPainter, stamped at the paint), or ``auto``
    # (the GPU where a graphics chip draws, not a software renderer); docs/projector.md.
    presenter: Literal["auto", "gpu", "cpu"] = "auto"
    # Keys that trainee devices send (a trigger or tool that types a key), by Qt key name.
    # The keyboard is the instructor's: a key is the trainee's only if it is bound here.
    keys: dict[str, KeyBinding] = Field(default_factory=dict)
    # Which trainee (1-based position in the run) holds which device.
    devices: dict[str, Annotated[int, Field(ge=1, le=32)]] = Field(
        default_factory=lambda: {"pointer": 1, "trigger": 1})
    # The range: a camera watching the screen for laser shots, the weapons it tells apart
    # (by name, as in `devices`), and USB or serial triggers (docs/range-hardware.md).
    camera: CameraSettings | None = None
    weapons: dict[str, WeaponSettings] = Field(default_factory=dict)
    triggers: dict[str, Annotated[SerialTriggerSettings | HidTriggerSettings,
                                  Field(discriminator="kind")]] = Field(default_factory=dict)
    # The room camera and microphone that record trainees for the debrief, where the
    # agency's setting allows it (docs/recording.md).
    recording: RecordingSettings | None = None


def settings_path() -> Path:
    """Where this installation's projector settings live."""
    return data_dir() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> ProjectorSettings:
    """The settings file, or the defaults if there is none; DocumentError if it is wrong."""
    path = path or settings_path()
    if not path.exists():
        return ProjectorSettings()
    settings, _text = load_document(path, ProjectorSettings, kind="projector settings",
                                    current=SETTINGS_SCHEMA_VERSION,
                                    minimum=SETTINGS_SCHEMA_VERSION)
    return settings


def save_settings(settings: ProjectorSettings, path: Path | None = None) -> Path:
    """Write the settings (atomically, so a crash never leaves half a file)."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(settings.model_dump(mode="json", exclude_defaults=False),
                          sort_keys=False, allow_unicode=True)
    write_whole(path, text)
    return path


# Keys the instructor's console acts on (docs/console.md), besides every letter and digit.
# Bound to a trainee device, the instructor's press of one would be recorded as the
# trainee's, and the trainee's would steer the run.
CONSOLE_KEYS = frozenset({"Space", "Backspace", "Tab", "Backtab", "Return", "Enter", "Escape",
                          "F3", "F7", "F8", "Left", "Right", "Up", "Down", "PageUp",
                          "PageDown", "Home", "End", "Delete"})


def is_console_key(name: str) -> bool:
    """Whether the console acts on the key Qt names ``name`` (``Space``, ``1``, ``F3``)."""
    return name in CONSOLE_KEYS or (len(name) == 1 and name.isalnum())


def binding_problems(settings: ProjectorSettings, profile: AgencyProfile,
                     source: Path | None = None) -> list[str]:
    """Key bindings that cannot stand, as messages to show.

    A key the console acts on (files written before keys were the instructor's bound
    Space to the trigger), or an action the agency profile does not know.
    """
    where = source or settings_path()
    known = sorted({*profile.verbal_tactics, *(o.id for o in profile.force_options)})
    console = [f"{where}: keys.{key}: `{key}` is one of the instructor's keys at the console, "
               f"so a press of it there would be recorded as the trainee's "
               f"{binding.device}; bind the {binding.device} to a key the console does not "
               "use, such as F12 or F13-F24, or remove the binding"
               for key, binding in settings.keys.items() if is_console_key(key)]
    return console + [
        f"{where}: keys.{key}.action: `{binding.action}` is neither a force option nor a "
        f"verbal tactic of the agency profile; use one of: {', '.join(known)}"
        for key, binding in settings.keys.items()
        if binding.action is not None and binding.action not in profile.verbal_tactics
        and profile.force_option(binding.action) is None]


__all__ = ["DocumentError", "KeyBinding", "ProjectorSettings", "binding_problems",
           "is_console_key", "load_settings", "save_settings", "settings_path"]
