"""Walking footage folders and bringing the index up to date, incrementally.

Unchanged files (same size and modification time) are not read again; new or changed ones
are hashed and probed; a new path whose hash matches a clip whose file is gone (or was
already marked missing) is that clip, moved, and keeps its id and tags; a clip whose file
is gone is marked missing, never dropped. A file that cannot be read is recorded as
unreadable with its reason and the scan goes on. Problems already known (an unreadable
clip, an invalid sidecar) are reported again on every scan until they are fixed.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, or_, select, update

from media_index.probe import Probe, ProbeError, content_hash, probe
from media_index.schema import media_clips, media_tags
from media_index.sidecar import SIDECAR_SUFFIX, SidecarError, Vocabulary, read_sidecar

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
                            ".ts", ".mts", ".m2ts", ".mxf", ".wmv"})

Progress = Callable[[int, int, Path], None]
_Operation = Callable[[Any], None]


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
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        """True when every file was readable and every sidecar valid."""
        return not self.unreadable and not self.tag_problems and not self.skipped


@dataclass(frozen=True)
class _Found:
    path: Path
    size: int
    mtime_ns: int
    sidecar_mtime_ns: int | None


def walk(roots: Iterable[Path], skipped: list[tuple[Path, str]]) -> dict[str, _Found]:
    """Every video file under ``roots``, with its sidecar's mtime.

    A root is a folder, or one video file (just that file is taken). Hidden folders below
    a root are not entered (a root itself may be hidden). Symbolic links are not followed,
    so a scan never leaves the folders it was given; a linked video, and a name that is not
    valid text, are listed in ``skipped`` with the reason.
    """
    found: dict[str, _Found] = {}
    stack: list[tuple[Path, str | None]] = []
    for root in roots:
        path = Path(root)
        stack.append((path, None) if path.is_dir() and not path.is_symlink()
                     else (path.parent, path.name))
    while stack:
        folder, only = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append((folder, f"folder cannot be read: {exc.strerror}"))
            continue
        sidecars = {e.name: e for e in entries if e.name.endswith(SIDECAR_SUFFIX)}
        for entry in entries:
            if only is not None and entry.name != only:
                continue
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith(".") and only is None:
                    stack.append((Path(entry.path), None))
                continue
            name = Path(entry.name)
            if name.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            if not _is_text(entry.path):
                skipped.append((Path(entry.path), "the file name is not valid text; rename it"))
                continue
            if entry.is_symlink():
                skipped.append((Path(entry.path), "a symbolic link; index the folder that "
                                "holds the real file instead"))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            sidecar = sidecars.get(name.stem + SIDECAR_SUFFIX)
            found[entry.path] = _Found(
                Path(entry.path), stat.st_size, stat.st_mtime_ns,
                sidecar.stat(follow_symlinks=False).st_mtime_ns if sidecar else None)
    return found


def _is_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _under(path: str, roots: list[str]) -> bool:
    """Whether ``path`` lies in the part of a root that a scan walks (or is a file root)."""
    for root in roots:
        if path == root:
            return True
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            inside = Path(path[len(prefix):]).parts[:-1]
            return not any(part.startswith(".") for part in inside)
    return False


class _Scan:
    def __init__(self, engine: Engine, roots: list[str], vocabulary: Vocabulary) -> None:
        self.engine = engine
        self.roots = roots
        self.vocabulary = vocabulary
        self.report = ScanReport()
        self.pending: list[_Operation] = []
        self.now = datetime.now(UTC)

    def flush(self) -> None:
        if self.pending:
            with self.engine.begin() as c:
                for operation in self.pending:
                    operation(c)
            self.pending.clear()

    def run(self, progress: Progress | None, batch: int) -> ScanReport:
        report = self.report
        found = walk((Path(r) for r in self.roots), report.skipped)
        with self.engine.connect() as c:
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
        # A clip is a move candidate when its file is gone: gone in this scan, or missing
        # since an earlier one (it may come back under a new name or in another root).
        self.gone = {p: r for p, r in rows.items() if p not in found and r.status != "missing"
                     and _under(p, self.roots)}
        self.movable: dict[str, list[Any]] = defaultdict(list)
        for path, row in rows.items():
            if row.content_hash and path not in found and (
                    path in self.gone or row.status == "missing" or not Path(path).exists()):
                self.movable[row.content_hash].append(row)
        work.sort(key=lambda f: str(f.path))
        for done, item in enumerate(work, 1):
            if progress:
                progress(done, len(work), item.path)
            self.examine(item, rows.get(str(item.path)))
            if len(self.pending) >= batch:
                self.flush()
        for clip_id, item in retag:
            self.pending.append(self.tags(clip_id, item))
            report.retagged.append(item.path)
        for path, row in self.gone.items():
            report.missing.append(Path(path))
            self.pending.append(_set(row.id, status="missing"))
        self.flush()
        self.standing_problems(found)
        return report

    def examine(self, item: _Found, row: Any) -> None:
        report = self.report
        try:
            digest = content_hash(item.path)
        except OSError as exc:
            reason = f"cannot be read: {exc.strerror}"
            report.unreadable.append((item.path, reason))
            self.upsert(item, row, None, {**_no_facts(reason), "status": "unreadable"})
            return
        candidates = self.movable.get(digest, []) if row is None else []
        if candidates:
            moved_from = candidates.pop(0)
            self.gone.pop(moved_from.path, None)
            report.moved.append((Path(moved_from.path), item.path))
            self.pending.append(_set(moved_from.id, path=str(item.path), size_bytes=item.size,
                                     mtime_ns=item.mtime_ns, status="present"))
            if item.sidecar_mtime_ns is None:
                # The sidecar stayed behind: keep the tags the clip had rather than lose them.
                self.pending.append(_set(moved_from.id, sidecar_mtime_ns=None,
                                         tag_problem=None))
                report.notes.append(f"{item.path}: moved without its sidecar; kept its tags "
                                    f"(the old sidecar is beside {moved_from.path})")
            else:
                self.pending.append(self.tags(moved_from.id, item))
            return
        facts = _probe_values(item.path, report)
        self.upsert(item, row, digest, facts)

    def upsert(self, item: _Found, row: Any, digest: str | None,
               facts: dict[str, Any]) -> None:
        values = {"path": str(item.path), "content_hash": digest, "size_bytes": item.size,
                  "mtime_ns": item.mtime_ns, "indexed_utc": self.now, **facts}
        if row is None:
            clip_id = str(uuid.uuid4())
            self.report.added.append(item.path)
            self.pending.append(lambda c: c.execute(insert(media_clips).values(
                id=clip_id, **values)))
        else:
            clip_id = row.id
            if row.content_hash != digest:
                # A proxy made from other content would show the wrong frames.
                values["proxy_path"] = values["playback_proxy_path"] = None
                self.report.changed.append(item.path)
            elif row.status == "missing":
                self.report.changed.append(item.path)
            self.pending.append(_set(clip_id, **values))
        self.pending.append(self.tags(clip_id, item))

    def tags(self, clip_id: str, item: _Found) -> _Operation:
        """Replace a clip's tags with its sidecar's; a bad sidecar leaves none, and a problem."""
        sidecar = item.path.with_name(item.path.stem + SIDECAR_SUFFIX)
        rows: list[tuple[str, str, str]] = []
        problem = None
        if item.sidecar_mtime_ns is not None:
            try:
                rows = read_sidecar(sidecar, self.vocabulary).rows()
            except SidecarError as exc:
                problem = str(exc)
                self.report.tag_problems.append((sidecar, problem))

        def write(c: Any) -> None:
            c.execute(delete(media_tags).where(media_tags.c.clip_id == clip_id))
            if rows:
                c.execute(insert(media_tags), [
                    {"clip_id": clip_id, "person": p, "key": k, "value": v} for p, k, v in rows])
            c.execute(update(media_clips).where(media_clips.c.id == clip_id).values(
                sidecar_mtime_ns=item.sidecar_mtime_ns, tag_problem=problem))

        return write

    def standing_problems(self, found: dict[str, _Found]) -> None:
        """Report again what earlier scans found wrong and is still wrong."""
        report = self.report
        unreadable = {p for p, _ in report.unreadable}
        tagged = {p for p, _ in report.tag_problems}
        with self.engine.connect() as c:
            rows = c.execute(select(media_clips.c.path, media_clips.c.status,
                                    media_clips.c.problem, media_clips.c.tag_problem)
                             .where(or_(media_clips.c.status == "unreadable",
                                        media_clips.c.tag_problem.is_not(None)))).all()
        for row in rows:
            path = Path(row.path)
            sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
            if row.path not in found:
                continue
            if row.status == "unreadable" and path not in unreadable:
                report.unreadable.append((path, f"{row.problem} (as before)"))
            if row.tag_problem and sidecar not in tagged:
                report.tag_problems.append((sidecar, f"{row.tag_problem} (as before)"))


def scan(engine: Engine, roots: Iterable[Path], vocabulary: Vocabulary,
         progress: Progress | None = None, *, batch: int = 500) -> ScanReport:
    """Index every video under ``roots`` (folders, or single files); see the module docstring."""
    return _Scan(engine, [_root(Path(r)) for r in roots], vocabulary).run(progress, batch)


def _root(path: Path) -> str:
    """A root as the scan walks it: a folder resolved, a file in its resolved folder.

    A file's own name is kept, so a linked file stays a link and is refused as in a folder.
    """
    if path.is_dir():
        return str(path.resolve())
    return str(path.absolute().parent.resolve() / path.name)


def _set(clip_id: str, **values: Any) -> _Operation:
    return lambda c: c.execute(
        update(media_clips).where(media_clips.c.id == clip_id).values(**values))


def _no_facts(reason: str) -> dict[str, Any]:
    return {"problem": reason, "duration_s": None, "fps": None, "width": None, "height": None,
            "video_codec": None, "audio_codec": None, "audio_channels": None,
            "max_keyframe_interval_s": None}


def _probe_values(path: Path, report: ScanReport) -> dict[str, Any]:
    try:
        facts: Probe = probe(path)
    except ProbeError as exc:
        report.unreadable.append((path, exc.reason))
        return {"status": "unreadable", **_no_facts(exc.reason)}
    return {"status": "present", "problem": None, "duration_s": facts.duration_s,
            "fps": facts.fps, "width": facts.width, "height": facts.height,
            "video_codec": facts.video_codec, "audio_codec": facts.audio_codec,
            "audio_channels": facts.audio_channels,
            "max_keyframe_interval_s": facts.max_keyframe_interval_s}
