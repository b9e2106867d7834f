"""Barcode clips: every encoded frame reads back as itself, and damage reads as nothing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from simulator.playback.barcode import (
    AUDIO_CHANNELS,
    AUDIO_RATE,
    BAR_BOTTOM,
    BAR_TOP,
    CELLS,
    DATA_BITS,
    barcode_bits,
    barcode_picture,
    read_barcode,
    tone_hz,
    write_barcode_clip,
)

CLIP_NUMBER = 201
FRAMES = 90
FPS = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("barcode") / "clip.mp4"
    write_barcode_clip(path, clip_number=CLIP_NUMBER, frames=FRAMES, fps=FPS)
    return path


@pytest.fixture(scope="module")
def decoded(clip: Path) -> list[np.ndarray]:
    with av.open(str(clip)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _cell_box(cell: int, width: int, height: int) -> tuple[slice, slice]:
    rows = slice(round(height * BAR_TOP), round(height * BAR_BOTTOM))
    cols = slice(round(cell * width / CELLS), round((cell + 1) * width / CELLS))
    return rows, cols


def _invert_cell(rgb: np.ndarray, cell: int) -> np.ndarray:
    damaged = rgb.copy()
    rows, cols = _cell_box(cell, rgb.shape[1], rgb.shape[0])
    damaged[rows, cols] = 255 - damaged[rows, cols]
    return damaged


def test_every_decoded_frame_reads_as_its_own_index(decoded: list[np.ndarray]) -> None:
    assert len(decoded) == FRAMES
    assert decoded[0].shape == (360, 640, 3)
    assert [read_barcode(rgb) for rgb in decoded] == [(CLIP_NUMBER, i) for i in range(FRAMES)]


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080), (320, 180)])
def test_scaled_frames_read_the_same(clip: Path, width: int, height: int) -> None:
    with av.open(str(clip)) as container:
        pictures = [f.to_ndarray(format="rgb24", width=width, height=height)
                    for f in container.decode(video=0)]
    assert pictures[0].shape == (height, width, 3)
    assert [read_barcode(rgb) for rgb in pictures] == [(CLIP_NUMBER, i) for i in range(FRAMES)]


def test_stream_has_the_asked_rate_timestamps_and_keyframes(clip: Path) -> None:
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == FPS
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        frames = list(container.decode(stream))
    assert len(frames) == FRAMES
    times = [f.time for f in frames]
    assert times == pytest.approx([i / FPS for i in range(FRAMES)], abs=1e-4)
    assert [i for i, f in enumerate(frames) if f.key_frame] == [0, 30, 60]


def test_explicit_gop_and_fps(tmp_path: Path) -> None:
    path = tmp_path / "gop.mp4"
    write_barcode_clip(path, clip_number=3, frames=24, fps=25, gop=8, audio=False,
                       width=320, height=180)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == Fraction(25)
        frames = list(container.decode(video=0))
    assert [read_barcode(f.to_ndarray(format="rgb24")) for f in frames] == [
        (3, i) for i in range(24)]
    assert [i for i, f in enumerate(frames) if f.key_frame] == [0, 8, 16]


def test_an_h265_clip_reads_the_same_with_keyframes_where_asked(tmp_path: Path) -> None:
    path = tmp_path / "hevc.mp4"
    write_barcode_clip(path, clip_number=5, frames=20, fps=60, gop=6, audio=False,
                       width=320, height=180, codec="h265")
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
        frames = list(container.decode(video=0))
    assert [read_barcode(f.to_ndarray(format="rgb24")) for f in frames] == [
        (5, i) for i in range(20)]
    assert [i for i, f in enumerate(frames) if f.key_frame] == [0, 6, 12, 18]
    with pytest.raises(ValueError, match="codec 'vp9' is not one of h264, h265"):
        write_barcode_clip(tmp_path / "x.mp4", clip_number=1, frames=2, codec="vp9")


def test_audio_is_a_stereo_48k_tone_naming_the_clip_with_clicks_on_seconds(clip: Path) -> None:
    with av.open(str(clip)) as container:
        assert len(container.streams.audio) == 1
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.rate == AUDIO_RATE
        assert stream.channels == AUDIO_CHANNELS == 2
        frames = list(container.decode(stream))
    assert frames[0].pts == 0
    left = np.concatenate([f.to_ndarray()[0] for f in frames])
    assert len(left) == pytest.approx(FRAMES / FPS * AUDIO_RATE, abs=1024)

    # The tone between clicks: its strongest FFT bin (1 Hz apart over 1 s) is the clip's pitch.
    second = left[AUDIO_RATE // 10: AUDIO_RATE // 10 + AUDIO_RATE]
    spectrum = np.abs(np.fft.rfft(second * np.hanning(len(second))))
    assert int(np.argmax(spectrum)) == pytest.approx(tone_hz(CLIP_NUMBER), abs=2)

    # Each whole second starts with a click louder than the tone anywhere else.
    for start in (0, AUDIO_RATE, 2 * AUDIO_RATE):
        window = np.abs(left[max(0, start - 2_000): start + 2_000])
        assert window.max() > 0.6
        peak = int(np.argmax(window)) + max(0, start - 2_000)
        assert start <= peak < start + 48
    quiet = np.abs(left[AUDIO_RATE // 10: AUDIO_RATE - AUDIO_RATE // 10])
    assert quiet.max() < 0.4


def test_no_audio_stream_when_not_asked(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    write_barcode_clip(path, clip_number=0, frames=5, audio=False)
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 0
        assert [read_barcode(f.to_ndarray(format="rgb24"))
                for f in container.decode(video=0)] == [(0, i) for i in range(5)]


def test_every_single_inverted_cell_reads_as_none(decoded: list[np.ndarray]) -> None:
    # Guards, every data bit, and the grey margins (inverting grey leaves it grey, so those
    # are the one case that still reads).
    for rgb in (decoded[0], decoded[37], decoded[FRAMES - 1]):
        assert read_barcode(rgb) is not None
        for cell in range(1, CELLS - 1):
            assert read_barcode(_invert_cell(rgb, cell)) is None, cell


def test_two_and_three_inverted_bits_read_as_none(decoded: list[np.ndarray]) -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        rgb = decoded[int(rng.integers(FRAMES))]
        damaged = rgb
        for cell in rng.choice(np.arange(2, 2 + DATA_BITS), size=int(rng.integers(2, 4)),
                               replace=False):
            damaged = _invert_cell(damaged, int(cell))
        assert read_barcode(damaged) is None


def test_a_grey_smeared_cell_reads_as_none(decoded: list[np.ndarray]) -> None:
    rgb = decoded[10].copy()
    rows, cols = _cell_box(12, rgb.shape[1], rgb.shape[0])
    rgb[rows, cols] = 128
    assert read_barcode(rgb) is None


@pytest.mark.parametrize("seed", range(5))
def test_noise_reads_as_none(seed: int) -> None:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(360, 640, 3), dtype=np.uint8)
    assert read_barcode(noise) is None
    # Coarse noise, cells' size: big patches of black and white, as in real footage.
    blocks = rng.integers(0, 2, size=(9, CELLS), dtype=np.uint8) * 255
    coarse = np.kron(blocks, np.ones((40, 640 // CELLS + 1), dtype=np.uint8))[:360, :640]
    assert read_barcode(np.repeat(coarse[:, :, None], 3, axis=2)) is None


@pytest.mark.parametrize("level", [0, 128, 255])
def test_flat_pictures_read_as_none(level: int) -> None:
    assert read_barcode(np.full((720, 1280, 3), level, dtype=np.uint8)) is None


def test_a_tiny_picture_reads_as_none() -> None:
    assert read_barcode(np.zeros((10, 20, 3), dtype=np.uint8)) is None


def test_a_picture_without_three_channels_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="H x W x 3"):
        read_barcode(np.zeros((360, 640), dtype=np.uint8))


@pytest.mark.parametrize(("clip_number", "frame_index"),
                         [(0, 0), (255, 65535), (170, 0x5555), (85, 0xAAAA), (1, 256)])
def test_extreme_values_round_trip_at_several_scales(clip_number: int, frame_index: int) -> None:
    rgb = barcode_picture(clip_number, frame_index)
    assert rgb.shape == (360, 640, 3)
    assert rgb.dtype == np.uint8
    assert read_barcode(rgb) == (clip_number, frame_index)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    for width, height in [(1920, 1080), (1280, 720), (854, 480), (320, 180)]:
        scaled = frame.to_ndarray(format="rgb24", width=width, height=height)
        assert read_barcode(scaled) == (clip_number, frame_index), (width, height)
    # A painted surface's RGBA reads as well.
    alpha = np.full((*rgb.shape[:2], 1), 255, dtype=np.uint8)
    assert read_barcode(np.concatenate([rgb, alpha], axis=2)) == (clip_number, frame_index)


def test_the_bits_are_clip_then_frame_most_significant_first() -> None:
    bits = barcode_bits(0b1000_0001, 0b0100_0000_0000_0011)
    assert len(bits) == DATA_BITS == 32
    assert bits[:8] == [1, 0, 0, 0, 0, 0, 0, 1]
    assert bits[8:24] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert barcode_bits(0, 0) != [0] * DATA_BITS


def test_the_tone_stays_below_nyquist_and_differs_per_clip() -> None:
    pitches = [tone_hz(n) for n in range(256)]
    assert len(set(pitches)) == 256
    assert max(pitches) < AUDIO_RATE / 4


@pytest.mark.parametrize("kwargs", [
    {"clip_number": 256, "frames": 1},
    {"clip_number": -1, "frames": 1},
    {"clip_number": 0, "frames": 0},
    {"clip_number": 0, "frames": 65537},
    {"clip_number": 0, "frames": 1, "width": 641},
    {"clip_number": 0, "frames": 1, "fps": 0},
    {"clip_number": 0, "frames": 1, "gop": 0},
])
def test_out_of_range_arguments_are_refused(tmp_path: Path, kwargs: dict[str, int]) -> None:
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError):
        write_barcode_clip(path, **kwargs)  # type: ignore[arg-type]
    assert not path.exists()
