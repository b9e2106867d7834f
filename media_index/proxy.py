"""Proxies: H.264 copies of a clip with short keyframe intervals, at most a given height.

Footage with long keyframe intervals seeks slowly, so review and frame-exact stepping use a
copy with a keyframe every ``gop_s`` seconds instead. Footage this PC cannot decode in real
time (4K, H.265, a high frame rate on a slow PC) is played on the projector from such a copy
at a size it can: a playback proxy.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from media_index.colours import (
    FULL_RANGE,
    LIMITED_RANGE,
    SWSCALE,
    Matrix,
    full_range,
    matrix_of,
    said_matrix,
)
from media_index.probe import ProbeError

PROXY_GOP_S = 0.5

# FFmpeg's AVColorSpace values a copy is tagged with where its original says no matrix we
# use (an RGB source's tag, say, would be wrong on a YUV copy), and its "unspecified".
_TAGS: dict[Matrix, int] = {"bt709": 1, "bt601": 6, "bt2020": 9}
_UNSPECIFIED = 2


def make_proxy(clip: Path, content_hash: str, cache: Path, *, gop_s: float = PROXY_GOP_S,
               max_height: int = 720) -> Path:
    """An H.264/AAC copy of ``clip`` with a keyframe every ``gop_s`` s, cached by content hash.

    The copy is at most ``max_height`` lines high (never larger than the clip), and a copy of
    each height is cached apart. Frame timing is kept as in the source (same frame rate and
    timestamps), so positions in the proxy are positions in the original.
    """
    target = cache / content_hash[:2] / f"{content_hash}.{max_height}p.proxy.mp4"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        _transcode(clip, partial, gop_s, max_height)
    except (av.FFmpegError, OSError, StopIteration) as exc:
        partial.unlink(missing_ok=True)
        raise ProbeError(clip, f"cannot make a proxy: {exc}") from None
    partial.replace(target)
    return target


def _transcode(source: Path, target: Path, gop_s: float, max_height: int) -> None:
    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4") as dst:
        video_in = src.streams.video[0]
        rate = video_in.average_rate or video_in.guessed_rate or Fraction(30)
        source_w, source_h = video_in.codec_context.width, video_in.codec_context.height
        height = min(max_height, source_h) // 2 * 2
        width = round(source_w * height / source_h) // 2 * 2
        video_out = dst.add_stream("libx264", rate=rate)
        video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
        gop = max(1, round(float(rate) * gop_s))
        video_out.codec_context.gop_size = gop
        # A copy smaller than 720 lines would be taken for BT.601 if it said nothing: it
        # says what the original is (or was taken for), in limited range, as it is made.
        source_space = video_in.codec_context.colorspace
        matrix = matrix_of(source_space, source_h)
        space_tag = source_space if said_matrix(source_space) else _TAGS[matrix]
        video_out.codec_context.colorspace = space_tag
        video_out.codec_context.color_range = LIMITED_RANGE
        for tag in ("color_primaries", "color_trc"):
            if (said := getattr(video_in.codec_context, tag)) not in (None, _UNSPECIFIED):
                setattr(video_out.codec_context, tag, said)
        full = full_range(video_in.codec_context.color_range, video_in.codec_context.pix_fmt)
        reformatter = VideoReformatter()
        video_out.options = {"keyint_min": str(gop), "sc_threshold": "0", "preset": "veryfast",
                             "crf": "23"}
        audio_in = src.streams.audio[0] if src.streams.audio else None
        audio_out = dst.add_stream("aac", rate=audio_in.codec_context.sample_rate,
                                   layout=audio_in.codec_context.layout.name) if audio_in else None
        streams = [s for s in (video_in, audio_in) if s is not None]
        for packet in src.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    scaled = reformatter.reformat(
                        frame, width=width, height=height, format="yuv420p",
                        src_colorspace=SWSCALE[matrix], dst_colorspace=SWSCALE[matrix],
                        src_color_range=FULL_RANGE if full else LIMITED_RANGE,
                        dst_color_range=LIMITED_RANGE)
                    scaled.colorspace, scaled.color_range = space_tag, LIMITED_RANGE
                    dst.mux(video_out.encode(scaled))
                elif isinstance(frame, av.AudioFrame) and audio_out is not None:
                    frame.pts = None  # the encoder restamps audio in its own frame size
                    dst.mux(audio_out.encode(frame))
        dst.mux(video_out.encode(None))
        if audio_out is not None:
            dst.mux(audio_out.encode(None))
