"""A class that records its trainees: the agency's setting, the class's choice, the devices'
pre-flight, a run recorded on its clock into the record, a resumed run going on recording,
and a phrase heard in the trainee's microphone reaching the run as an event."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import time
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator.access.settings import AgencySettings, keep_settings
from simulator.agency import default_profile
from simulator.devices.settings import SpeechSettings
from simulator.headless.room import HeadlessRoom
from simulator.paths import DATA_ENV
from simulator.protocol import EndRun
from simulator.record import DatabaseFailed, Record, verify_run
from simulator.recording.feeds import CameraFeed, MicrophoneFeed
from simulator.recording.file_sources import (
    FileMicrophone,
    SyntheticRoomCamera,
    SyntheticRoomMicrophone,
    read_stamp,
)
from simulator.recording.fragments import Fragment, scan
from simulator.recording.reader import RecordingReader, export_recording
from simulator.runtime import MonotonicClock
from simulator.scenario import bundled_library
from simulator.training.gate import Gate
from simulator.training.recording import RecordingDevices
from simulator.training.sitting import ClassSitting, RunPlan

SCENARIO = "knife-in-the-park"


class RecordingRoom(HeadlessRoom):
    """A headless room with a room camera and microphone made by ``devices``."""

    def __init__(self, clock, devices) -> None:
        super().__init__(clock)
        self._devices = devices
        self.opened: list[RecordingDevices] = []

    def recording_devices(self) -> RecordingDevices | None:
        devices = self._devices()
        if devices is not None:
            self.opened.append(devices)
        return devices


def synthetic(clock) -> RecordingDevices:
    return RecordingDevices(
        camera=CameraFeed(SyntheticRoomCamera(clock=clock, fps=30.0, latency_ms=30.0)),
        microphone=MicrophoneFeed(SyntheticRoomMicrophone(clock=clock, latency_ms=10.0)),
        camera_name="room camera 0", microphone_name="default microphone")


def sitting_for(record: Record, clock, devices=synthetic) -> ClassSitting:
    room = RecordingRoom(clock, lambda: devices(clock))
    return ClassSitting(Gate(record, None, "console"), room, bundled_library(),
                        default_profile(), clock, label="recorded class")


def play(started, seconds: float) -> list:
    """Play the run in real time for ``seconds``, sending it what the recording reports."""
    run, recording = started.run, started.recording
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.poll()
        for command in recording.drain():
            run.handle(command)
        time.sleep(0.02)
    return recording.drain()


def fragments_of(stored) -> list[Fragment]:
    return [Fragment(index=f.index, name=f.name, base_seq=f.base_seq, first_ns=f.first_ns,
                     last_ns=f.last_ns, video_frames=f.video_frames,
                     audio_samples=f.audio_samples, sha256=f.sha256, size_bytes=f.size_bytes,
                     time_base=f.time_base) for f in stored.fragments]


@pytest.fixture
def record(tmp_path):
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


def test_a_class_records_only_where_the_agency_allows_it(record):
    clock = MonotonicClock()
    sitting = sitting_for(record, clock)
    assert not sitting.recording_allowed and not sitting.records_trainees
    with pytest.raises(ValueError, match="settings --record-trainees"):
        sitting.set_recording(True)
    assert sitting.preflight(SCENARIO) == []
    assert sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",))).recording is None

    keep_settings(record, None, AgencySettings(record_trainees=True))
    assert sitting.records_trainees
    sitting.set_recording(False)
    assert not sitting.records_trainees and not sitting.cleared(SCENARIO)


def test_a_class_that_records_needs_a_room_camera_or_microphone(record):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    clock = MonotonicClock()
    sitting = sitting_for(record, clock, devices=lambda _clock: None)
    [problem] = sitting.preflight(SCENARIO)
    assert "no room camera or microphone" in problem and "recording:" in problem
    broken = sitting_for(record, clock, devices=lambda _clock: RecordingDevices(
        microphone_name="microphone 3", problems=["the microphone: it is unplugged"]))
    assert broken.preflight(SCENARIO) == ["recording: the microphone: it is unplugged"]


def test_a_recorded_run_keeps_the_trainee_on_its_clock_in_the_record(record):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    clock = MonotonicClock()
    sitting = sitting_for(record, clock)
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    run = started.run
    run.start()
    play(started, 2.6)
    run.handle(EndRun())
    assert not started.recording.recording

    run_id = run.state.run_id
    [stored] = record.recordings.of_run(run_id)
    assert stored.camera == "room camera 0" and stored.microphone == "default microphone"
    assert stored.base_seq == 1 and stored.video_size == "160x90"
    folder = stored.location()
    assert folder.parent.name == "recordings" and folder.name == run_id
    fragments = fragments_of(stored)
    assert len(fragments) >= 2
    for fragment in fragments:
        data = (folder / fragment.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == fragment.sha256
    recorded_s = (fragments[-1].last_ns - fragments[0].first_ns) / 1e9
    assert recorded_s > 2.0
    events = [event.type for event in record.runs.events(run_id)]
    assert events.count("recording_started") == 1
    assert verify_run(record, run_id).ok

    # The picture shown at each moment is the one the camera took then.
    reader = RecordingReader(folder, fragments)
    first_picture = next(f.first_ns for f in fragments if f.video_frames) + 100_000_000
    for at_ns in range(first_picture, fragments[-1].last_ns, 300_000_000):
        picture = reader.frame_at(1, at_ns)
        assert picture is not None
        stamp = read_stamp(picture)
        assert stamp is not None and 0 <= at_ns - stamp < 2 * 1e9 / 30


def test_a_resumed_run_goes_on_recording_in_the_same_folder(record):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    clock = MonotonicClock()
    sitting = sitting_for(record, clock)
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    started.run.start()
    run_id = started.run.state.run_id
    # The projector PC dies: nothing more is drained, the devices go with the process.
    play(started, 1.6)
    for opened in sitting._room.opened:
        opened.camera.close()
        opened.microphone.close()
    started.recording._recorder.stop()
    registered = len(record.recordings.of_run(run_id)[0].fragments)

    sitting = sitting_for(record, clock)
    assert sitting.preflight(SCENARIO) == []
    resumed = sitting.resume(run_id)
    resumed.run.recover()
    play(resumed, 1.6)
    resumed.run.handle(EndRun())

    first, second = record.recordings.of_run(run_id)
    assert first.folder == second.folder == run_id
    assert second.base_seq > first.base_seq
    # What the dead process finished but never stored went in when the run resumed.
    on_disk = {f.name for f in scan(first.location()) if f.base_seq == first.base_seq}
    assert {f.name for f in first.fragments} == on_disk
    assert len(first.fragments) > registered and len(second.fragments) >= 1
    indices = [f.index for f in first.fragments + second.fragments]
    assert indices == sorted(set(indices))
    assert verify_run(record, run_id).ok


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_a_phrase_the_trainee_says_is_heard_by_the_run(record, tmp_path):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    speech = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "160", "-w", str(speech),
                    "show me your hands"], check=True)
    with wave.open(str(speech), "rb") as said:
        params, frames = said.getparams(), said.readframes(said.getnframes())
    quiet = bytes(params.sampwidth * params.framerate)
    with wave.open(str(speech), "wb") as padded:  # the run begins; a second later, the words
        padded.setparams(params)
        padded.writeframes(quiet + frames + quiet * 6)
    clock = MonotonicClock()

    def microphone(clock) -> RecordingDevices:
        from simulator.devices.settings import SpeechSettings

        return RecordingDevices(microphone=MicrophoneFeed(FileMicrophone(speech, clock,
                                                                         rate=16_000)),
                                microphone_name="default microphone",
                                speech=SpeechSettings())

    sitting = sitting_for(record, clock, devices=microphone)
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    started.run.start()
    # The spotter settles a phrase about 3.6 s after it ends (PhraseSpotter's latency); one
    # said later than that before the run ends is not on the record (docs/recording.md).
    play(started, 7.0)
    started.run.handle(EndRun())
    heard = [event for event in record.runs.events(started.run.state.run_id)
             if event.type == "verbal_command_heard"]
    assert [(event.tactic, event.phrase) for event in heard] == [
        ("clear_directions", "show me your hands")]
    assert 0 < heard[0].confidence <= 1
    assert not [event for event in record.runs.events(started.run.state.run_id)
                if event.type == "decision_recorded"]


def test_recording_folders_are_named_by_run_ids_only(record):
    settings = AgencySettings(record_trainees=True)
    with pytest.raises(ValueError, match="not a run's id"):
        settings.recording_folder("../../etc")
    folder, stored = settings.recording_folder("2b1f1f9e-6d38-4a43-9c59-2f1a3f2b7f10")
    assert stored == folder.name and Path(folder).parent.name == "recordings"


def test_files_wait_while_the_record_cannot_take_them(record, monkeypatch):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    clock = MonotonicClock()
    sitting = sitting_for(record, clock)
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    started.run.start()
    stored_fragment = record.recordings.add_fragment
    refusing = [True]

    def server_gone(*args, **kwargs):
        if refusing[0]:
            raise DatabaseFailed("the server closed the connection")
        return stored_fragment(*args, **kwargs)

    monkeypatch.setattr(record.recordings, "add_fragment", server_gone)
    play(started, 1.5)
    assert started.recording.recording  # still filming: the files are safe on disk
    assert any("kept on disk" in problem for problem in started.recording.problems)
    refusing[0] = False
    play(started, 0.6)
    started.run.handle(EndRun())
    [stored] = record.recordings.of_run(started.run.state.run_id)
    indices = [f.index for f in stored.fragments]
    assert indices == list(range(len(indices))) and len(indices) >= 4


def test_a_recording_erased_mid_run_stops_filming(record):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    clock = MonotonicClock()
    sitting = sitting_for(record, clock)
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    started.run.start()
    play(started, 1.2)
    [stored] = record.recordings.of_run(started.run.state.run_id)
    record.recordings.mark_erased([stored.id], datetime.now(UTC))
    play(started, 1.2)
    assert not started.recording.recording
    stopped = [e for e in record.runs.events(started.run.state.run_id)
               if e.type == "recording_stopped"]
    assert [e.reason for e in stopped] == ["failed"] and "erased" in stopped[0].detail


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_store_a_recording_makes_is_for_this_account_alone(record, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "fresh-data"))
    keep_settings(record, None, AgencySettings(record_trainees=True))
    sitting = sitting_for(record, MonotonicClock())
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    started.run.start()
    play(started, 1.2)
    started.run.handle(EndRun())
    [stored] = record.recordings.of_run(started.run.state.run_id)
    folder = stored.location()
    for place in (tmp_path / "fresh-data", folder.parent, folder):
        assert stat.S_IMODE(place.stat().st_mode) == 0o700, place
    exported = export_recording(folder, fragments_of(stored), tmp_path / "out.mp4")
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600


def test_a_microphone_the_recorder_cannot_take_stops_the_recording_not_the_run(record):
    keep_settings(record, None, AgencySettings(record_trainees=True))
    taken: list[MicrophoneFeed] = []

    def too_fast(clock) -> RecordingDevices:
        feed = MicrophoneFeed(SyntheticRoomMicrophone(clock=clock, rate=192_000))
        taken.append(feed)
        return RecordingDevices(microphone=feed, microphone_name="studio interface",
                                speech=SpeechSettings())

    # A device that opens at a rate projector.yaml cannot ask for.
    sitting = sitting_for(record, MonotonicClock(), devices=too_fast)
    assert sitting.preflight(SCENARIO) == []
    started = sitting.start(RunPlan(SCENARIO, ("Officer Ana Ruiz",)))
    started.run.start()
    play(started, 0.5)
    assert not started.recording.recording
    assert any("could not start" in p and "192000" in p for p in started.recording.problems)
    assert taken[0].read() is None  # never taken: nothing of the trainee is held for it
    started.run.handle(EndRun())
    assert started.run.ended
    types = [event.type for event in record.runs.events(started.run.state.run_id)]
    assert "recording_started" not in types and types[-1] == "run_ended"
