"""MediaIndex: the clips an agency owns, what they hold, and who is shown in them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, and_, exists, intersect, select, update

from media_index.database import migrate
from media_index.scan import Progress, ScanReport, scan
from media_index.schema import media_clips, media_tags
from media_index.sidecar import Vocabulary


@dataclass(frozen=True)
class Clip:
    """One indexed clip, with its tags."""

    id: str
    path: Path
    content_hash: str | None
    size_bytes: int
    mtime_ns: int
    status: str
    problem: str | None
    duration_s: float | None
    fps: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    max_keyframe_interval_s: float | None
    tag_problem: str | None
    proxy_path: Path | None
    playback_proxy_path: Path | None = None
    setting: dict[str, str] = field(default_factory=dict)
    people: dict[str, dict[str, list[str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchFilter:
    """What to look for. Every given condition must hold."""

    setting: dict[str, str] = field(default_factory=dict)
    # Everything listed must hold for one and the same person shown; a key may repeat
    # (race=black_african_american and race=hispanic_latino: someone portrayed as both).
    demographics: list[tuple[str, str]] = field(default_factory=list)
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    status: str | None = "present"


class MediaIndex:
    """The index, on the engine of the database it shares with the record."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, engine: Engine) -> MediaIndex:
        """The index in ``engine``'s database, its tables created or upgraded as needed."""
        migrate(engine)
        return cls(engine)

    def scan(self, roots: Iterable[Path], vocabulary: Vocabulary,
             progress: Progress | None = None) -> ScanReport:
        """Index every video under ``roots`` (incremental; see ``media_index.scan``)."""
        return scan(self.engine, roots, vocabulary, progress)

    def clips(self, ids: Sequence[str] | None = None) -> list[Clip]:
        """Every clip (or those with ``ids``), in path order."""
        query = select(media_clips).order_by(media_clips.c.path)
        if ids is not None:
            query = query.where(media_clips.c.id.in_(list(ids)))
        return self._with_tags(query)

    def by_path(self, path: Path) -> Clip | None:
        """The clip indexed at ``path``, if any."""
        found = self._with_tags(select(media_clips).where(
            media_clips.c.path == str(path.resolve())))
        return found[0] if found else None

    def by_hash_prefix(self, prefix: str) -> list[Clip]:
        """Clips whose content hash starts with ``prefix`` (copies of one file share it)."""
        return self._with_tags(select(media_clips).where(
            media_clips.c.content_hash.startswith(prefix.lower(), autoescape=True)))

    def search(self, wanted: SearchFilter) -> list[Clip]:
        """Clips matching every condition of ``wanted``; values are bound, never spliced."""
        query = select(media_clips).order_by(media_clips.c.path)
        if wanted.status:
            query = query.where(media_clips.c.status == wanted.status)
        if wanted.min_duration_s is not None:
            query = query.where(media_clips.c.duration_s >= wanted.min_duration_s)
        if wanted.max_duration_s is not None:
            query = query.where(media_clips.c.duration_s <= wanted.max_duration_s)
        for key, value in wanted.setting.items():
            query = query.where(exists().where(and_(
                media_tags.c.clip_id == media_clips.c.id, media_tags.c.person == "",
                media_tags.c.key == key, media_tags.c.value == value)))
        if wanted.demographics:
            people = intersect(*(
                select(media_tags.c.clip_id, media_tags.c.person).where(
                    media_tags.c.person != "", media_tags.c.key == key,
                    media_tags.c.value == value)
                for key, value in wanted.demographics)).subquery()
            query = query.where(media_clips.c.id.in_(select(people.c.clip_id)))
        return self._with_tags(query)

    def set_proxy(self, clip_id: str, proxy: Path) -> None:
        """Remember the short-keyframe proxy made for a clip."""
        with self.engine.begin() as c:
            c.execute(update(media_clips).where(media_clips.c.id == clip_id)
                      .values(proxy_path=str(proxy)))

    def set_playback_proxy(self, clip_id: str, proxy: Path | None) -> None:
        """Remember (or, with None, forget) the copy the projector plays in a clip's place."""
        with self.engine.begin() as c:
            c.execute(update(media_clips).where(media_clips.c.id == clip_id)
                      .values(playback_proxy_path=str(proxy) if proxy is not None else None))

    def _with_tags(self, query: object) -> list[Clip]:
        with self.engine.connect() as c:
            rows = c.execute(query).all()  # type: ignore[call-overload]
            ids = [r.id for r in rows]
            tags: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
            for start in range(0, len(ids), 500):
                for t in c.execute(select(media_tags).where(
                        media_tags.c.clip_id.in_(ids[start:start + 500]))):
                    tags[t.clip_id].append((t.person, t.key, t.value))
        clips = []
        for r in rows:
            setting: dict[str, str] = {}
            people: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            for person, key, value in sorted(tags.get(r.id, [])):
                if person:
                    people[person][key].append(value)
                else:
                    setting[key] = value
            clips.append(Clip(
                id=r.id, path=Path(r.path), content_hash=r.content_hash,
                size_bytes=r.size_bytes, mtime_ns=r.mtime_ns, status=r.status,
                problem=r.problem, duration_s=r.duration_s, fps=r.fps, width=r.width,
                height=r.height, video_codec=r.video_codec, audio_codec=r.audio_codec,
                max_keyframe_interval_s=r.max_keyframe_interval_s, tag_problem=r.tag_problem,
                proxy_path=Path(r.proxy_path) if r.proxy_path else None,
                playback_proxy_path=(Path(r.playback_proxy_path) if r.playback_proxy_path
                                     else None),
                setting=setting,
                people={p: dict(a) for p, a in people.items()}))
        return clips
