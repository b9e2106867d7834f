"""Sound out through Qt Multimedia, written one frame's slice at a time.

Each frame's audio is written when the frame is painted, so the sound that plays across a
cut is exactly the sound of the frames shown. Sound trails the picture by what the device
holds, at most the buffer (120 ms, about four frames); kept short so that lag stays small.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QIODevice,
    QLoggingCategory,
    QMessageLogContext,
    QtMsgType,
    qInstallMessageHandler,
)

# Qt Multimedia reports every sound library it does not find, from the moment it loads;
# AudioOut says in one line whether there is sound, so those reports stay off. Rules in
# QT_LOGGING_RULES still win over these, for whoever wants to see them.
QLoggingCategory.setFilterRules("qt.multimedia.*=false")

from PySide6.QtMultimedia import (  # noqa: E402 - after the rules, or it reports as it loads
    QAudioDevice,
    QAudioFormat,
    QAudioSink,
    QMediaDevices,
    QtAudio,
)

from simulator.playback.decode import (  # noqa: E402 - with the imports above
    AUDIO_BYTES_PER_SAMPLE,
    AUDIO_CHANNELS,
    AUDIO_RATE,
)

log = logging.getLogger(__name__)

BUFFER_S = 0.12

# What has been said about sound in this process: each run has its own AudioOut, and a
# class of twenty runs needs to hear about a missing sound device once.
_said: set[str] = set()


def _to_debug_log(_kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    log.debug("Qt, looking for a sound device: %s", message)


def default_output() -> QAudioDevice:
    """The default audio output (null if there is none), found without noise on stderr.

    The first look starts Qt's sound backend, which reports a sound server it cannot reach
    (PulseAudio's "pa_context_connect() failed") with no logging category that a filter
    rule could name; so while it looks, Qt's messages go to this module's debug log.
    """
    previous = qInstallMessageHandler(_to_debug_log)
    try:
        return QMediaDevices.defaultAudioOutput()
    finally:
        qInstallMessageHandler(previous)


def _say(status: str, level: int) -> None:
    if status not in _said:
        _said.add(status)
        log.log(level, status)


class AudioOut:
    """The default audio output, or nothing at all where the machine has none."""

    def __init__(self) -> None:
        self._sink: QAudioSink | None = None
        self._io: QIODevice | None = None
        self._backlog = bytearray()
        device = default_output()
        if device.isNull():
            self.status = "no audio output device: playing without sound"
            _say(self.status, logging.WARNING)
            return
        fmt = QAudioFormat()
        fmt.setSampleRate(AUDIO_RATE)
        fmt.setChannelCount(AUDIO_CHANNELS)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not device.isFormatSupported(fmt):
            self.status = (f"{device.description()}: cannot play 48 kHz stereo; "
                           "playing without sound")
            _say(self.status, logging.WARNING)
            return
        self._sink = QAudioSink(device, fmt)
        self._sink.setBufferSize(round(BUFFER_S * AUDIO_RATE) * AUDIO_BYTES_PER_SAMPLE)
        self._io = self._sink.start()
        self.status = f"sound on {device.description()}"
        _say(self.status, logging.INFO)

    def write(self, data: bytes) -> None:
        """Queue one frame's sound; what the device cannot take yet waits for the next."""
        if self._io is None or self._sink is None:
            return
        self._backlog += data
        free = self._sink.bytesFree()
        if free <= 0:
            # Far behind (a stall): drop the oldest sound rather than drift out of step.
            limit = round(BUFFER_S * AUDIO_RATE) * AUDIO_BYTES_PER_SAMPLE
            del self._backlog[: max(0, len(self._backlog) - limit)]
            return
        written = self._io.write(bytes(self._backlog[:free]))
        if written > 0:
            del self._backlog[:written]

    def pause(self) -> None:
        """Hold the sound where it is."""
        if self._sink is not None:
            self._sink.suspend()

    def resume(self) -> None:
        """Continue after `pause`."""
        if self._sink is not None and self._sink.state() == QtAudio.State.SuspendedState:
            self._sink.resume()

    def clear(self) -> None:
        """Drop sound not yet played (a stop, not a cut: a cut must not lose a sample)."""
        self._backlog.clear()
        if self._sink is not None:
            self._sink.reset()
            self._io = self._sink.start()

    def close(self) -> None:
        """Release the device."""
        if self._sink is not None:
            self._sink.stop()
            self._sink = None
            self._io = None
