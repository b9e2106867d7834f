"""Decoding a segment: exact frames from the in-point, each with exactly its own sound."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.playback.barcode import read_barcode, tone_hz, write_barcode_clip
from simulator.playback.decode import (
    AUDIO_BYTES_PER_SAMPLE,
    AUDIO_RATE,
    DecodeError,
    SegmentDecoder,
)

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
