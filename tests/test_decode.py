"""Decoding a segment: exact frames from the in-point, each with exactly its own sound."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.playback.barcode import (
    read_barcode,
    read_barcode_luma,
    tone_hz,
    write_barcode_clip,
)
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


def test_for_the_gpu_frames_carry_the_decoders_own_planes_scaled_down_never_up(clip):
    from simulator.playback.decode import YuvPicture

    down = SegmentDecoder(clip, 0.5, 0.7, size=(160, 90), yuv=True)
    up = SegmentDecoder(clip, 0.5, 0.7, size=(1280, 720), yuv=True)
    small, native = list(down), list(up)
    down.close()
    up.close()
    assert all(isinstance(f.picture, YuvPicture) for f in small + native)
    first = small[0].picture
    assert (first.y.shape, first.u.shape, first.v.shape) == ((90, 160), (45, 80), (45, 80))
    assert native[0].picture.y.shape == (180, 320)  # the chip scales up, for nothing
    assert all(p.flags["C_CONTIGUOUS"] for p in (first.y, first.u, first.v))
    # x264 leaves the colours unsaid: below 720 lines that is BT.601, limited range.
    assert first.matrix == "bt601" and not first.full_range
    assert [read_barcode_luma(f.picture.y) for f in native] == [(9, i) for i in range(15, 21)]
    with pytest.raises(TypeError, match="decoded as YUV planes"):
        _ = native[0].rgb
    assert (native[0].width, native[0].height) == (320, 180)


@pytest.mark.parametrize(("pix_fmt", "extra", "full"), [
    ("yuv422p", [], False), ("yuvj420p", [], True),
    ("yuv420p10le", ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace",
                     "bt709"], False)])
def test_other_pixel_formats_arrive_as_planar_4_2_0_with_their_colours_said(
        tmp_path, pix_fmt, extra, full):
    import subprocess

    path = tmp_path / f"{pix_fmt}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=318x180:rate=10:duration=1", "-pix_fmt", pix_fmt, *extra,
                    "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    decoder = SegmentDecoder(path, 0.0, 0.3, yuv=True)
    frames = list(decoder)
    decoder.close()
    picture = frames[0].picture
    # An odd chroma width (318 / 2 = 159) is kept whole, rows without FFmpeg's padding.
    assert (picture.y.shape, picture.u.shape) == ((180, 318), (90, 159))
    assert picture.y.dtype == np.uint8 and picture.full_range is full
    assert picture.matrix == ("bt709" if pix_fmt == "yuv420p10le" else "bt601")


@pytest.mark.parametrize(("levels", "grey_y"), [("pc", 200), ("tv", 188)])
def test_full_and_limited_range_keep_their_range_scaled_and_both_presenters_show_one_grey(
        tmp_path, levels, grey_y):
    import subprocess

    # Really full-range pixels (not only the tag), in a plain yuv420p stream.
    path = tmp_path / f"grey-{levels}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=0xc8c8c8:size=320x180:rate=10:duration=1", "-vf",
                    f"scale=out_range={levels}", "-pix_fmt", "yuv420p", "-color_range", levels,
                    "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(path)],
                   check=True)
    for yuv in (True, False):
        decoder = SegmentDecoder(path, 0.0, 0.2, size=(160, 90), yuv=yuv)
        picture = next(iter(decoder)).picture
        decoder.close()
        if yuv:
            assert abs(float(picture.y.mean()) - grey_y) <= 1
            assert picture.full_range is (levels == "pc")
        else:
            # The same grey on the CPU painter from either range (swscale's fast scaler is
            # within 2 levels): full-range pixels read as limited would come out at 214,
            # limited ones read as full at 188.
            assert abs(float(picture.mean()) - 200) <= 3
