"""The trainee recording's fragments: sync with the run's clock, the manifest, scan, export."""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from simulator.devices.frames import CameraFrame
from simulator.recording.file_sources import (
    SyntheticRoomCamera,
    SyntheticRoomMicrophone,
    read_stamp,
    stamp_picture,
)
from simulator.recording.fragments import (
    FRAGMENT_S,
    MANIFEST,
    AudioFormat,
    Fragment,
    FragmentWriter,
    RecordingError,
    VideoFormat,
    scan,
)
from simulator.recording.reader import RecordingReader, export_recording
from simulator.recording.sound import AudioBlock

ORIGIN = 5_000_000_000
BASE = 7
FPS = 30
PERIOD_NS = 1_000_000_000 // FPS
SIZE = (160, 90)


def record(folder: Path, seconds: float, *, rate: int = 48_000, skew_ppm: float = 50.0,
           base_seq: int = BASE, origin: int = ORIGIN, seed: int = 1,
           video: bool = True, audio: bool = True, block_ms: tuple[float, float] = (5, 40),
           fragments: list[Fragment] | None = None) -> tuple[list[int], list[Fragment]]:
    """Record the synthetic room for ``seconds``, fed in the order things would arrive.

    Returns the exposure stamps of the pictures delivered and the fragments written.
    """
    start = origin + 100_000_000
    camera = SyntheticRoomCamera(size=SIZE, fps=FPS, start_ns=start,
                                 frames=round(seconds * FPS), jitter_ms=5.0, drop_every=97,
                                 seed=seed)
    microphone = SyntheticRoomMicrophone(rate=rate, start_ns=start - 50_000_000,
                                         duration_s=seconds, skew_ppm=skew_ppm,
                                         block_ms=block_ms, seed=seed)
    writer = FragmentWriter(folder, base_seq=base_seq, origin_ns=origin,
                            video=VideoFormat(*SIZE, FPS) if video else None,
                            audio=AudioFormat(rate, 1) if audio else None,
                            on_fragment=fragments.append if fragments is not None else None)
    stamps: list[int] = []

    def pictures() -> Iterator[tuple[int, int, CameraFrame | AudioBlock]]:
        while video and (frame := camera.read()) is not None:
            yield frame.exposure_ns + 40_000_000, 0, frame

    def blocks() -> Iterator[tuple[int, int, CameraFrame | AudioBlock]]:
        while audio and (block := microphone.read()) is not None:
            yield block.end_ns + 20_000_000, 1, block

    for _, _, item in heapq.merge(pictures(), blocks(), key=lambda entry: entry[:2]):
        if isinstance(item, CameraFrame):
            writer.add_frame(item)
            stamps.append(item.exposure_ns)
        else:
            writer.add_audio(item)
    return stamps, writer.close()


def click_onset(reader: RecordingReader, base_seq: int, at_ns: int) -> float:
    """Where the click due at ``at_ns`` is heard, in ns from it."""
    window = 100_000_000
    sound = reader.audio_between(base_seq, at_ns - window, at_ns + window)
    loud = np.flatnonzero(np.abs(sound.astype(np.int32)) > 5_000)
    assert len(loud), f"no click near {at_ns}"
    return float(loud[0] * 1e9 / 48_000 - window)


def check_sync(folder: Path, stamps: list[int], fragments: list[Fragment],
               seconds: float) -> None:
    reader = RecordingReader(folder, fragments)
    for stamp in stamps:
        picture = reader.frame_at(BASE, stamp)
        assert picture is not None and read_stamp(picture) == stamp
    # Between two pictures the earlier one is shown.
    middle = reader.frame_at(BASE, stamps[-10] + 5_000_000)
    assert middle is not None and read_stamp(middle) == stamps[-10]
    # The last stretch: every click (each whole half second of the run's clock) is heard
    # within a camera frame of its time, and the picture shown then was exposed within a
    # frame or two (a dropped one) before it.
    end = ORIGIN + 100_000_000 + round(seconds * 1e9)
    clicks = range((end - 10_000_000_000) // 500_000_000 + 1, (end - 200_000_000) // 500_000_000)
    for k in clicks:
        at = k * 500_000_000
        assert abs(click_onset(reader, BASE, at)) < PERIOD_NS
        shown = reader.frame_at(BASE, at)
        assert shown is not None
        stamp = read_stamp(shown)
        assert stamp is not None and 0 <= at - stamp <= 2 * PERIOD_NS + 5_000_000
    reader.close()


def test_a_minute_stays_in_sync_with_the_run_clock(tmp_path: Path) -> None:
    stamps, fragments = record(tmp_path, 60.0, rate=16_000)
    assert sum(f.video_frames for f in fragments) == len(stamps) > 1700
    check_sync(tmp_path, stamps, fragments, 60.0)


@pytest.mark.slow
def test_ten_minutes_stay_in_sync_with_the_run_clock(tmp_path: Path) -> None:
    # Six hundred fragments are each synced to disk three times; in memory where the
    # system has a memory file system, as what is tested here is the timing, not the disk.
    memory = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=memory if memory.is_dir() else tmp_path) as where:
        folder = Path(where)
        # A device clock 50 ppm fast would put the sound 30 ms ahead after ten minutes.
        stamps, fragments = record(folder, 600.0, rate=16_000, block_ms=(20, 100))
        assert sum(f.video_frames for f in fragments) == len(stamps) > 17_000
        check_sync(folder, stamps, fragments, 600.0)


def manifest_lines(folder: Path) -> list[bytes]:
    return (folder / MANIFEST).read_bytes().splitlines(keepends=True)


def test_fragments_are_half_a_second_each_hashed_and_in_the_manifest(tmp_path: Path) -> None:
    told: list[Fragment] = []
    _, fragments = record(tmp_path, 5.0, fragments=told)
    assert FRAGMENT_S == 0.5
    assert told == fragments and [f.index for f in fragments] == list(range(len(fragments)))
    assert len(fragments) in (10, 11)
    for fragment in fragments[:-1]:
        # Half a second of pictures; the sound was held a fifth of a second to be placed,
        # so a fragment also holds the sound of the fifth of a second before its first
        # picture.
        assert 13 <= fragment.video_frames <= 16
        assert 0.45e9 <= fragment.last_ns - fragment.first_ns <= 0.75e9
    for fragment in fragments[1:-1]:
        # Give or take a block of sound (up to 40 ms).
        assert 0.9 * 24_000 <= fragment.audio_samples <= 1.1 * 24_000
    for fragment in fragments:
        data = (tmp_path / fragment.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == fragment.sha256
        assert len(data) == fragment.size_bytes and fragment.time_base == "1/1000000"
        with av.open(str(tmp_path / fragment.name)) as container:
            first = next(container.decode(video=0))
            assert first.key_frame
    lines = [json.loads(line) for line in manifest_lines(tmp_path)]
    assert [Fragment(**{k: v for k, v in line.items() if k != "version"}) for line in lines] \
        == fragments
    assert scan(tmp_path) == fragments
    assert not list(tmp_path.glob("*.partial"))


def test_scan_takes_in_a_fragment_the_manifest_missed(tmp_path: Path) -> None:
    _, fragments = record(tmp_path, 3.0)
    lines = manifest_lines(tmp_path)
    (tmp_path / MANIFEST).write_bytes(b"".join(lines[:-1]))
    # Decoding the file finds exactly what the writer had recorded of it.
    assert scan(tmp_path) == fragments
    assert len(manifest_lines(tmp_path)) == len(lines)


def test_scan_removes_partial_files_and_keeps_others(tmp_path: Path) -> None:
    _, fragments = record(tmp_path, 2.0)
    (tmp_path / "000009.mp4.partial").write_bytes(b"half a fragment")
    (tmp_path / "notes.txt.partial").write_bytes(b"not ours")
    assert scan(tmp_path) == fragments
    assert not (tmp_path / "000009.mp4.partial").exists()
    assert (tmp_path / "notes.txt.partial").exists()


def test_scan_drops_a_torn_last_line_and_the_next_writer_appends_cleanly(
        tmp_path: Path) -> None:
    _, fragments = record(tmp_path, 3.0)
    lines = manifest_lines(tmp_path)
    torn = lines[-1][: len(lines[-1]) // 2]
    (tmp_path / MANIFEST).write_bytes(b"".join(lines[:-1]) + torn)
    # The torn line's fragment is whole on disk, so it comes back from the file.
    assert scan(tmp_path) == fragments
    assert all(json.loads(line) for line in manifest_lines(tmp_path))
    _, more = record(tmp_path, 1.0, base_seq=BASE + 1, origin=ORIGIN + 10_000_000_000)
    assert more[0].index == fragments[-1].index + 1
    assert scan(tmp_path) == fragments + more


def test_a_damaged_line_before_the_last_names_the_line_and_the_field(tmp_path: Path) -> None:
    _, fragments = record(tmp_path, 3.0)
    # A name from the record that would lead out of the folder is refused before any read.
    escaping = dataclasses.replace(fragments[0], name="../\x1b[2J000000.mp4")
    with pytest.raises(RecordingError, match=r"fragment 0 is named .*<U\+001B>"):
        RecordingReader(tmp_path, [escaping])
    with pytest.raises(RecordingError, match=r"not like 000000\.mp4"):
        export_recording(tmp_path, [escaping], tmp_path / "out.mp4")
    lines = manifest_lines(tmp_path)
    damaged = json.loads(lines[1])
    damaged["sha256"] = "\x1b[2Jnot a hash"
    lines[1] = (json.dumps(damaged) + "\n").encode()
    (tmp_path / MANIFEST).write_bytes(b"".join(lines))
    with pytest.raises(RecordingError, match=r"manifest.jsonl line 2: field 'sha256'"):
        scan(tmp_path)
    damaged["sha256"], damaged["name"] = "0" * 64, "../../etc/passwd"
    lines[1] = (json.dumps(damaged) + "\n").encode()
    (tmp_path / MANIFEST).write_bytes(b"".join(lines))
    with pytest.raises(RecordingError, match=r"line 2: field 'name'"):
        scan(tmp_path)


def test_a_resumed_run_continues_the_indices_and_both_time_bases_read_and_export(
        tmp_path: Path) -> None:
    folder = tmp_path / "run"
    first_stamps, first = record(folder, 2.0)
    resumed_origin = ORIGIN + 30_000_000_000
    second_stamps, second = record(folder, 2.0, base_seq=BASE + 5, origin=resumed_origin,
                                   seed=2)
    assert [f.index for f in first + second] == list(range(len(first) + len(second)))
    fragments = scan(folder)
    assert fragments == first + second
    reader = RecordingReader(folder, fragments)
    assert [span[0] for span in reader.spans()] == [BASE, BASE + 5]
    for base, stamps in ((BASE, first_stamps), (BASE + 5, second_stamps)):
        picture = reader.frame_at(base, stamps[10])
        assert picture is not None and read_stamp(picture) == stamps[10]
    # Neither time base shows the other's pictures.
    assert reader.frame_at(BASE + 5, first_stamps[10]) is None
    reader.close()

    exported = export_recording(folder, fragments, tmp_path / "out.mp4")
    assert exported == tmp_path / "out-1.mp4" and (tmp_path / "out-2.mp4").exists()
    for path, stamps in ((tmp_path / "out-1.mp4", first_stamps),
                         (tmp_path / "out-2.mp4", second_stamps)):
        with av.open(str(path)) as container:
            pictures = [read_stamp(f.to_ndarray(format="bgr24"))
                        for f in container.decode(video=0)]
        assert pictures == stamps
        with av.open(str(path)) as container:
            heard = sum(frame.samples for frame in container.decode(audio=0))
        assert heard >= 1.9 * 48_000
    assert not list(tmp_path.glob(".*partial"))


def test_export_refuses_a_fragment_changed_since_it_was_recorded(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    _, fragments = record(folder, 2.0)
    path = folder / fragments[1].name
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=r"000001\.mp4 has changed since it was recorded"):
        export_recording(folder, fragments, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_a_camera_alone_and_a_microphone_alone(tmp_path: Path) -> None:
    stamps, pictures = record(tmp_path / "camera", 2.0, audio=False)
    assert all(f.audio_samples == 0 and f.video_frames for f in pictures)
    _, sound = record(tmp_path / "microphone", 2.0, video=False)
    assert all(f.video_frames == 0 and f.audio_samples for f in sound)
    assert sound[0].time_base == "1/48000"
    assert scan(tmp_path / "microphone") == sound
    reader = RecordingReader(tmp_path / "microphone", sound)
    assert abs(click_onset(reader, BASE, ORIGIN + 1_000_000_000)) < 5_000_000
    assert reader.frame_at(BASE, stamps[5]) is None


def frame_at(stamp: int, number: int) -> CameraFrame:
    return CameraFrame(image=stamp_picture(stamp, SIZE), number=number, exposure_ns=stamp)


def test_frame_at_is_none_before_the_first_in_a_gap_and_past_the_end(tmp_path: Path) -> None:
    writer = FragmentWriter(tmp_path, base_seq=BASE, origin_ns=ORIGIN,
                            video=VideoFormat(*SIZE, FPS), audio=None)
    writer.add_frame(frame_at(ORIGIN - 33_333_000, 0))  # before the run: left out
    times = [ORIGIN + n * 33_333_000 for n in (*range(10), *range(20, 30))]
    for number, stamp in enumerate(times):
        writer.add_frame(frame_at(stamp, number))
    fragments = writer.close()
    assert sum(f.video_frames for f in fragments) == len(times)
    reader = RecordingReader(tmp_path, fragments)
    assert reader.frame_at(BASE, ORIGIN - 1) is None
    shown = reader.frame_at(BASE, times[9] + PERIOD_NS // 2)
    assert shown is not None and read_stamp(shown) == times[9]
    assert reader.frame_at(BASE, times[9] + 3 * PERIOD_NS) is None
    again = reader.frame_at(BASE, times[10])
    assert again is not None and read_stamp(again) == times[10]
    assert reader.frame_at(BASE, times[-1] + 2 * PERIOD_NS) is None
    # Scrubbing back decodes again from the fragment's start.
    back = reader.frame_at(BASE, times[1])
    assert back is not None and read_stamp(back) == times[1]


def test_lost_sound_is_silence_and_the_sound_after_it_is_in_place(tmp_path: Path) -> None:
    rate = 48_000
    writer = FragmentWriter(tmp_path, base_seq=BASE, origin_ns=ORIGIN, video=None,
                            audio=AudioFormat(rate, 1))
    block = rate // 50  # 20 ms

    def tone(start_sample: int) -> AudioBlock:
        samples = np.full((block, 1), 1000, dtype=np.int16)
        return AudioBlock(samples=samples, rate=rate,
                          start_ns=ORIGIN + start_sample * 1_000_000_000 // rate)

    for k in range(-5, 25):  # half a second of sound, after a tenth before the run
        writer.add_audio(tone(k * block))
    for k in range(40, 60):  # 300 ms lost, then 400 ms more
        writer.add_audio(tone(k * block))
    reader = RecordingReader(tmp_path, writer.close())
    sound = reader.audio_between(BASE, ORIGIN, ORIGIN + 1_400_000_000)
    gap = sound[int(0.55 * rate):int(0.75 * rate)]
    assert np.abs(gap.astype(np.int32)).max() < 50
    # After the gap the tone is back within a few milliseconds of its stamp (AAC smears
    # its onset a little), and it stops where it stopped.
    heard = np.flatnonzero(np.abs(sound.astype(np.int32)) > 500)
    assert heard[0] < 0.005 * rate
    back = heard[heard > int(0.6 * rate)][0]
    assert abs(back - int(0.8 * rate)) < 0.005 * rate
    assert abs(heard[-1] - int(1.2 * rate)) < 0.005 * rate
