"""Walking footage folders and bringing the index up to date, incrementally.

Unchanged files (same size and modification time) are not read again; new or changed ones
are hashed and probed; a new path whose hash matches a clip whose file is gone is that clip,
moved; a clip whose file is gone is marked missing, never dropped. A file that cannot be
read is recorded and reported with its reason, and the scan goes on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from media_index.probe import Probe, ProbeError, content_hash, probe
from media_index.schema import media_clips, media_tags
from media_index.sidecar import SIDECAR_SUFFIX, SidecarError, Vocabulary, read_sidecar

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
                            ".ts", ".mts", ".m2ts", ".mxf", ".wmv"})

Progress = Callable[[int, int, Path], None]


@dataclass
class ScanReport:
    """What a scan found and did."""

    added: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    retagged: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    tag_problems: list[tuple[Path, str]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        """True when every file was readable and every sidecar valid."""
        return not self.unreadable and not self.tag_problems


@dataclass(frozen=True)
class _Found:
    path: Path
    size: int
    mtime_ns: int
    sidecar_mtime_ns: int | None


def walk(roots: Iterable[Path]) -> dict[str, _Found]:
    """Every video file under ``roots`` (symlinks not followed), with its sidecar's mtime."""
    found: dict[str, _Found] = {}
    stack = [Path(r).resolve() for r in roots]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # vanished or unreadable folder: its clips will show as missing
        sidecars = {e.name: e for e in entries if e.name.endswith(SIDECAR_SUFFIX)}
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith("."):
                    stack.append(Path(entry.path))
                continue
            name = Path(entry.name)
            suffix = name.suffix.lower()
            if suffix not in VIDEO_SUFFIXES or not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            sidecar = sidecars.get(name.stem + SIDECAR_SUFFIX)
            found[entry.path] = _Found(
                Path(entry.path), stat.st_size, stat.st_mtime_ns,
                sidecar.stat(follow_symlinks=False).st_mtime_ns if sidecar else None)
    return found


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def scan(engine: Engine, roots: Iterable[Path], vocabulary: Vocabulary,
         progress: Progress | None = None, *, batch: int = 500) -> ScanReport:
    """Index every video under ``roots``; see the module docstring for the rules."""
    root_list = [str(Path(r).resolve()) for r in roots]
    report = ScanReport()
    found = walk(Path(r) for r in root_list)
    with engine.connect() as c:
        rows = {r.path: r for r in c.execute(select(
            media_clips.c.id, media_clips.c.path, media_clips.c.size_bytes,
            media_clips.c.mtime_ns, media_clips.c.content_hash, media_clips.c.status,
            media_clips.c.sidecar_mtime_ns))}
    work: list[_Found] = []
    retag: list[tuple[str, _Found]] = []
    for path, item in found.items():
        row = rows.get(path)
        if row is None or (row.size_bytes, row.mtime_ns) != (item.size, item.mtime_ns) \
                or row.status == "missing":
            work.append(item)
        elif row.sidecar_mtime_ns != item.sidecar_mtime_ns:
            retag.append((row.id, item))
        else:
            report.unchanged += 1
    gone = {path: row for path, row in rows.items()
            if path not in found and _under(path, root_list) and row.status != "missing"}
    gone_by_hash = {row.content_hash: row for row in gone.values() if row.content_hash}
    now = datetime.now(UTC)
    pending: list[Callable[[Any], None]] = []

    def flush() -> None:
        if pending:
            with engine.begin() as c:
                for operation in pending:
                    operation(c)
            pending.clear()

    work.sort(key=lambda f: str(f.path))
    for done, item in enumerate(work, 1):
        if progress:
            progress(done, len(work), item.path)
        pending.extend(_examine(item, rows.get(str(item.path)), gone, gone_by_hash, vocabulary,
                                report, now))
        if len(pending) >= batch:
            flush()
    for clip_id, item in retag:
        pending.extend(_apply_tags(clip_id, item, vocabulary, report))
        report.retagged.append(item.path)
    for path, row in gone.items():
        report.missing.append(Path(path))
        pending.append(_mark_missing(row.id))
    flush()
    return report


def _mark_missing(clip_id: str) -> Callable[[Any], None]:
    return lambda c: c.execute(
        update(media_clips).where(media_clips.c.id == clip_id).values(status="missing"))


def _examine(item: _Found, row: Any, gone: dict[str, Any], gone_by_hash: dict[str, Any],
             vocabulary: Vocabulary, report: ScanReport,
             now: datetime) -> list[Callable[[Any], None]]:
    try:
        digest = content_hash(item.path)
    except OSError as exc:
        report.unreadable.append((item.path, f"cannot read: {exc.strerror}"))
        return []
    moved_from = gone_by_hash.pop(digest, None) if row is None else None
    if moved_from is not None:
        gone.pop(moved_from.path, None)
        report.moved.append((Path(moved_from.path), item.path))
        clip_id = moved_from.id
        values: dict[str, Any] = {"path": str(item.path), "size_bytes": item.size,
                                  "mtime_ns": item.mtime_ns, "status": moved_from.status
                                  if moved_from.status != "missing" else "present"}
        ops: list[Callable[[Any], None]] = [lambda c: c.execute(
            update(media_clips).where(media_clips.c.id == clip_id).values(**values))]
        return ops + _apply_tags(clip_id, item, vocabulary, report)
    values = {"path": str(item.path), "content_hash": digest, "size_bytes": item.size,
              "mtime_ns": item.mtime_ns, "indexed_utc": now, **_probe_values(item.path, report)}
    if row is None:
        clip_id = str(uuid.uuid4())
        report.added.append(item.path)
        ops = [lambda c: c.execute(insert(media_clips).values(id=clip_id, **values))]
    else:
        clip_id = row.id
        if row.content_hash != digest or row.status == "missing":
            report.changed.append(item.path)
        ops = [lambda c: c.execute(
            update(media_clips).where(media_clips.c.id == clip_id).values(**values))]
    return ops + _apply_tags(clip_id, item, vocabulary, report)


def _probe_values(path: Path, report: ScanReport) -> dict[str, Any]:
    try:
        facts: Probe = probe(path)
    except ProbeError as exc:
        report.unreadable.append((path, exc.reason))
        return {"status": "unreadable", "problem": exc.reason, "duration_s": None, "fps": None,
                "width": None, "height": None, "video_codec": None, "audio_codec": None,
                "audio_channels": None, "max_keyframe_interval_s": None}
    return {"status": "present", "problem": None, "duration_s": facts.duration_s,
            "fps": facts.fps, "width": facts.width, "height": facts.height,
            "video_codec": facts.video_codec, "audio_codec": facts.audio_codec,
            "audio_channels": facts.audio_channels,
            "max_keyframe_interval_s": facts.max_keyframe_interval_s}


def _apply_tags(clip_id: str, item: _Found, vocabulary: Vocabulary,
                report: ScanReport) -> list[Callable[[Any], None]]:
    """Replace a clip's tags with its sidecar's; a bad sidecar leaves no tags and a problem."""
    sidecar = item.path.with_name(item.path.stem + SIDECAR_SUFFIX)
    rows: list[tuple[str, str, str]] = []
    problem = None
    if item.sidecar_mtime_ns is not None:
        try:
            rows = read_sidecar(sidecar, vocabulary).rows()
        except SidecarError as exc:
            problem = str(exc)
            report.tag_problems.append((sidecar, str(exc)))

    def write(c: Any) -> None:
        c.execute(delete(media_tags).where(media_tags.c.clip_id == clip_id))
        if rows:
            c.execute(insert(media_tags), [
                {"clip_id": clip_id, "person": p, "key": k, "value": v} for p, k, v in rows])
        c.execute(update(media_clips).where(media_clips.c.id == clip_id).values(
            sidecar_mtime_ns=item.sidecar_mtime_ns, tag_problem=problem))

    return [write]
