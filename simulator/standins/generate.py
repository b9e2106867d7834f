"""Generating a scenario's stand-in clips, incrementally, with a manifest of what was made."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.paths import standins_dir
from simulator.scenario.loader import LoadedScenario
from simulator.standins.plan import ClipPlan, plan_scenario, plans_fingerprint
from simulator.standins.presets import Preset, Size, preset
from simulator.standins.render import ffmpeg_argv, fonts_used
from simulator.standins.speech import speech_path, synthesise
from simulator.standins.tools import RenderError, StandinError, Tools, find_tools, run_tool

GENERATOR = "branchpoint-standins"
# Bump whenever the same scenario and preset would render different bytes.
GENERATOR_VERSION = 1
MANIFEST_NAME = "manifest.json"
# The machines this runs on have two cores; each ffmpeg is held to one thread.
WORKERS = 2

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClipRecord:
    """One generated file: which variant and clip it is, where, how long, its hash."""

    variant: str
    clip: str
    path: str
    duration: float
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """What a generation made, and from what; stored as ``manifest.json`` beside the clips.

    ``rendered`` lists the paths rendered by the call that returned this manifest (empty
    when everything was already up to date); it is not stored.
    """

    generator: str
    version: int
    size: str
    parameters: dict[str, int | str]
    tools: dict[str, str]
    scenario_id: str
    scenario_hash: str
    plan_hash: str
    clips: tuple[ClipRecord, ...]
    rendered: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> str:
        """The manifest as stored (without ``rendered``)."""
        data = asdict(self)
        del data["rendered"]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Read a stored manifest; ValueError (or KeyError, TypeError) if it is malformed."""
        data: dict[str, Any] = json.loads(text)
        clips = tuple(ClipRecord(**c) for c in data.pop("clips"))
        return cls(**data, clips=clips)

    def clip(self, path: str) -> ClipRecord | None:
        """The record of the file at ``path`` (relative, as in the variant's map)."""
        return next((c for c in self.clips if c.path == path), None)


def default_out_dir(loaded: LoadedScenario) -> Path:
    """Where a scenario's stand-ins belong: the folder ``LoadedScenario.clip_path`` searches."""
    return standins_dir() / loaded.scenario.id


def read_manifest(out_dir: Path) -> Manifest | None:
    """The manifest in ``out_dir``, or None if there is none or it cannot be read."""
    try:
        return Manifest.from_json((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def generate_scenario(loaded: LoadedScenario, out_dir: Path, *, size: Size = "demo",
                      progress: Progress | None = None) -> Manifest:
    """Render every clip of every variant of ``loaded`` under ``out_dir``; return the manifest.

    Each clip goes to ``out_dir / <path in the variant's clips map>`` (normally
    ``out_dir`` is :func:`default_out_dir`). Clips the manifest already records for the
    same generator version, preset, scenario text and plan, and whose files still hash
    as recorded, are not rendered again. Files appear only when complete (written under a
    temporary name, then renamed). ``progress`` receives one-line messages, always on the
    calling thread.

    Raises MissingToolError if ffmpeg or espeak-ng is not installed, RenderError if one
    fails (with its last error lines and the clip's path), StandinError for clip paths
    that cannot be generated.
    """
    say = progress or (lambda _message: None)
    chosen = preset(size)
    plans = plan_scenario(loaded)
    tools = find_tools()
    scenario = loaded.scenario
    header = {
        "generator": GENERATOR, "version": GENERATOR_VERSION, "size": chosen.name,
        "parameters": chosen.parameters(), "scenario_id": scenario.id,
        "scenario_hash": loaded.content_hash, "plan_hash": plans_fingerprint(plans),
    }
    previous = read_manifest(out_dir)
    kept: dict[str, ClipRecord] = {}
    if previous is not None and all(getattr(previous, k) == v for k, v in header.items()):
        kept = {p.path: record for p in plans
                if (record := previous.clip(p.path)) is not None
                and _intact(out_dir / p.path, record)}
    todo = [p for p in plans if p.path not in kept]
    if not todo and previous is not None:
        say(f"{scenario.id}: {len(plans)} stand-in clips up to date ({chosen.name})")
        return previous

    say(f"{scenario.id}: rendering {len(todo)} of {len(plans)} stand-in clips "
        f"({chosen.name}, {chosen.width}x{chosen.height})")
    rendered = _render_all(todo, chosen, tools, out_dir, say)
    records = {**kept, **{r.path: r for r in rendered}}
    manifest = Manifest(
        generator=GENERATOR, version=GENERATOR_VERSION, size=chosen.name,
        parameters=chosen.parameters(),
        tools={**tools.versions(), "fonts": fonts_used()},
        scenario_id=scenario.id, scenario_hash=loaded.content_hash,
        plan_hash=str(header["plan_hash"]),
        clips=tuple(records[p.path] for p in plans),
        rendered=tuple(p.path for p in todo),
    )
    _write_atomically(out_dir / MANIFEST_NAME, manifest.to_json().encode("utf-8"))
    return manifest


def _render_all(plans: list[ClipPlan], chosen: Preset, tools: Tools, out_dir: Path,
                say: Progress) -> list[ClipRecord]:
    with tempfile.TemporaryDirectory(prefix="branchpoint-standins-") as scratch, \
            ThreadPoolExecutor(max_workers=WORKERS) as pool:
        workdir = Path(scratch)
        lines = sorted({(s.voice, s.text) for p in plans for s in p.speech})
        if lines:
            say(f"speaking {len(lines)} script lines with espeak-ng")
            _all([pool.submit(synthesise, tools, voice, text,
                              speech_path(workdir, voice, text))
                  for voice, text in lines])
        pending = {pool.submit(_render_clip, plan, chosen, tools, workdir, i, out_dir)
                   for i, plan in enumerate(plans)}
        records = []
        done_count = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            _raise_first_failure(done, pending)
            for future in done:
                record, seconds = future.result()
                records.append(record)
                done_count += 1
                say(f"  {record.path}  {record.duration:.1f} s, {record.bytes // 1024} KB, "
                    f"rendered in {seconds:.2f} s ({done_count}/{len(plans)})")
        return records


def _all(futures: list[Future[None]]) -> None:
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    _raise_first_failure(done, pending)


def _raise_first_failure(done: set[Future[Any]], pending: set[Future[Any]]) -> None:
    for future in done:
        error = future.exception()
        if error is not None:
            # Clips not yet started are dropped; the running ones finish and are kept.
            for other in pending:
                other.cancel()
            raise error


def _render_clip(plan: ClipPlan, chosen: Preset, tools: Tools, workdir: Path, index: int,
                 out_dir: Path) -> tuple[ClipRecord, float]:
    started = time.monotonic()
    target = out_dir / plan.path
    texts = workdir / f"clip{index:03d}"
    speech = [speech_path(workdir, s.voice, s.text) for s in plan.speech]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StandinError(f"cannot create the folder for {target}: {exc}") from None
    with _temporary_beside(target) as partial:
        argv = ffmpeg_argv(tools.ffmpeg, plan, chosen, texts, speech, partial)
        run_tool(argv, what=f"rendering {target}")
        _fsync(partial)
        data = partial.read_bytes()
        if not data:
            raise RenderError(f"ffmpeg wrote an empty file while rendering {target}")
        partial.replace(target)
    record = ClipRecord(plan.variant_id, plan.clip_id, plan.path, plan.duration,
                        hashlib.sha256(data).hexdigest(), len(data))
    return record, time.monotonic() - started


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    # Same folder as the target so the final rename is atomic; hidden and unique so a
    # half-written file is never taken for a clip, even by a concurrent generation. Not
    # created here (as mkstemp would, private to the user): the writer creates it with the
    # usual permissions.
    partial = target.parent / f".{target.name}.{secrets.token_hex(6)}.partial"
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(path) as partial:
        partial.write_bytes(data)
        _fsync(partial)
        partial.replace(path)


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _intact(path: Path, record: ClipRecord) -> bool:
    try:
        if path.stat().st_size != record.bytes:
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == record.sha256
    except OSError:
        return False
