"""Recording the trainee during a run, off the threads that drive it.

Three threads: one takes every picture from the room camera the moment it comes, one every
block from the microphone, and one encodes them into fragments. The reading threads never
wait on the encoder: what they read goes into a queue, and when the encoder falls 0.3 s of
pictures or of sound behind, new ones are dropped (and counted) rather than pile up, so
that a crash never costs more than a second. A picture or block keeps the stamp
it was given on arrival however late it is encoded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from simulator.devices.camera import CameraError
from simulator.devices.frames import CameraFrame, CameraSource
from simulator.recording.fragments import (
    FRAGMENT_S,
    AudioFormat,
    Fragment,
    FragmentWriter,
    RecordingError,
    UnusablePicture,
    VideoFormat,
)
from simulator.recording.sound import AudioBlock, Microphone, MicrophoneError

log = logging.getLogger(__name__)

# Seconds of pictures, and of sound, the encoder may fall behind before new ones are dropped.
# Short, so that a crash loses under a second in all (with the fragment being written and
# the sound held back to be placed): an encoder further behind than this is not keeping
# up, and dropping is the honest answer.
_PICTURES_BEHIND_S = 0.3
_SOUND_BEHIND_NS = 300_000_000
# How long `stop` waits for a source's read under way (the caller may not have closed it).
_JOIN_S = 2.0


class TraineeRecorder:
    """Records a room ``camera`` and ``microphone`` (either may be None) into ``folder``.

    ``base_seq`` and ``origin_ns`` are the run's time base (see `FragmentWriter`) on the
    run's clock, which the sources stamp on. The caller owns
    the sources: it opens them, and closes them after `stop` (closing them first makes
    `stop` prompt; otherwise it waits for the reads under way). ``on_fragment`` hears of each
    fragment on disk, ``on_error`` why the recording stopped, and ``on_problem`` what went
    wrong while it goes on (a camera or microphone lost), each in a sentence for the
    instructor; all are called on the recorder's own threads. A camera or microphone that
    fails stops only itself; a disk that cannot be written stops the recording.
    """

    def __init__(self, folder: Path, *, base_seq: int, origin_ns: int,
                 camera: CameraSource | None, microphone: Microphone | None,
                 fragment_s: float = FRAGMENT_S,
                 on_fragment: Callable[[Fragment], None] | None = None,
                 on_error: Callable[[str], None] | None = None,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self._camera = camera
        self._microphone = microphone
        self._on_error = on_error
        self._on_problem = on_problem
        video = None
        if camera is not None:
            width, height = camera.size
            # H.264 wants even sizes; an odd camera size loses its last row or column.
            video = VideoFormat(width=max(2, width - width % 2),
                                height=max(2, height - height % 2), fps=camera.fps or 30.0)
        audio = (AudioFormat(rate=microphone.rate, channels=microphone.channels)
                 if microphone is not None else None)
        self._writer = FragmentWriter(folder, base_seq=base_seq, origin_ns=origin_ns,
                                      video=video, audio=audio, fragment_s=fragment_s,
                                      on_fragment=on_fragment)
        self._max_pictures = max(2, round(_PICTURES_BEHIND_S * (video.fps if video else 30)))
        self._waiting: deque[CameraFrame | AudioBlock] = deque()
        self._pictures_waiting = 0
        self._sound_waiting_ns = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._readers_left = 0
        self._dropped = 0
        self._unusable = False  # a picture was left out: said once
        self._failed = False
        self._threads: list[threading.Thread] = []
        self._encoder: threading.Thread | None = None

    def start(self) -> None:
        """Begin recording."""
        if self._encoder is not None:
            raise RuntimeError("a trainee recorder is started once")
        if self._camera is not None:
            self._threads.append(threading.Thread(target=self._read, args=(self._camera,),
                                                  name="room-camera", daemon=True))
        if self._microphone is not None:
            self._threads.append(threading.Thread(target=self._read,
                                                  args=(self._microphone,),
                                                  name="room-microphone", daemon=True))
        self._readers_left = len(self._threads)
        self._encoder = threading.Thread(target=self._encode, name="recording-encoder",
                                         daemon=True)
        self._encoder.start()
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[Fragment]:
        """Stop reading, encode what was read, finish the last fragment; all fragments.

        The sources are not closed: they are the caller's.
        """
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(_JOIN_S)
        if self._encoder is not None:
            self._encoder.join()
        else:
            self._finish()
        return self._writer.fragments

    @property
    def running(self) -> bool:
        """Whether it is still recording."""
        return self._encoder is not None and self._encoder.is_alive()

    @property
    def dropped(self) -> int:
        """Pictures and blocks thrown away because encoding could not keep up."""
        with self._changed:
            return self._dropped

    def _read(self, source: CameraSource | Microphone) -> None:
        what = "room camera" if source is self._camera else "microphone"
        try:
            while not self._stopping:
                item = source.read()
                if item is None:
                    break
                self._queue(item)
        except (CameraError, MicrophoneError) as error:
            self._tell(f"the {what} stopped ({error}); the recording goes on without it",
                       fatal=False)
        except Exception as error:  # any source failure ends only that source
            self._tell(f"the {what} failed ({error!r}); the recording goes on without it",
                       fatal=False)
        finally:
            with self._changed:
                self._readers_left -= 1
                self._changed.notify_all()

    def _queue(self, item: CameraFrame | AudioBlock) -> None:
        with self._changed:
            if self._stopping:
                return
            picture = isinstance(item, CameraFrame)
            if (self._pictures_waiting >= self._max_pictures if picture
                    else self._sound_waiting_ns >= _SOUND_BEHIND_NS):
                self._dropped += 1
                return
            self._waiting.append(item)
            self._pictures_waiting += picture
            if isinstance(item, AudioBlock):
                self._sound_waiting_ns += item.end_ns - item.start_ns
            self._changed.notify_all()

    def _next(self) -> CameraFrame | AudioBlock | None:
        with self._changed:
            while not self._waiting and not self._failed and self._readers_left > 0 \
                    and not self._stopping:
                self._changed.wait()
            if self._failed or not self._waiting:
                return None
            item = self._waiting.popleft()
            self._pictures_waiting -= isinstance(item, CameraFrame)
            if isinstance(item, AudioBlock):
                self._sound_waiting_ns -= item.end_ns - item.start_ns
            return item

    def _encode(self) -> None:
        try:
            while (item := self._next()) is not None:
                if isinstance(item, CameraFrame):
                    self._add_picture(item)
                else:
                    self._writer.add_audio(item)
        except RecordingError as error:
            self._fail(f"{error}; the run goes on without the trainee recording")
        except Exception as error:  # any encoder failure ends the recording, and is said
            self._fail(f"the trainee recording failed ({error!r}); the run goes on "
                       "without it")
        # Whatever stopped it, the file being written is finished if it still can be.
        self._finish()

    def _add_picture(self, frame: CameraFrame) -> None:
        try:
            self._writer.add_frame(frame)
        except UnusablePicture as error:
            with self._changed:
                self._dropped += 1
                first = not self._unusable
                self._unusable = True
            if first:
                self._tell(f"{error}; such pictures are left out of the recording",
                           fatal=False)

    def _finish(self) -> None:
        try:
            self._writer.close()
        except RecordingError as error:
            self._tell(f"{error}; the last second of the trainee recording is lost")
        except Exception as error:  # an encoder already broken: what it held is lost
            log.warning("the recording's last file could not be finished: %r", error)

    def _fail(self, message: str) -> None:
        with self._changed:
            self._failed = True
            self._waiting.clear()
            self._pictures_waiting = 0
            self._sound_waiting_ns = 0
            self._changed.notify_all()
        self._tell(message)

    def _tell(self, message: str, *, fatal: bool = True) -> None:
        log.warning("%s", message)
        tell = self._on_error if fatal else self._on_problem
        if tell is not None:
            tell(message)
