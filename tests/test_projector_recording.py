"""The projector records the trainee during a class run: the devices of projector.yaml's
`recording:` opened at the pre-flight, the recording drained into the record and the run's
events while the run plays, and finished when it ends."""

from __future__ import annotations

import pytest
from test_range_class import ALLEY

from simulator.access.settings import AgencySettings, keep_settings
from simulator.agency import default_profile
from simulator.devices.settings import (
    MicrophoneSettings,
    RecordingSettings,
    RoomCameraSettings,
)
from simulator.playback.barcode import write_barcode_clip
from simulator.projector.host import ProjectorHost
from simulator.projector.recording_devices import (
    RoomRecordingDevices,
    camera_name,
    microphone_name,
)
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import EndRun
from simulator.record import Record, verify_run
from simulator.recording.file_sources import SyntheticRoomCamera, SyntheticRoomMicrophone
from simulator.recording.sound import MicrophoneError
from simulator.runtime import MonotonicClock
from simulator.training.sitting import RunPlan

pytestmark = pytest.mark.gui

RECORDING = RecordingSettings(camera=RoomCameraSettings(source=0, width=160, height=120),
                              microphone=MicrophoneSettings(), speech=None)


@pytest.fixture
def recorded_class(qtbot, tmp_path):
    library = tmp_path / "library"
    folder = library / "alley"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(ALLEY, encoding="utf-8")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=320, height=180)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    keep_settings(record, None, AgencySettings(record_trainees=True))
    clock = MonotonicClock()
    settings = ProjectorSettings(audio=False, recording=RECORDING)
    host = ProjectorHost(record, library, default_profile(), settings, clock,
                         windowed_size=(640, 360))
    opened: list[object] = []

    def camera(room: RoomCameraSettings, clock) -> SyntheticRoomCamera:
        opened.append(SyntheticRoomCamera(size=(room.width, room.height), fps=room.fps,
                                          clock=clock))
        return opened[-1]

    def microphone(_mic: MicrophoneSettings, clock) -> SyntheticRoomMicrophone:
        opened.append(SyntheticRoomMicrophone(clock=clock))
        return opened[-1]

    host.room.recorders = RoomRecordingDevices(RECORDING, clock, open_camera=camera,
                                               open_microphone=microphone)
    try:
        yield host, record, opened
    finally:
        host.close()
        record.close()


def test_a_class_run_on_the_projector_is_recorded_into_the_record(qtbot, recorded_class):
    host, record, opened = recorded_class
    assert host.preflight("alley") == []
    assert len(opened) == 2
    staged = host.stage(RunPlan("alley", ("Officer Ana Ruiz",)))
    assert staged.session.recording is not None
    staged.session.start()
    run = staged.session.run
    qtbot.waitUntil(lambda: any(e.type == "recording_started"
                                for e in record.runs.events(run.state.run_id)), timeout=5000)
    # Fragments reach the record while the run plays, not only at its end.
    qtbot.waitUntil(lambda: sum(f.video_frames for f in record.recordings.of_run(
        run.state.run_id)[0].fragments) >= 30, timeout=5000)
    staged.session.send(EndRun())
    qtbot.waitUntil(lambda: run.ended, timeout=5000)

    [stored] = record.recordings.of_run(run.state.run_id)
    assert stored.camera == "room camera 0" and stored.microphone == "default microphone"
    assert sum(f.video_frames for f in stored.fragments) >= 30
    types = [e.type for e in record.runs.events(run.state.run_id)]
    assert types.index("recording_started") < types.index("recording_stopped") \
        < types.index("run_ended")
    assert verify_run(record, run.state.run_id).ok
    # The devices stay open for the next trainee; the room closes them with the class.
    assert not any(device._closed.is_set() for device in opened)


def test_a_microphone_that_cannot_open_stops_the_pre_flight(qtbot, recorded_class):
    host, _record, _opened = recorded_class

    def unplugged(_mic, _clock):
        raise MicrophoneError("no input device 'USB mic'")

    host.room.recorders = RoomRecordingDevices(
        RECORDING, MonotonicClock(), open_camera=lambda room, clock: SyntheticRoomCamera(),
        open_microphone=unplugged)
    assert host.preflight("alley") == [
        "recording: the microphone: no input device 'USB mic'"]


def test_device_names_never_carry_a_stream_address_or_control_characters():
    assert camera_name(RoomCameraSettings(source="rtsp://admin:secret@10.0.0.9/cam")) \
        == "room camera (network stream)"
    assert "\x1b" not in microphone_name(MicrophoneSettings(device="USB\x1b[31m mic"))
