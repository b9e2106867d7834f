"""The simulator's side of the media index: vocabulary, lint's view of clips, coverage input.

The index itself knows nothing of scenarios or profiles; this module translates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from media_index import Attribute, Clip, MediaIndex, ProbeError, Vocabulary, probe
from media_index.coverage import Appearance
from media_index.sidecar import SETTING_VALUES, SIDECAR_SCHEMA_VERSION, sidecar_for
from simulator.agency import AgencyProfile
from simulator.record import PlayedClip
from simulator.scenario import LoadedScenario
from simulator.scenario.model import MEDIA_REF, absolute_reference


def vocabulary_for(profile: AgencyProfile) -> Vocabulary:
    """The profile's demographic attributes in the form the index checks tags against."""
    return {key: Attribute(frozenset(spec.values), spec.multiple)
            for key, spec in profile.demographics.items()}


def resolve_clip(loaded: LoadedScenario, index: MediaIndex | None, variant_id: str,
                 clip_id: str) -> Path | None:
    """The file a variant plays: a path as the scenario gives it, or an indexed clip.

    ``media:<clip id>`` or ``media:<content hash or its first 12+ hex digits>`` name a clip
    of the index; a present clip's current path is used, so footage can be reorganised
    without editing scenarios.
    """
    reference = loaded.scenario.variant(variant_id).clips.get(clip_id)
    if reference is None or not reference.startswith(MEDIA_REF) or index is None:
        return loaded.clip_path(variant_id, clip_id)
    key = reference[len(MEDIA_REF):].strip()
    found = index.clips(ids=[key]) or (index.by_hash_prefix(key) if len(key) >= 12 else [])
    present = [c for c in found if c.status == "present"]
    return (present or found)[0].path if found else None


def playback_clip(loaded: LoadedScenario, index: MediaIndex | None, variant_id: str,
                  clip_id: str) -> Path | None:
    """The file the projector plays for a clip: `resolve_clip`'s, or its playback proxy.

    A playback proxy (``branchpoint media proxies --playback``) is a copy this PC plays in
    real time where it cannot play the original. It keeps the original's frame timing, so
    every clip time of the scenario and the record holds for it. It stands in only while the
    original is as it was indexed: a proxy of an earlier take would show the wrong frames.
    """
    path = resolve_clip(loaded, index, variant_id, clip_id)
    if path is None or index is None or not path.is_file():
        return path
    indexed = index.by_path(path)
    proxy = indexed.playback_proxy_path if indexed is not None else None
    if indexed is None or proxy is None or not proxy.is_file() or not as_indexed(indexed, path):
        return path
    return proxy


def played_clip(index: MediaIndex | None, clip_id: str, path: Path) -> PlayedClip:
    """The clip a run is about to play, with its content hash.

    Agency footage runs to gigabytes, and hashing it at every run start would keep a class
    waiting: when the index has the file at the same size and modification time, its hash
    is taken, on the same terms as an incremental scan.
    """
    indexed = index.by_path(path) if index is not None and path.is_file() else None
    if (indexed is not None and indexed.content_hash and indexed.status == "present"
            and as_indexed(indexed, path)):
        return PlayedClip(clip_id, str(path), indexed.content_hash, indexed.size_bytes)
    return PlayedClip.of(clip_id, path)


def as_indexed(indexed: Clip, path: Path) -> bool:
    """Whether the file has the size and modification time it had when it was indexed."""
    stat = path.stat()
    return (stat.st_size, stat.st_mtime_ns) == (indexed.size_bytes, indexed.mtime_ns)


def replay_files(index: MediaIndex, played: Mapping[str, Path]) -> dict[str, Path]:
    """The files to replay a run from: each clip's proxy where the index has one.

    A short-keyframe proxy makes a seek decode a few frames, not a second of them. It keeps
    the original's timestamps, so the record's clip times hold for it.
    """
    files = {}
    for clip_id, path in played.items():
        clip = index.by_path(path)
        # A playback proxy has short keyframe intervals too, and does where no review
        # proxy was made. Neither, of an earlier take copied over this one since.
        fresh = clip is not None and (not path.is_file() or as_indexed(clip, path))
        proxies = (clip.proxy_path, clip.playback_proxy_path) if clip and fresh else ()
        files[clip_id] = next((p for p in proxies if p is not None and p.is_file()), path)
    return files


class IndexedClips:
    """Lint's view of one scenario's clips: where they are and what the index says."""

    def __init__(self, loaded: LoadedScenario, index: MediaIndex) -> None:
        self._loaded = loaded
        self._index = index

    def path(self, variant_id: str, clip_id: str) -> Path | None:
        """The file the variant plays for the clip."""
        return resolve_clip(self._loaded, self._index, variant_id, clip_id)

    def facts(self, path: Path) -> Clip | None:
        """The index's entry for the file, if it was indexed."""
        return self._index.by_path(path)

    def duration(self, path: Path) -> float:
        """Seconds of video in the file: the index's figure while the file is as indexed.

        A file the index has not seen, or that changed since (a new take copied over the
        old one), is probed now; only its header is read, not its keyframes.

        Raises:
            ProbeError: the file cannot be read as video (now, or as indexed).
        """
        indexed = self._index.by_path(path)
        if indexed is not None and as_indexed(indexed, path):
            if indexed.status == "unreadable":
                raise ProbeError(path, indexed.problem or "unreadable when it was indexed")
            if indexed.status == "present" and indexed.duration_s is not None:
                return indexed.duration_s
        return probe(path, keyframes=False).duration_s


def write_sidecars(loaded: LoadedScenario, media_root: Path) -> list[Path]:
    """Tag every clip of every variant with the variant's people and the scenario's setting.

    For stand-ins generated from the scenario, the variant is the truth about who is shown,
    so the sidecars simply say what it says.
    """
    setting = {k: v for k, v in loaded.scenario.setting.items() if k in SETTING_VALUES}
    written = []
    for variant in loaded.scenario.variants:
        people = {p: variant.demographics_of(p) for p in variant.people}
        for relative in variant.clips.values():
            if relative.startswith(MEDIA_REF) or absolute_reference(relative):
                continue  # an agency's own footage, tagged by the agency
            sidecar = sidecar_for(media_root / relative)
            if not sidecar.parent.is_dir():
                continue
            _write_sidecar(sidecar, people, setting)
            written.append(sidecar)
    return written


def _write_sidecar(sidecar: Path, people: Mapping[str, Mapping[str, list[str]]],
                   setting: Mapping[str, str]) -> None:
    text = yaml.safe_dump({"schema_version": SIDECAR_SCHEMA_VERSION,
                           "people": {p: dict(d) for p, d in people.items()},
                           "setting": dict(setting)}, sort_keys=True)
    if not sidecar.is_file() or sidecar.read_text(encoding="utf-8") != text:
        sidecar.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class TagsWritten:
    """What `write_variant_tags` did: the sidecars it wrote, and what it left alone and why.

    ``tagged``: the clip files those sidecars describe, for the index to read again.
    """

    written: tuple[Path, ...]
    skipped: tuple[str, ...]
    tagged: tuple[Path, ...] = ()


def write_variant_tags(loaded: LoadedScenario, index: MediaIndex | None) -> TagsWritten:
    """Tag each variant's clip files with the people the variant portrays, and the setting.

    The scenario studio asks for each person's demographics once, per variant; the media
    index's tags are made from that, so they are never typed twice and cannot disagree.
    What a sidecar says that the scenario does not (another person, an attribute or a
    setting tag it leaves unsaid) is kept. A file two variants play portraying someone
    differently (or two files sharing one sidecar, ``take.mp4`` and ``take.mov``) is left
    as it is and named, as is a sidecar that cannot be read.
    """
    setting = {k: v for k, v in loaded.scenario.setting.items() if k in SETTING_VALUES}
    wanted: dict[Path, tuple[str, dict[str, dict[str, list[str]]]]] = {}
    clashing: set[Path] = set()
    clips: dict[Path, set[Path]] = {}
    skipped: list[str] = []
    for variant in loaded.scenario.variants:
        people = {p: d for p in variant.people if (d := variant.demographics_of(p))}
        for clip_id in variant.clips:
            path = resolve_clip(loaded, index, variant.id, clip_id)
            if path is None or not path.is_file():
                skipped.append(f"variant `{variant.id}` clip `{clip_id}`: no file to tag")
                continue
            sidecar = sidecar_for(path)
            clips.setdefault(sidecar, set()).add(path)
            first = wanted.setdefault(sidecar, (variant.id, people))
            if first[1] != people and sidecar not in clashing:
                clashing.add(sidecar)
                skipped.append(f"{sidecar}: variants `{first[0]}` and `{variant.id}` both tag "
                               "it but portray its people differently; give each its own take")
    written = []
    for sidecar, (_, people) in wanted.items():
        if sidecar in clashing or not (people or setting):
            continue
        try:
            kept = yaml.safe_load(sidecar.read_text(encoding="utf-8")) \
                if sidecar.is_file() else {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            skipped.append(f"{sidecar}: left as it is, it cannot be read ({exc}); fix or "
                           "delete it and save again")
            continue
        kept = kept if isinstance(kept, dict) else {}
        merged_people = {p: dict(d) for p, d in (kept.get("people") or {}).items()
                         if isinstance(d, dict)}
        for person, stated in people.items():
            merged_people[person] = {**merged_people.get(person, {}), **stated}
        merged_setting = {**(kept.get("setting") or {}), **setting} \
            if isinstance(kept.get("setting") or {}, dict) else setting
        _write_sidecar(sidecar, merged_people, merged_setting)
        written.append(sidecar)
    tagged = sorted(clip for sidecar in written for clip in clips[sidecar])
    return TagsWritten(tuple(written), tuple(skipped), tuple(tagged))


def scenario_minutes(scenarios: Iterable[LoadedScenario]) -> list[Appearance]:
    """Everyone shown in every variant, weighted by their minutes on screen.

    A person is on screen in a segment when they have a cue or a line in it; someone who
    has neither anywhere in the scenario is counted for the whole of it.
    """
    out = []
    for loaded in scenarios:
        scenario = loaded.scenario
        total = sum(s.duration for s in scenario.segments)
        for variant in scenario.variants:
            for person in variant.people:
                seconds = sum(s.duration for s in scenario.segments
                              if any(c.person == person for c in s.cues)
                              or any(line.who == person for line in s.lines))
                out.append(Appearance(variant.demographics_of(person),
                                      (seconds or total) / 60))
    return out


def clip_appearances(clips: Iterable[Clip]) -> list[Appearance]:
    """Each person tagged in each present clip, counted once."""
    return [Appearance(demographics) for clip in clips if clip.status == "present"
            for demographics in clip.people.values()]
