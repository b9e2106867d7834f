"""Decoding one segment of a clip into frames that each carry their own slice of sound.

No Qt here: a `SegmentDecoder` yields `DecodedFrame`s from an in-point to an out-point,
each with the clip's frame index (from its pts, so tests and benchmarks can prove which
frame was shown) and the audio that belongs under it, resampled to one output format.
Because every frame carries its audio, a cut between two segments is a cut in both at the
same frame boundary: sound cannot run ahead of or lag behind the picture across it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from media_index.colours import SWSCALE, Matrix, full_range, matrix_of
from simulator.playback.hardware import Decoding, open_clip

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.container import InputContainer
    from av.video.frame import VideoFrame

AUDIO_RATE = 48_000
AUDIO_CHANNELS = 2
AUDIO_BYTES_PER_SAMPLE = 2 * AUDIO_CHANNELS  # signed 16-bit, interleaved stereo


class DecodeError(RuntimeError):
    """A clip could not be opened or decoded; the message names the file and the cause."""


def colours_of(frame: VideoFrame) -> tuple[Matrix, bool]:
    """The Y'CbCr matrix of a decoded frame and whether it is full range (`media_index.colours`)."""
    return (matrix_of(frame.colorspace, frame.height),
            full_range(frame.color_range, frame.format.name))


@dataclass(frozen=True)
class YuvPicture:
    """A picture in the decoder's own form: 8-bit 4:2:0 planes, for the GPU to convert.

    ``y`` is ``height x width``; ``u`` and ``v`` are half that each way (rounded up). The
    colours are BT.709, BT.601 or BT.2020, limited ("video") or full range (`colours_of`).
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    matrix: Matrix
    full_range: bool

    @property
    def width(self) -> int:
        """Picture width in pixels."""
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        """Picture height in pixels."""
        return int(self.y.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes the three planes hold."""
        return self.y.nbytes + self.u.nbytes + self.v.nbytes


Picture = np.ndarray | YuvPicture
"""A ``height x width x 3`` uint8 RGB array, or the decoder's own `YuvPicture`."""


@dataclass(frozen=True)
class DecodedFrame:
    """One picture ready to paint, and the sound that plays while it is on screen.

    ``picture`` is RGB unless the decoder was asked for YUV; ``audio`` is signed 16-bit
    stereo at ``AUDIO_RATE`` covering exactly this frame's period (silence where the clip
    has none).
    """

    index: int
    pts_s: float
    picture: Picture
    audio: bytes

    @property
    def rgb(self) -> np.ndarray:
        """The picture as a ``height x width x 3`` uint8 array, from a decoder giving RGB."""
        if isinstance(self.picture, YuvPicture):
            raise TypeError("this frame was decoded as YUV planes, for the GPU presenter")
        return self.picture

    @property
    def width(self) -> int:
        """Picture width in pixels."""
        return int(self.picture.shape[1] if isinstance(self.picture, np.ndarray)
                   else self.picture.width)

    @property
    def height(self) -> int:
        """Picture height in pixels."""
        return int(self.picture.shape[0] if isinstance(self.picture, np.ndarray)
                   else self.picture.height)


@dataclass(frozen=True)
class ClipTiming:
    """What a clip's video stream says about its frames."""

    fps: Fraction
    width: int
    height: int
    has_audio: bool

    @property
    def period_s(self) -> float:
        """Seconds one frame stays on screen."""
        return float(1 / self.fps)


class SegmentDecoder:
    """Frames of ``path`` with pts in ``[in_s, out_s)``, scaled to ``size`` if given.

    Playing starts at the frame nearest ``in_s``; with ``on_screen_at`` it starts at the
    frame that was on screen at ``in_s`` (the last to start at or before it), as a replay
    that seeks between two frames must. Without ``sound`` the frames carry silence.
    ``decoding`` says whether to decode on the graphics chip (`simulator.playback.hardware`);
    ``on_device`` says whether this clip is. With ``yuv`` the frames carry `YuvPicture`s,
    which the GPU presenter converts, instead of RGB converted here.

    Iterate it once, and ``close`` it when done; never close it while another thread is
    iterating it (`FrameStream` holds a lock around both).
    """

    def __init__(self, path: str | Path, in_s: float, out_s: float,
                 size: tuple[int, int] | None = None, *, on_screen_at: bool = False,
                 sound: bool = True, decoding: Decoding | None = None, yuv: bool = False
                 ) -> None:
        self.path = str(path)
        self._yuv = yuv
        self._reformatter = VideoReformatter()
        self.in_s = in_s
        self.out_s = out_s
        self.size = size
        self._on_screen_at = on_screen_at
        try:
            self._container: InputContainer
            self._container, self.on_device = open_clip(self.path, decoding or Decoding(None))
        except (av.FFmpegError, OSError) as exc:
            raise DecodeError(f"{self.path}: cannot open: {exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise DecodeError(f"{self.path}: has no video stream")
        self._video = self._container.streams.video[0]
        # A device may open and still not take this codec: FFmpeg then decodes in software.
        self.on_device = self.on_device and bool(self._video.codec_context.is_hwaccel)
        # Slice threading decodes a frame on both cores without holding frames back,
        # as frame threading would (it delays the first frame by one per thread).
        self._video.thread_type = "SLICE"
        audio = self._container.streams.audio
        # A silent replay skips the sound: demuxed and resampled for nothing, it slows seeks.
        self._audio = audio[0] if audio and sound else None
        rate = self._video.average_rate or self._video.guessed_rate
        if not rate:
            self._container.close()
            raise DecodeError(f"{self.path}: the video stream has no frame rate")
        self.timing = ClipTiming(Fraction(rate), self._video.codec_context.width,
                                 self._video.codec_context.height, self._audio is not None)
        self._resampler = (av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)
                           if self._audio is not None else None)
        self._closed = False

    def frame_index(self, pts_s: float) -> int:
        """The clip's frame number at ``pts_s`` (frame 0 starts at 0 s)."""
        return round(pts_s * self.timing.fps)

    def release_scaler(self) -> None:
        """Free the scaler's buffers; the next picture makes it again (a millisecond or two)."""
        self._reformatter = VideoReformatter()

    def close(self) -> None:
        """Release the file and the decoder."""
        if not self._closed:
            self._closed = True
            self._container.close()

    def __iter__(self) -> Iterator[DecodedFrame]:
        return self._frames()

    def _frames(self) -> Iterator[DecodedFrame]:
        fps = self.timing.fps
        first = (math.floor(self.in_s * fps + 1e-9) if self._on_screen_at
                 else math.ceil(self.in_s * fps - 0.5))
        last = math.ceil(self.out_s * fps - 0.5) - 1
        if self._on_screen_at:
            # An out-point off the frame grid: the frame on screen is still the last one.
            first = min(first, last)
        if last < first:
            return
        try:
            # The first frame may start before in_s (the frame on screen then): seek to it.
            self._seek(min(self.in_s, float(first / fps)))
            pending: list[VideoFrame] = []
            sound = _SoundBuffer(start_s=float(first / fps))
            streams = [s for s in (self._video, self._audio) if s is not None]
            for packet in self._container.demux(*streams):
                for decoded in packet.decode():
                    if packet.stream is self._audio:
                        sound.add(self._resample(decoded))  # type: ignore[arg-type]
                        continue
                    index = self._index_of(decoded)  # type: ignore[arg-type]
                    if index is None or index < first:
                        continue
                    if index > last:
                        break
                    pending.append(decoded)  # type: ignore[arg-type]
                else:
                    yield from self._ready(pending, sound, eof=False)
                    continue
                break
            sound.finished = True
            yield from self._ready(pending, sound, eof=True)
        except av.FFmpegError as exc:
            raise DecodeError(f"{self.path}: decoding failed: {exc}") from exc

    def _seek(self, at_s: float) -> None:
        # Lands on the keyframe at or before the in-point; frames before it are skipped.
        if at_s > 0 and self._video.time_base is not None:
            self._container.seek(int(at_s / self._video.time_base), stream=self._video,
                                 backward=True, any_frame=False)

    def _index_of(self, frame: VideoFrame) -> int | None:
        if frame.pts is None or frame.time_base is None:
            return None
        return self.frame_index(float(frame.pts * frame.time_base))

    def _resample(self, frame: AudioFrame) -> list[tuple[float, bytes]]:
        assert self._resampler is not None
        if frame.pts is None or frame.time_base is None:
            return []
        at = float(frame.pts * frame.time_base)
        out = []
        for chunk in self._resampler.resample(frame):
            out.append((at, bytes(chunk.planes[0])[: chunk.samples * AUDIO_BYTES_PER_SAMPLE]))
            at += chunk.samples / AUDIO_RATE
        return out

    def _ready(self, pending: list[VideoFrame], sound: _SoundBuffer, *, eof: bool
               ) -> Iterator[DecodedFrame]:
        period = 1 / self.timing.fps
        while pending:
            frame = pending[0]
            index = self._index_of(frame)
            assert index is not None
            pts = index / self.timing.fps
            end = float(pts + period)
            # A frame waits until the sound under it is decoded, or the clip has none left.
            if self._audio is not None and not eof and sound.end_s < end:
                return
            pending.pop(0)
            picture = self._yuv_planes(frame) if self._yuv else self._rgb(frame)
            yield DecodedFrame(index=index, pts_s=float(pts), picture=picture,
                               audio=sound.take(float(pts), end))

    def _yuv_planes(self, frame: VideoFrame) -> YuvPicture:
        matrix, full = colours_of(frame)
        size = (frame.width, frame.height)
        if self.size is not None and self.size[0] < frame.width:
            # Scaled down here, so parked leads and queued frames hold no more than is
            # shown; scaling up is left to the graphics chip, which does it for nothing.
            size = self.size
        if frame.format.name not in ("yuv420p", "yuvj420p") or size != (frame.width,
                                                                        frame.height):
            # 10-bit, 4:2:2, a graphics chip's NV12, or a size to fit: still planar 4:2:0,
            # in the range it came in, with no colour conversion (the shader does that).
            levels = "JPEG" if full else "MPEG"
            frame = self._reformatter.reformat(frame, width=size[0], height=size[1],
                                               format="yuv420p", src_color_range=levels,
                                               dst_color_range=levels, threads=1)
        # Rows without FFmpeg's padding, as GL takes them; copied on the decoder's thread.
        y, u, v = (np.ascontiguousarray(
            np.frombuffer(plane, np.uint8)  # type: ignore[call-overload]  # a buffer; stubs say no
            .reshape(plane.height, plane.line_size)[:, :plane.width]) for plane in frame.planes)
        return YuvPicture(y, u, v, matrix=matrix, full_range=full)

    def _rgb(self, frame: VideoFrame) -> np.ndarray:
        # The same colours as the GPU presenter's shader: the clip's matrix and range, or
        # the rule for clips that do not say (swscale alone would take BT.601 for them).
        matrix, full = colours_of(frame)
        width, height = self.size or (frame.width, frame.height)
        rgb = self._reformatter.reformat(
            frame, width=width, height=height, format="rgb24",
            src_colorspace=SWSCALE[matrix], src_color_range="JPEG" if full else "MPEG",
            dst_color_range="JPEG",  # RGB is full range; left unsaid, swscale keeps the source's
            threads=1,  # the decoders already run side by side; a pool each is waste
        ).to_ndarray()
        # FFmpeg pads rows to its alignment, and PyAV returns a view over them for widths
        # that are not a multiple of 32; a QImage needs plain rows. Copied here, on the
        # decoder's thread, not on the one that paints.
        return np.ascontiguousarray(rgb)


class _SoundBuffer:
    """Resampled sound from ``start_s`` on, cut into per-frame slices on sample boundaries."""

    def __init__(self, start_s: float) -> None:
        self._origin = start_s
        self._data = bytearray()
        self._first_sample = 0  # sample number (from origin) of _data[0]
        self._next = 0  # the next sample a slice starts at, so slices never overlap or gap
        self.finished = False

    @property
    def end_s(self) -> float:
        """Up to when sound is decoded (infinite once the clip has no more)."""
        if self.finished:
            return math.inf
        samples = len(self._data) // AUDIO_BYTES_PER_SAMPLE
        return self._origin + (self._first_sample + samples) / AUDIO_RATE

    def add(self, chunks: list[tuple[float, bytes]]) -> None:
        for at_s, data in chunks:
            start = round((at_s - self._origin) * AUDIO_RATE)
            have_end = self._first_sample + len(self._data) // AUDIO_BYTES_PER_SAMPLE
            if not self._data and start > have_end:
                have_end = self._first_sample = start
            if start < have_end:
                # Overlaps what we hold (or lies before the origin): keep only the new part.
                data = data[(have_end - start) * AUDIO_BYTES_PER_SAMPLE:]
            elif start > have_end:
                self._data += bytes((start - have_end) * AUDIO_BYTES_PER_SAMPLE)
            self._data += data

    def take(self, start_s: float, end_s: float) -> bytes:
        """Exactly the samples between the two times, silence where there are none."""
        first = max(self._next, round((start_s - self._origin) * AUDIO_RATE))
        stop = round((end_s - self._origin) * AUDIO_RATE)
        self._next = stop
        out = bytearray()
        if first < self._first_sample:
            out += bytes((min(stop, self._first_sample) - first) * AUDIO_BYTES_PER_SAMPLE)
            first = self._first_sample
        held = len(self._data) // AUDIO_BYTES_PER_SAMPLE
        lo, hi = first - self._first_sample, min(stop - self._first_sample, held)
        if hi > lo:
            out += self._data[lo * AUDIO_BYTES_PER_SAMPLE: hi * AUDIO_BYTES_PER_SAMPLE]
        missing = (stop - first) - max(0, hi - lo)
        if missing > 0:
            out += bytes(missing * AUDIO_BYTES_PER_SAMPLE)
        # Drop what no later frame needs.
        drop = max(0, min(stop - self._first_sample, held))
        del self._data[: drop * AUDIO_BYTES_PER_SAMPLE]
        self._first_sample += drop
        return bytes(out)
