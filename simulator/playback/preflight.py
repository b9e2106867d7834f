"""Pre-flight: before a run starts, every clip it may play is found, long enough, and decodes.

A missing, short or corrupt file found here costs a minute before the class; found mid-run
it costs the scenario (a clip that ends early silently cuts its segment short). No Qt: the
console, the CLI and tests all call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from media_index import Probe, ProbeError, probe
from simulator.playback.decode import DecodeError, SegmentDecoder
from simulator.runtime.run import ClipResolver
from simulator.scenario import LoadedScenario
from simulator.scenario.lint import clip_too_short


@dataclass(frozen=True)
class MediaProblem:
    """One segment that could not be played, and why."""

    segment_id: str
    clip_id: str
    path: Path | None
    detail: str

    def __str__(self) -> str:
        where = str(self.path) if self.path else f"clip `{self.clip_id}`"
        return f"segment `{self.segment_id}`: {where}: {self.detail}"


# The vlc player's memory grows with every cut (libvlc keeps what its players allocated):
# about 2 GB after 100 cuts of 720p footage, 3 to 12 GB at 1080p and 4K. It is for footage
# no larger than this.
VLC_LARGEST = (1280, 720)


def preflight(loaded: LoadedScenario, variant_id: str, clips: ClipResolver, *,
              largest: tuple[int, int] | None = None, player: str = "this player"
              ) -> list[MediaProblem]:
    """Problems with the media of ``variant_id`` (empty when every segment can play).

    Each clip's duration is probed from the file itself, indexed or not: the header read
    costs less than the first frame decoded after it, and is true of the file as it is now.
    ``largest``: the largest picture ``player`` is for; a larger clip is a problem.
    """
    problems: list[MediaProblem] = []
    checked: dict[tuple[Path, float, float], str | None] = {}
    durations: dict[Path, Probe | ProbeError] = {}

    def check(path: Path, in_s: float, out_s: float, what: str) -> str | None:
        key = (path, in_s, out_s)
        if key not in checked:
            checked[key] = _first_frame_problem(path, in_s, out_s, what)
        return checked[key]

    for index, segment in enumerate(loaded.scenario.segments):
        path = clips(variant_id, segment.clip)
        if path is None or not path.is_file():
            problems.append(MediaProblem(
                segment.id, segment.clip, path,
                "file not found; generate or index the variant's clips, or fix `clips:` in "
                "the scenario"))
            continue
        if path not in durations:
            durations[path] = _probe(path)
        facts = durations[path]
        if isinstance(facts, ProbeError):
            problems.append(MediaProblem(segment.id, segment.clip, path, facts.reason))
            continue
        if largest is not None and facts.width * facts.height > largest[0] * largest[1]:
            problems.append(MediaProblem(
                segment.id, segment.clip, path,
                f"{facts.width}x{facts.height} is larger than {player} is for "
                f"({largest[0]}x{largest[1]}): its memory grows with every cut; play with "
                "`backend: pyav` in projector.yaml, or re-encode the clip smaller"))
            continue
        if (short := clip_too_short(segment, index, facts.duration_s)) is not None:
            problems.append(MediaProblem(segment.id, segment.clip, path, short))
            continue
        spans = [(segment.in_point, segment.out_point, "the segment's in-point")]
        waiting = segment.decision.while_waiting if segment.decision else None
        if waiting is not None and waiting.mode == "loop":
            spans.append((segment.in_point + waiting.start, segment.in_point + waiting.end,
                          "the start of its `while_waiting` loop"))
        for in_s, out_s, what in spans:
            if (detail := check(path, in_s, out_s, what)) is not None:
                problems.append(MediaProblem(segment.id, segment.clip, path, detail))
                break
    return problems


def _probe(path: Path) -> Probe | ProbeError:
    try:
        return probe(path, keyframes=False)
    except ProbeError as exc:
        return exc


def _first_frame_problem(path: Path, in_s: float, out_s: float, what: str) -> str | None:
    try:
        decoder = SegmentDecoder(path, in_s, out_s)
    except DecodeError as exc:
        return str(exc).removeprefix(f"{path}: ")
    try:
        first = next(iter(decoder), None)
    except DecodeError as exc:
        return str(exc).removeprefix(f"{path}: ")
    finally:
        decoder.close()
    if first is None:
        return f"has no frame at {what} ({in_s:g} s); the clip is shorter than the scenario says"
    return None
