"""One still per clip for the console's library browser, cached by content hash."""

from __future__ import annotations

from pathlib import Path

import av

from media_index.probe import ProbeError

THUMBNAIL_WIDTH = 320


def thumbnail(clip: Path, content_hash: str, cache: Path, *, at_s: float = 1.0) -> Path:
    """The JPEG still of ``clip`` near ``at_s`` seconds, made once and then reused.

    Named by content hash, so a moved or renamed clip keeps its thumbnail and an edited
    one gets a new one.
    """
    target = cache / content_hash[:2] / f"{content_hash}.jpg"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                at_s = min(at_s, float(stream.duration * stream.time_base) / 2)
            container.seek(int(at_s * av.time_base), any_frame=False)
            frame = next((f for f in container.decode(stream)
                          if f.time is None or f.time >= at_s - 0.05), None)
            if frame is None:
                raise ProbeError(clip, "no frame could be decoded for a thumbnail")
            image = frame.to_image()  # type: ignore[no-untyped-call]
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise ProbeError(clip, f"cannot make a thumbnail: {exc}") from None
    image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * 9 // 16 * 2))
    partial = target.with_suffix(".part")
    image.save(partial, format="JPEG", quality=85)
    partial.replace(target)
    return target
