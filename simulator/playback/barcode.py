"""Test clips whose every frame says which clip and frame it is, and reading that back.

Benchmarks and tests use these clips to prove which frame was on screen: each picture
carries a one-row barcode of (clip number, frame index) guarded by a CRC-8, so a frame
read off a decoded or painted picture (rescaled, H.264-blurred) either names itself
correctly or reads as ``None``; a damaged barcode is not turned into a wrong number.

Layout, in fractions of the picture so that any scale of it reads the same: the top
sixth of the frame is the strip; across it sit ``CELLS`` equal cells, each
``width / CELLS`` wide, with bars from ``height / 48`` to ``7 * height / 48``:

    grey margin | white guard | 8 bits clip | 16 bits frame | 8 bits CRC | black guard | grey margin

Bits are most significant first, white for 1 and black for 0. The rest of the frame
is mid grey. The sound (when asked for) is a stereo 48 kHz sine whose pitch is
``tone_hz(clip_number)``, with a short click at the start of every whole second.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLIP_BITS = 8
FRAME_BITS = 16
CRC_BITS = 8
DATA_BITS = CLIP_BITS + FRAME_BITS + CRC_BITS
# margin, white guard, the bits, black guard, margin
CELLS = DATA_BITS + 4
MAX_CLIP_NUMBER = (1 << CLIP_BITS) - 1
MAX_FRAME_INDEX = (1 << FRAME_BITS) - 1

BAR_TOP = 1 / 48
BAR_BOTTOM = 7 / 48
STRIP_HEIGHT = 1 / 6

AUDIO_RATE = 48_000
AUDIO_CHANNELS = 2

# Studio-range luma, which is what yuv420p H.264 carries; these decode to RGB 0, 255, ~128.
_Y_BLACK = 16
_Y_WHITE = 235
_Y_GREY = 126

_CRC_POLY = 0x07
# A non-zero start keeps clip 0 frame 0 from being an all-black row of bits.
_CRC_INIT = 0xFF
# Guards closer than this (out of 255) are not a barcode: noise, a flat or blank picture.
_MIN_CONTRAST = 96.0
# A cell must sit this fraction of the guard contrast away from the midpoint to count as a
# bit; anything greyer is a smear or not our picture, and the whole read is refused.
_MIN_BIT_MARGIN = 0.25
# Sampled patch, as a fraction of a cell's width and of the bar's height, centred in it,
# so blur from the neighbouring cells (scaling, H.264 ringing) stays outside it.
_PATCH_W = 0.5
_PATCH_H = 0.5

_TONE_AMPLITUDE = 0.25
_CLICK_AMPLITUDE = 0.8
_CLICK_HZ = 1_000
_CLICK_SAMPLES = AUDIO_RATE // _CLICK_HZ  # one period, so the click starts and ends at zero
_AUDIO_CHUNK = 1024  # AAC's frame size


def tone_hz(clip_number: int) -> int:
    """The pitch of a barcode clip's sine tone: 220 Hz plus 40 Hz per clip number.

    Clip 255 sits at 10.42 kHz, below where AAC starts cutting highs.
    """
    _check_clip_number(clip_number)
    return 220 + 40 * clip_number


def barcode_bits(clip_number: int, frame_index: int) -> list[int]:
    """The ``DATA_BITS`` bits drawn for a frame, most significant first: clip, frame, CRC."""
    _check_clip_number(clip_number)
    if not 0 <= frame_index <= MAX_FRAME_INDEX:
        raise ValueError(f"frame index {frame_index} is outside 0..{MAX_FRAME_INDEX}")
    payload = _to_bits(clip_number, CLIP_BITS) + _to_bits(frame_index, FRAME_BITS)
    return payload + _to_bits(_crc8(payload), CRC_BITS)


def barcode_picture(clip_number: int, frame_index: int, *, width: int = 640,
                    height: int = 360) -> np.ndarray:
    """The RGB picture (``height x width x 3`` uint8) that a barcode clip shows for a frame.

    Full-range RGB: black 0, white 255, background 128. For painting a known frame without
    encoding a clip, e.g. to test a display path.
    """
    luma = _luma_picture(clip_number, frame_index, width, height)
    # Studio range to full range, as a decoder would.
    rgb = np.clip((luma.astype(np.float32) - 16.0) * (255.0 / 219.0) + 0.5, 0, 255)
    return np.repeat(rgb.astype(np.uint8)[:, :, None], 3, axis=2)


# What `write_barcode_clip` encodes with: x264 and x265.
CODECS = ("h264", "h265")


def write_barcode_clip(path: Path, *, clip_number: int, frames: int, fps: int = 30,
                       width: int = 640, height: int = 360, gop: int | None = None,
                       audio: bool = True, codec: str = "h264") -> None:
    """Encode an MP4 at ``path`` whose frame ``i`` carries ``(clip_number, i)``.

    ``codec`` is ``h264`` (x264) or ``h265`` (x265); the sound is AAC. Frames have pts
    ``i / fps`` exactly; a keyframe comes every ``gop`` frames (default: one a second). With
    ``audio``, the clip has a stereo 48 kHz track as long as the picture: a
    ``tone_hz(clip_number)`` sine with a click at every whole second.
    """
    if codec not in CODECS:
        raise ValueError(f"codec {codec!r} is not one of {', '.join(CODECS)}")
    _check_clip_number(clip_number)
    if not 1 <= frames <= MAX_FRAME_INDEX + 1:
        raise ValueError(f"frames {frames} is outside 1..{MAX_FRAME_INDEX + 1}")
    if fps < 1:
        raise ValueError(f"fps must be at least 1, not {fps}")
    if width % 2 or height % 2 or width < 2 * CELLS or height < 48:
        raise ValueError(f"{width}x{height} is not an even size of at least {2 * CELLS}x48")
    keyint = fps if gop is None else gop
    if keyint < 1:
        raise ValueError(f"gop must be at least 1, not {keyint}")

    with av.open(str(path), "w", format="mp4") as out:
        video = (out.add_stream("libx264", rate=fps) if codec == "h264"
                 else out.add_stream("libx265", rate=fps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.gop_size = keyint
        # Keyframes exactly every `keyint` frames, never on a "scene cut" (every frame's
        # barcode differs), so seek tests know where the keyframes are.
        if codec == "h264":
            video.options = {"preset": "veryfast", "crf": "23", "keyint_min": str(keyint),
                             "sc_threshold": "0"}
        else:
            video.options = {"preset": "veryfast", "crf": "23", "x265-params":
                             f"keyint={keyint}:min-keyint={keyint}:scenecut=0:log-level=error"}
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if audio else None
        total_samples = frames * AUDIO_RATE // fps
        samples_done = 0
        # Chroma is flat grey on every frame; only the luma plane changes.
        chroma = np.full((height // 2, width), 128, dtype=np.uint8)
        for index in range(frames):
            luma = _luma_picture(clip_number, index, width, height)
            frame = av.VideoFrame.from_ndarray(np.concatenate([luma, chroma]), format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
            if sound is not None:
                # Feed the sound alongside the picture so the file is interleaved in time,
                # as real footage is, instead of one stream's packets all after the other's.
                frame_end = min(total_samples, (index + 1) * AUDIO_RATE // fps)
                while samples_done < frame_end:
                    count = min(_AUDIO_CHUNK, total_samples - samples_done)
                    out.mux(sound.encode(_audio_frame(clip_number, samples_done, count)))
                    samples_done += count
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))


def read_barcode(rgb: np.ndarray) -> tuple[int, int] | None:
    """The ``(clip_number, frame_index)`` shown in a barcode clip's picture, or ``None``.

    ``rgb`` is the whole picture, ``height x width x 3`` (or 4) uint8, at any scale of the
    clip's own size as long as the aspect is kept. ``None`` when the guards are missing or
    too close, a cell is neither clearly black nor clearly white, or the CRC fails.
    """
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an H x W x 3 picture, got shape {rgb.shape}")
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    if width < CELLS or height < 24:
        return None
    levels = [_cell_level(rgb, cell, width, height) for cell in range(CELLS)]
    white, black = levels[1], levels[-2]
    contrast = white - black
    if contrast < _MIN_CONTRAST:
        return None
    midpoint = (white + black) / 2
    margin = _MIN_BIT_MARGIN * contrast
    # The grey margins must look grey: catches a picture that is not ours, or one whose
    # geometry is off (cropped, letterboxed, another aspect), before the bits are trusted.
    if any(abs(levels[cell] - midpoint) >= contrast / 2 - margin for cell in (0, CELLS - 1)):
        return None
    bits: list[int] = []
    for level in levels[2:-2]:
        if abs(level - midpoint) < margin:
            return None
        bits.append(1 if level > midpoint else 0)
    payload, crc = bits[: CLIP_BITS + FRAME_BITS], bits[CLIP_BITS + FRAME_BITS:]
    if _from_bits(crc) != _crc8(payload):
        return None
    return _from_bits(payload[:CLIP_BITS]), _from_bits(payload[CLIP_BITS:])


def read_barcode_luma(y: np.ndarray) -> tuple[int, int] | None:
    """`read_barcode` of a decoder's Y plane (``height x width``), without converting it.

    The code is black and white on grey: the luma alone carries it.
    """
    return read_barcode(np.broadcast_to(y[:, :, None], (*y.shape, 3)))


def _luma_picture(clip_number: int, frame_index: int, width: int, height: int) -> np.ndarray:
    picture = np.full((height, width), _Y_GREY, dtype=np.uint8)
    top, bottom = round(height * BAR_TOP), round(height * BAR_BOTTOM)
    cells = [1, *barcode_bits(clip_number, frame_index), 0]
    for offset, bit in enumerate(cells, start=1):
        left, right = round(offset * width / CELLS), round((offset + 1) * width / CELLS)
        picture[top:bottom, left:right] = _Y_WHITE if bit else _Y_BLACK
    return picture


def _cell_level(rgb: np.ndarray, cell: int, width: int, height: int) -> float:
    cell_w = width / CELLS
    centre_x = (cell + 0.5) * cell_w
    centre_y = height * (BAR_TOP + BAR_BOTTOM) / 2
    half_w = cell_w * _PATCH_W / 2
    half_h = height * (BAR_BOTTOM - BAR_TOP) * _PATCH_H / 2
    left = math.floor(centre_x - half_w + 0.5)
    right = max(left + 1, math.floor(centre_x + half_w + 0.5))
    top = math.floor(centre_y - half_h + 0.5)
    bottom = max(top + 1, math.floor(centre_y + half_h + 0.5))
    return float(rgb[top:bottom, left:right, :3].mean())


def _audio_frame(clip_number: int, start: int, count: int) -> av.AudioFrame:
    n = np.arange(start, start + count, dtype=np.float64)
    wave = _TONE_AMPLITUDE * np.sin(2 * np.pi * tone_hz(clip_number) * n / AUDIO_RATE)
    # Clicks at whole seconds (the first samples of frames 0, fps, 2 fps, ...) let a listener
    # or a test line the sound up with the picture; fps is whole, so they land on samples.
    phase = n % AUDIO_RATE
    in_click = phase < _CLICK_SAMPLES
    wave[in_click] += _CLICK_AMPLITUDE * np.sin(2 * np.pi * phase[in_click] / _CLICK_SAMPLES)
    planes = np.repeat(wave.astype(np.float32)[None, :], AUDIO_CHANNELS, axis=0)
    frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout="stereo")
    frame.sample_rate = AUDIO_RATE
    frame.pts = start
    frame.time_base = Fraction(1, AUDIO_RATE)
    return frame


def _crc8(bits: list[int]) -> int:
    # Bitwise CRC-8 (x^8 + x^2 + x + 1): catches every one-, two- and three-bit misread and
    # every run of misread cells up to eight long, which is how a smeared barcode fails.
    crc = _CRC_INIT
    for bit in bits:
        feedback = ((crc >> 7) & 1) ^ bit
        crc = (crc << 1) & 0xFF
        if feedback:
            crc ^= _CRC_POLY
    return crc


def _to_bits(value: int, count: int) -> list[int]:
    return [(value >> shift) & 1 for shift in range(count - 1, -1, -1)]


def _from_bits(bits: list[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


def _check_clip_number(clip_number: int) -> None:
    if not 0 <= clip_number <= MAX_CLIP_NUMBER:
        raise ValueError(f"clip number {clip_number} is outside 0..{MAX_CLIP_NUMBER}")
