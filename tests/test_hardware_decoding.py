"""Choosing hardware decoding, and falling back to software, with the real FFmpeg here.

This machine has no graphics chip: the devices its FFmpeg knows fail to come up, which is
the fallback path every projector PC without one takes. A PC's own chip is tried by the
same code (docs/projector.md says how an agency checks it).
"""

from __future__ import annotations

import json

import av
import pytest
from av.codec.hwaccel import hwdevices_available

from simulator.playback.barcode import read_barcode, write_barcode_clip
from simulator.playback.decode import SegmentDecoder
from simulator.playback.hardware import SOFTWARE, Decoding, choose
from simulator.protocol import RunRecovered, RunStarted, canonical_json


class Devices:
    """Device kinds FFmpeg knows, and which of them come up, as a fake driver says."""

    def __init__(self, known: tuple[str, ...], working: tuple[str, ...]) -> None:
        self.known, self.working = known, working
        self.tried: list[str] = []

    def available(self) -> tuple[str, ...]:
        return self.known

    def create(self, kind: str) -> None:
        self.tried.append(kind)
        if kind not in self.working:
            raise OSError(1, "Operation not permitted")


def test_auto_takes_the_first_of_the_platforms_devices_that_comes_up() -> None:
    devices = Devices(("cuda", "d3d11va", "dxva2", "qsv"), working=("dxva2", "cuda"))
    chosen = choose("auto", platform="win32", available=devices.available,
                    create=devices.create)
    assert chosen.device == "dxva2" and chosen.label == "dxva2"
    assert devices.tried == ["d3d11va", "dxva2"]
    assert chosen.refused == (("d3d11va", "Operation not permitted"),)
    assert chosen.describe() == ("decoding on the graphics chip (dxva2) after trying "
                                 "d3d11va: Operation not permitted")


def test_with_no_device_that_comes_up_it_decodes_in_software_and_says_why() -> None:
    devices = Devices(("vaapi", "cuda", "drm"), working=())
    chosen = choose("auto", platform="linux", available=devices.available,
                    create=devices.create)
    assert chosen.device is None and chosen.label == SOFTWARE
    assert devices.tried == ["vaapi", "cuda"]  # drm is not a decoder this platform uses
    assert [kind for kind, _ in chosen.refused] == ["vaapi", "cuda"]
    assert choose("auto", platform="sunos", available=devices.available,
                  create=devices.create).describe() == (
        "decoding in software (no hardware decoder tried)")


def test_software_and_a_named_device_are_taken_as_said() -> None:
    devices = Devices(("cuda",), working=("cuda",))
    assert choose("software", available=devices.available, create=devices.create) == \
        Decoding(None)
    assert choose("cuda", available=devices.available, create=devices.create).device == "cuda"
    missing = choose("videotoolbox", available=devices.available, create=devices.create)
    assert missing.device is None
    assert missing.refused == (("videotoolbox", "this FFmpeg build has no such device"),)


def test_auto_names_the_devices_this_ffmpeg_build_lacks() -> None:
    devices = Devices(("cuda",), working=())
    chosen = choose("auto", platform="linux", available=devices.available,
                    create=devices.create)
    assert devices.tried == ["cuda"]
    assert chosen.refused == (("vaapi", "this FFmpeg build has no such device"),
                              ("cuda", "Operation not permitted"))


def test_this_machines_ffmpeg_is_asked_for_real() -> None:
    chosen = choose("auto", platform="linux")
    built = set(hwdevices_available())
    tried = [kind for kind, _ in chosen.refused]
    if chosen.device is not None:
        tried.append(chosen.device)
    assert tried in (["vaapi"], ["vaapi", "cuda"])  # in order, up to the first that came up
    for kind, why in chosen.refused:
        # A kind the build lacks is said so; one it has failed with the driver's own reason.
        assert (why == "this FFmpeg build has no such device") == (kind not in built)


def test_a_clip_the_device_fails_to_open_is_decoded_in_software(tmp_path) -> None:
    clip = tmp_path / "clip.mp4"
    write_barcode_clip(clip, clip_number=7, frames=12, width=320, height=180)
    for device in [kind for kind, _ in choose("auto").refused] or ["no-such-device"]:
        decoder = SegmentDecoder(clip, 0.1, 0.3, decoding=Decoding(device))
        frames = list(decoder)
        decoder.close()
        assert not decoder.on_device
        assert [read_barcode(f.rgb) for f in frames] == [(7, i) for i in range(3, 9)]


@pytest.mark.parametrize("event_type", [RunStarted, RunRecovered])
def test_the_run_records_the_decoding_and_older_events_keep_their_text(event_type) -> None:
    common = {"run_id": "r", "seq": 1, "t_ns": 0, "utc": "2026-12-03T00:00:00Z",
              "player_backend": "pyav", "timing_mode": "frame_exact"}
    if event_type is RunStarted:
        common |= {"session_id": "s", "scenario_id": "x", "scenario_hash": "h",
                   "variant_id": "a", "trainee_ids": ["t"], "instructor_id": None}
    else:
        common |= {"last_seq": 3, "segment_id": None}
    said = json.loads(canonical_json(event_type(**common, decoding="d3d11va")))
    assert said["decoding"] == "d3d11va"
    unsaid = canonical_json(event_type(**common))
    assert "decoding" not in json.loads(unsaid)
    assert event_type.model_validate_json(unsaid).decoding is None


def test_a_device_that_fails_clip_after_clip_is_rested_then_tried_again(
        tmp_path, monkeypatch, caplog) -> None:
    from simulator.playback import hardware

    clips = []
    for number in range(1, hardware.GIVE_UP_AFTER + 2):
        clips.append(tmp_path / f"clip{number}.mp4")
        write_barcode_clip(clips[-1], clip_number=number, frames=6, width=320, height=180)
    monkeypatch.setattr(hardware, "_failed_clips", {})
    monkeypatch.setattr(hardware, "_given_up_at", {})
    tries: list[object] = []
    real_open = av.open

    def counting_open(path, *args, hwaccel=None, **kwargs):
        tries.append(hwaccel)
        if hwaccel is not None:
            raise av.FFmpegError(-1, "device lost")
        return real_open(path, *args, **kwargs)

    def open_all(paths) -> None:
        for path in paths:
            container, on_device = hardware.open_clip(path, Decoding("vaapi"))
            container.close()
            assert not on_device

    monkeypatch.setattr(hardware.av, "open", counting_open)
    with caplog.at_level("WARNING", logger=hardware.__name__):
        open_all([clips[0]] * 4)  # one clip refused again and again: not a lost device
        assert len([t for t in tries if t is not None]) == 4
        open_all(clips[1:])  # then other clips: lost after the third different one
    on_device = [t for t in tries if t is not None]
    assert len(on_device) == 4 + hardware.GIVE_UP_AFTER - 1  # the last went to software
    assert sum("is left alone" in r.getMessage() for r in caplog.records) == 1
    # Rested long enough, it is tried once more.
    monkeypatch.setattr(hardware, "RETRY_AFTER_S", 0.0)
    open_all(clips[:1])
    assert len([t for t in tries if t is not None]) == len(on_device) + 1
