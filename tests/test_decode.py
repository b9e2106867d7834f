"""Decoding a segment: exact frames from the in-point, each with exactly its own sound."""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulator.playback.barcode import read_barcode, tone_hz, write_barcode_clip
from simulator.playback.decode import (
    AUDIO_BYTES_PER_SAMPLE,
    AUDIO_RATE,
    DecodeError,
    SegmentDecoder,
)
from simulator.playback.streams import FrameStream, Span

FPS = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("decode") / "clip.mp4"
    write_barcode_clip(path, clip_number=9, frames=60, fps=FPS, width=320, height=180)
    return path


def dominant_hz(pcm: bytes) -> float:
    left = np.frombuffer(pcm, dtype="<i2")[0::2].astype(float)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    return float(np.fft.rfftfreq(len(left), 1 / AUDIO_RATE)[int(spectrum.argmax())])


def test_a_segment_starts_on_its_in_point_frame_and_ends_before_its_out_point(clip):
    decoder = SegmentDecoder(clip, 0.5, 1.2, size=(160, 90))
    frames = list(decoder)
    decoder.close()
    assert [f.index for f in frames] == list(range(15, 36))
    assert all(read_barcode(f.rgb) == (9, f.index) for f in frames)
    assert frames[0].rgb.shape == (90, 160, 3)


def test_every_frame_carries_its_own_period_of_sound_with_no_gap(clip):
    decoder = SegmentDecoder(clip, 0.5, 1.5)
    frames = list(decoder)
    decoder.close()
    samples = [len(f.audio) // AUDIO_BYTES_PER_SAMPLE for f in frames]
    # 48 kHz over 30 fps: 1600 samples a frame, none lost or doubled across the segment.
    assert samples == [1600] * 30
    sound = b"".join(f.audio for f in frames)
    assert abs(dominant_hz(sound) - tone_hz(9)) < 5
    # Continuous: the tone runs across frame boundaries without a step.
    left = np.frombuffer(sound, dtype="<i2")[0::2].astype(float)
    assert np.abs(np.diff(left)).max() < 0.2 * np.abs(left).max() + 2000


def test_a_file_that_is_not_a_video_is_refused_with_its_name(tmp_path):
    broken = tmp_path / "notes.mp4"
    broken.write_text("hello")
    with pytest.raises(DecodeError, match=r"notes\.mp4"):
        SegmentDecoder(broken, 0, 1)


def test_yuv_frames_hold_half_the_bytes_and_paint_as_the_rgb_ones(clip):
    as_rgb = list(SegmentDecoder(clip, 0.5, 0.8, size=(160, 90)))
    as_yuv = list(SegmentDecoder(clip, 0.5, 0.8, size=(160, 90), rgb=False))
    assert [f.index for f in as_yuv] == [f.index for f in as_rgb]
    for yuv, rgb in zip(as_yuv, as_rgb, strict=True):
        assert yuv.yuv is not None and yuv.yuv.shape == (135, 160)
        assert yuv.yuv.nbytes * 2 == rgb.rgb.nbytes and rgb.yuv is None
        assert (yuv.width, yuv.height) == (rgb.width, rgb.height) == (160, 90)
        assert yuv.audio == rgb.audio
        # OpenCV's conversion and swscale's agree to a level or two (rounding).
        difference = np.abs(yuv.rgb.astype(int) - rgb.rgb.astype(int))
        assert difference.max() <= 3 and read_barcode(yuv.rgb) == (9, yuv.index)


def test_an_odd_sized_clip_decodes_to_yuv_a_pixel_smaller(tmp_path):
    path = tmp_path / "odd.mp4"
    write_barcode_clip(path, clip_number=4, frames=6, fps=FPS, width=322, height=182,
                       audio=False)
    decoder = SegmentDecoder(path, 0.0, 0.2, rgb=False)
    decoder.size = (161, 91)  # a fit, or a clip, of an odd size
    frame = next(iter(decoder))
    decoder.close()
    assert (frame.width, frame.height) == (160, 90) and frame.rgb.shape == (90, 160, 3)
    assert read_barcode(frame.rgb) == (4, 0)


def test_a_parked_stream_holds_yuv_and_feeds_rgb_once_on_screen(clip):
    stream = FrameStream(Span(str(clip), 0.5, 1.0), lambda w, h: (160, 90), ahead=4)
    stream.fill(3)  # parked: the pre-roll's lead
    assert stream.ready == 3
    with stream._cond:
        lead = list(stream._frames)
    stream.convert_lead()  # a cut is coming: the lead is made RGB on a thread of its own
    deadline = time.monotonic() + 10
    while any(f._rgb is None for f in lead) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert all(f._rgb is not None for f in lead)
    stream.start_feeding()
    frames = []
    deadline = time.monotonic() + 10
    while not stream.exhausted and time.monotonic() < deadline:
        frame = stream.pop()
        if frame is None:
            time.sleep(0.005)
        else:
            frames.append(frame)
    stream.close()
    assert [f.index for f in frames] == list(range(15, 30))
    assert all(f.yuv is not None for f in frames[:3])  # the lead, as parked
    assert all(f.yuv is None for f in frames[3:])  # decoded on screen, as RGB
    assert [read_barcode(f.rgb) for f in frames] == [(9, f.index) for f in frames]
