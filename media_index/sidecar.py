"""Tags for a clip, from a sidecar YAML beside it: who is shown, and the setting.

```yaml
# knock.tags.yaml, beside knock.mp4
schema_version: 1
people:
  resident: {race: black_african_american, gender: man, age_band: age_35_44,
             language: en, disability: mental_health_crisis}
setting: {environment: indoor, light: day, location: apartment_hallway, language: en}
```

Demographic keys and values are checked against the vocabulary the caller passes (the
agency's profile), so the index itself depends on nothing of the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# libyaml's safe loader when PyYAML has it: sidecars are read by the thousand.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SIDECAR_SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".tags.yaml"
MAX_SIDECAR_BYTES = 256 * 1024

# Setting tags with a closed vocabulary; `location` and `language` are open (a place type,
# a language code) because every agency films somewhere else.
SETTING_VALUES: dict[str, frozenset[str] | None] = {
    "environment": frozenset({"indoor", "outdoor", "vehicle"}),
    # Artificial: lit by lamps, indoors or out; low_light: hard to see, whatever the hour.
    "light": frozenset({"day", "dusk", "night", "low_light", "artificial"}),
    "location": None,
    "language": None,
}


@dataclass(frozen=True)
class Attribute:
    """One demographic attribute the caller accepts: its values, and whether several apply."""

    values: frozenset[str]
    multiple: bool


Vocabulary = Mapping[str, Attribute]


class SidecarError(ValueError):
    """A sidecar that cannot be used; names the file and the field."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path}: {field + ': ' if field else ''}{message}")
        self.path = path
        self.field = field


class _Sidecar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    people: dict[str, dict[str, str | list[str]]] = Field(default_factory=dict)
    setting: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class ClipTags:
    """A clip's tags: each person's demographics (lists of values) and its setting."""

    people: dict[str, dict[str, list[str]]]
    setting: dict[str, str]

    def rows(self) -> list[tuple[str, str, str]]:
        """(person, key, value) triples; the person is empty for setting tags."""
        out = [("", key, value) for key, value in sorted(self.setting.items())]
        for person, attributes in sorted(self.people.items()):
            out += [(person, key, value) for key, values in sorted(attributes.items())
                    for value in values]
        return out


def sidecar_for(clip: Path) -> Path:
    """Where the sidecar of ``clip`` lives: ``<stem>.tags.yaml`` beside it."""
    return clip.with_name(clip.stem + SIDECAR_SUFFIX)


def read_sidecar(path: Path, vocabulary: Vocabulary) -> ClipTags:
    """Parse and check a sidecar; raises SidecarError naming the file and the field."""
    try:
        raw = path.read_bytes()[: MAX_SIDECAR_BYTES + 1]
    except OSError as exc:
        raise SidecarError(path, "", f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_SIDECAR_BYTES:
        raise SidecarError(path, "", f"larger than {MAX_SIDECAR_BYTES:,} bytes")
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except UnicodeDecodeError:
        raise SidecarError(path, "", "not UTF-8 text; save the sidecar as UTF-8") from None
    except yaml.YAMLError as exc:
        raise SidecarError(path, "", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SidecarError(path, "", "must be a YAML mapping with `schema_version`, `people` "
                           "and `setting` (see docs/media.md)")
    try:
        parsed = _Sidecar.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"] if str(p) not in ("str", "list[str]")]
        raise SidecarError(path, ".".join(loc), str(first["msg"])) from None
    if parsed.schema_version > SIDECAR_SCHEMA_VERSION:
        raise SidecarError(path, "schema_version",
                           f"version {parsed.schema_version} is newer than this Branchpoint "
                           f"reads ({SIDECAR_SCHEMA_VERSION}); update Branchpoint")
    if parsed.schema_version < SIDECAR_SCHEMA_VERSION:
        raise SidecarError(path, "schema_version",
                           f"version {parsed.schema_version}; this Branchpoint reads "
                           f"{SIDECAR_SCHEMA_VERSION}")
    return check_tags(path, parsed.people, parsed.setting, vocabulary)


def check_tags(source: Path, people: Mapping[str, Mapping[str, str | list[str]]],
               setting: Mapping[str, str], vocabulary: Vocabulary) -> ClipTags:
    """Tags checked against the vocabulary (shared by sidecars and the command line)."""
    checked_people: dict[str, dict[str, list[str]]] = {}
    for person, attributes in people.items():
        if not person.strip():
            raise SidecarError(source, "people", "a person needs an id (the scenario's)")
        checked: dict[str, list[str]] = {}
        for key, raw in attributes.items():
            field = f"people.{person}.{key}"
            spec = vocabulary.get(key)
            if spec is None:
                raise SidecarError(source, field, f"`{key}` is not a demographic attribute; "
                                   f"attributes are: {', '.join(sorted(vocabulary))}")
            # A value given twice is the same value once.
            values = list(dict.fromkeys([raw] if isinstance(raw, str) else raw))
            if len(values) > 1 and not spec.multiple:
                raise SidecarError(source, field, f"`{key}` takes one value, not {len(values)}")
            for value in values:
                if value not in spec.values:
                    raise SidecarError(source, field,
                                       f"`{value}` is not a value of `{key}`; values are: "
                                       f"{', '.join(sorted(spec.values))}")
            checked[key] = values
        checked_people[person] = checked
    for key, value in setting.items():
        if key not in SETTING_VALUES:
            raise SidecarError(source, f"setting.{key}",
                               f"unknown setting tag; tags are: {', '.join(SETTING_VALUES)}")
        allowed = SETTING_VALUES[key]
        if allowed is not None and value not in allowed:
            raise SidecarError(source, f"setting.{key}",
                               f"`{value}` is not one of: {', '.join(sorted(allowed))}")
    return ClipTags(checked_people, dict(setting))
