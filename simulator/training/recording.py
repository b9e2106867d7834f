"""Recording the trainee during a run: the room's camera and microphone, on the run's clock.

A run is recorded only where the agency's setting allows it and the class keeps it on. The
room opens the devices (`RecordingDevices`); `LiveRecording` follows the run's events: it
starts a recorder when the run's time base begins (its start, or its recovery after a
crash), stops it at the end, and puts each finished fragment's hash and stamps in the
record. The recorder's and the phrase spotter's threads never touch the record or the run:
what they report waits in a queue until the front end's loop calls `drain`, which stores
the fragments and hands back the commands (heard phrases, a failure) for the run.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simulator.agency import AgencyProfile
from simulator.devices.settings import SpeechSettings
from simulator.paths import private_folder
from simulator.ports import Clock
from simulator.protocol import (
    Command,
    Event,
    ReportHeard,
    ReportRecording,
    ReportRecordingStopped,
    RunEnded,
    RunRecovered,
    RunStarted,
)
from simulator.protocol.commands import DETAIL_MAX_CHARS
from simulator.record import Record, RecordError
from simulator.recording.feeds import CameraFeed, MicrophoneFeed
from simulator.recording.fragments import FRAGMENT_S, Fragment, RecordingError, scan
from simulator.recording.recorder import TraineeRecorder
from simulator.recording.sound import AudioBlock, Microphone
from simulator.runtime import ScenarioRun
from simulator.speech.phrases import PhraseError
from simulator.speech.spotter import Heard, PhraseSpotter, spotter_for
from simulator.speech.whisper_recogniser import SpeechSetupError

log = logging.getLogger(__name__)


@dataclass
class RecordingDevices:
    """The room camera and microphone a room opened to record trainees, read all the time.

    ``camera_name`` and ``microphone_name`` are what the record and the console call them;
    ``speech`` says how phrases are spotted (None: not at all); ``problems`` are what stops
    recording here, in sentences for the instructor.
    """

    camera: CameraFeed | None = None
    microphone: MicrophoneFeed | None = None
    camera_name: str | None = None
    microphone_name: str | None = None
    speech: SpeechSettings | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Whether there is something to record with, and nothing stops it."""
        return not self.problems and (self.camera is not None or self.microphone is not None)


@dataclass(frozen=True)
class _Problem:
    """Something the recorder lost while the recording goes on (one of its devices)."""

    message: str


class _Tapped:
    """A microphone whose blocks also go to the phrase spotter, from ``origin_ns`` on.

    What the microphone heard before the run began is nobody's command.
    """

    def __init__(self, microphone: Microphone, spotter: PhraseSpotter, origin_ns: int) -> None:
        self._microphone = microphone
        self._spotter = spotter
        self._origin_ns = origin_ns
        self.spotting = True

    @property
    def rate(self) -> int:
        return self._microphone.rate

    @property
    def channels(self) -> int:
        return self._microphone.channels

    def read(self) -> AudioBlock | None:
        block = self._microphone.read()
        if block is not None and self.spotting and block.end_ns > self._origin_ns:
            try:
                self._spotter.feed(block)
            except (RuntimeError, ValueError):
                # Spotting stopped; the sound is still recorded. Said once, by `drain`.
                log.exception("phrase spotting stopped")
                self.spotting = False
        return block

    def close(self) -> None:
        self._microphone.close()


def store_leftovers(record: Record, run_id: str) -> int:
    """Put in the record the files a dead process finished but never stored; how many.

    Called when a run is reopened after a crash, whether or not it is recorded again: the
    files are the trainee's recording either way, and `verify` checks what the record names.
    """
    stored = [r for r in record.recordings.of_run(run_id) if r.erased_utc is None and r.held]
    if not stored:
        return 0
    known = {(f.base_seq, f.index) for r in stored for f in r.fragments}
    ids = {r.base_seq: r.id for r in stored}
    added = 0
    for fragment in scan(stored[0].location()):
        recording_id = ids.get(fragment.base_seq)
        if recording_id is None or (fragment.base_seq, fragment.index) in known:
            continue
        record.recordings.add_fragment(
            recording_id, fragment.index, fragment.name, fragment.base_seq, fragment.first_ns,
            fragment.last_ns, fragment.video_frames, fragment.audio_samples, fragment.sha256,
            fragment.size_bytes, fragment.time_base)
        added += 1
    return added


class LiveRecording:
    """One run's recording of the trainee: its recorder, its rows in the record, its phrases.

    Subscribe it to the run (`observe`) before the run starts; call `drain` from the front
    end's loop a few times a second, and send the run every command it returns.
    """

    def __init__(self, record: Record, run: ScenarioRun, devices: RecordingDevices,
                 folder: Path, stored_folder: str, clock: Clock, profile: AgencyProfile, *,
                 fragment_s: float = FRAGMENT_S,
                 make_spotter: Callable[[Callable[[Heard], None]], PhraseSpotter] | None
                 = None) -> None:
        self._record = record
        self._run = run
        self._devices = devices
        self._folder = folder
        self._stored_folder = stored_folder
        self._clock = clock
        self._profile = profile
        self._fragment_s = fragment_s
        self._make_spotter = make_spotter or self._default_spotter
        # What the recorder's and the spotter's threads report, for `drain`.
        self._reports: queue.SimpleQueue[Fragment | Heard | _Problem | str] = (
            queue.SimpleQueue())
        self._commands: list[Command] = []
        self._recorder: TraineeRecorder | None = None
        self._spotter: PhraseSpotter | None = None
        self._tapped: _Tapped | None = None
        self._recording_id: str | None = None
        self._ids_by_base: dict[int, str] = {}
        self._failed = False
        self._pending: list[Fragment] = []
        self._stored: set[int] = set()  # indices of the files in the record
        self._record_trouble = False
        self.problems: list[str] = []
        """What went wrong with the recording, for the console, newest last."""

    @property
    def recording(self) -> bool:
        """Whether the trainee is being recorded now."""
        return self._recorder is not None and self._recorder.running

    def observe(self, event: Event) -> None:
        """The run's listener: begin at the time base, end with the run."""
        if isinstance(event, RunStarted | RunRecovered):
            self._begin(event.seq, event.t_ns)
        elif isinstance(event, RunEnded):
            self.stop()

    def _default_spotter(self, on_heard: Callable[[Heard], None]) -> PhraseSpotter:
        speech = self._devices.speech
        assert speech is not None
        model = Path(speech.whisper_model) if speech.whisper_model else None
        return spotter_for(self._profile, speech.languages, whisper_model=model,
                           on_heard=on_heard)

    def _begin(self, base_seq: int, origin_ns: int) -> None:
        if self._recorder is not None or self._failed:
            return
        devices = self._devices
        try:
            if self._folder.is_dir():
                # What a crash left: finished fragments go into the record before any new one.
                self._register(scan(self._folder))
            recording_id = self._record.recordings.add(
                self._run.state.run_id, base_seq, self._stored_folder,
                camera=devices.camera_name, microphone=devices.microphone_name,
                video_size=(f"{devices.camera.size[0]}x{devices.camera.size[1]}"
                            if devices.camera is not None else None),
                fps=devices.camera.fps if devices.camera is not None else None,
                audio_rate=devices.microphone.rate if devices.microphone is not None else None)
            private_folder(self._folder)
            microphone: Microphone | None = devices.microphone
            if microphone is not None and devices.speech is not None:
                try:
                    self._spotter = self._make_spotter(self._reports.put)
                    self._tapped = _Tapped(microphone, self._spotter, origin_ns)
                    microphone = self._tapped
                except (PhraseError, SpeechSetupError) as exc:
                    self.problems.append(f"phrases are not listened for: {exc}")
            # Checks the camera's and microphone's formats: one it cannot record is refused
            # here, before a device is taken.
            recorder = TraineeRecorder(
                self._folder, base_seq=base_seq, origin_ns=origin_ns,
                camera=devices.camera, microphone=microphone, fragment_s=self._fragment_s,
                on_fragment=self._reports.put, on_error=self._reports.put,
                on_problem=lambda message: self._reports.put(_Problem(message)))
        except (OSError, ValueError, RecordingError, RecordError) as exc:
            if self._spotter is not None:
                self._spotter.close()
                self._spotter, self._tapped = None, None
            self._fail(f"the recording could not start: {exc}")
            return
        self._ids_by_base[base_seq] = recording_id
        self._recording_id = recording_id
        for feed in (devices.camera, devices.microphone):
            if feed is not None:
                feed.take()
        self._recorder = recorder
        recorder.start()
        self._commands.append(ReportRecording(
            recording_id=recording_id, camera=devices.camera_name,
            microphone=devices.microphone_name, speech=self._tapped is not None))

    def drain(self) -> list[Command]:
        """Store the fragments finished since the last call; the commands for the run."""
        while True:
            try:
                report = self._reports.get_nowait()
            except queue.Empty:
                break
            if isinstance(report, Fragment):
                self._pending.append(report)
            elif isinstance(report, _Problem):
                self.problems.append(report.message)
            elif isinstance(report, Heard):
                self._commands.append(ReportHeard(
                    tactic=report.tactic, phrase=report.phrase, language=report.language,
                    heard_ns=report.start_ns, end_ns=report.end_ns,
                    confidence=report.confidence, recogniser=report.recogniser))
            else:
                self._fail(report)
        self._register_pending()
        if self._recorder is not None and not self._recorder.running and not self._run.ended:
            self._fail("the room camera and the microphone both stopped; the run goes on "
                       "without the trainee recording")
        if self._tapped is not None and not self._tapped.spotting and self._spotter:
            self._spotter = None
            self.problems.append("phrase spotting stopped; the sound is still recorded")
        commands, self._commands = self._commands, []
        return commands

    def stop(self) -> list[Command]:
        """Finish the recording (the run ended, or the front end lets the run go)."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            self._finish(recorder)
        if self._spotter is not None:
            # Not flushed: the run has ended and takes no more phrases (docs/recording.md).
            spotter, self._spotter = self._spotter, None
            spotter.close()
        return self.drain()

    def _finish(self, recorder: TraineeRecorder) -> None:
        """Let go of the devices, finish the last file, and take in every file on disk."""
        for feed in (self._devices.camera, self._devices.microphone):
            if feed is not None:
                feed.release()
        try:
            self._pending += recorder.stop()
            # A file finished but never reported (its manifest line could not be written)
            # is still the trainee's recording: what is on disk goes into the record.
            self._pending += scan(self._folder)
        except (OSError, RecordingError) as exc:
            self.problems.append(f"the recording's last second could not be kept: {exc}")

    def _register_pending(self) -> None:
        """Store the fragments waiting; those the record cannot take now wait for the next call.

        A fragment left waiting when the run is over is still on disk, in the folder's
        manifest: resuming the run, or the next recording of it, stores it then.
        """
        waiting = [f for f in self._pending if f.index not in self._stored]
        self._pending = []
        for number, fragment in enumerate(waiting):
            try:
                self._register([fragment])
            except RecordError as exc:
                self._pending = waiting[number:]
                if not self._record_trouble:
                    self._record_trouble = True
                    self.problems.append(f"the record cannot take the recording's files "
                                         f"now ({exc}); they are kept on disk and stored "
                                         "once it can")
                return
            except ValueError as exc:
                # Not a passing failure: the recording was erased meanwhile, or a file of
                # the same number was stored with another hash. The file stays on disk.
                self._fail(f"a file of the recording could not be stored: {exc}")
        self._record_trouble = False

    def _register(self, fragments: list[Fragment]) -> None:
        for fragment in fragments:
            recording_id = self._ids_by_base.get(fragment.base_seq) or self._stored_id(
                fragment.base_seq)
            if recording_id is None:
                log.warning("fragment %s of an unknown time base %d left unrecorded",
                            fragment.name, fragment.base_seq)
                continue
            self._record.recordings.add_fragment(
                recording_id, fragment.index, fragment.name, fragment.base_seq,
                fragment.first_ns, fragment.last_ns, fragment.video_frames,
                fragment.audio_samples, fragment.sha256, fragment.size_bytes,
                fragment.time_base)
            self._stored.add(fragment.index)

    def _stored_id(self, base_seq: int) -> str | None:
        for stored in self._record.recordings.of_run(self._run.state.run_id):
            self._ids_by_base.setdefault(stored.base_seq, stored.id)
        return self._ids_by_base.get(base_seq)

    def _fail(self, detail: str) -> None:
        self.problems.append(detail)
        if self._failed:
            return
        self._failed = True
        recorder, self._recorder = self._recorder, None
        dropped = 0
        if recorder is not None:
            # A recording that failed stops whole: a disk that refused one file, or a
            # recording erased meanwhile, must not go on filming the trainee.
            dropped = recorder.dropped
            self._finish(recorder)
        if self._recording_id is not None and not self._run.ended:
            self._commands.append(ReportRecordingStopped(
                recording_id=self._recording_id, reason="failed", detail=detail[:DETAIL_MAX_CHARS],
                dropped=dropped))
