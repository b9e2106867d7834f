"""The trainee's recording beside the replay: their picture and sound at the replay's moment.

It follows a `ReplayPlayer`: every position the replay shows (playing, a seek, a frame
step, a marker) is turned into the run's own time (`Timeline.run_time_at`), and the room
camera's picture exposed last at or before that time is painted. While the replay plays,
the microphone's sound of the time just shown is written to the sound output, frame by
frame as the decoded players do; a jump starts it afresh at the new moment, and a pause
drops what was queued, so the trainee is never heard saying something the picture has
left behind.

For the debrief in front of the class the picture can also sit in a corner of the
projector's picture (picture in picture), drawn as an overlay of its surface.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from simulator.playback.decode import AUDIO_CHANNELS, AUDIO_RATE
from simulator.playback.replay import ReplayPlayer
from simulator.playback.surface import VideoSurface, fitted, image_from_rgb
from simulator.recording.fragments import RecordingError
from simulator.recording.reader import RecordingReader

# A position this far from where the sound has got to is a jump, not playing on (a tick
# is 15 ms; a slow one, a few frames).
JUMP_S = 0.25
# The picture in picture: its width as a share of the projector's picture, and its margin.
INSET_SHARE = 0.28
INSET_MARGIN = 0.02


class SoundOut(Protocol):
    """Where the trainee's sound goes: `AudioOut`, or a test's stand-in."""

    def write(self, data: bytes) -> None:
        """Queue interleaved 16-bit samples at `AUDIO_RATE`, `AUDIO_CHANNELS` channels."""
        ...

    def clear(self) -> None:
        """Drop what is queued and not yet heard."""
        ...


class TraineeReplay(QObject):
    """Shows ``reader``'s recording in step with ``player`` on ``surfaces``.

    ``sound`` plays the microphone while the replay plays (None: silent). Call `sync`
    after pausing or playing the replay, which does not say so itself.

    A fragment that is missing or has changed shows black and is silent for its own time
    only; ``problem`` says the latest such fragment met (each once), None while none was.
    """

    def __init__(self, player: ReplayPlayer, reader: RecordingReader,
                 surfaces: list[VideoSurface], sound: SoundOut | None = None) -> None:
        super().__init__()
        self.player = player
        self.reader = reader
        self.surfaces = list(surfaces)
        self.problem: str | None = None
        # The reader's failures said so far: each broken fragment is said once, and a
        # healthy one is still shown (the reader tries a fragment again when asked).
        self._said: set[str] = set()
        self._sound = sound
        self._inset: list[VideoSurface] = []
        self._picture: np.ndarray | None = None  # RGB, what the surfaces show
        self._image: QImage | None = None
        # Where the sound written so far ends: its time base, its start (run time) and the
        # samples written since; None while none is being written.
        self._fed: tuple[int, int, int] | None = None
        self._fed_at_s = 0.0
        for surface in self.surfaces:
            surface.overlays.append(self._draw_edge)
        player.moved.connect(self.show_at)

    def show_at(self, at_s: float) -> None:
        """Paint the trainee at replay position ``at_s``, and feed the sound up to it."""
        moment = self.player.timeline.run_time_at(at_s)
        picture = None
        if moment is not None:
            try:
                picture = self.reader.frame_at(*moment)
            except RecordingError as error:
                # The picture goes black rather than show another moment.
                self._say(error)
        self._paint(picture)
        self._feed(at_s, moment)

    def sync(self) -> None:
        """Catch up with the replay having been paused or played (stops or starts sound)."""
        self.show_at(self.player.position)

    def shown(self) -> np.ndarray | None:
        """The trainee's picture on screen now (RGB), or None while there is none."""
        return self._picture

    def add_surface(self, surface: VideoSurface) -> None:
        """Also show the trainee's picture, whole, on ``surface``."""
        if surface not in self.surfaces:
            self.surfaces.append(surface)
            surface.overlays.append(self._draw_edge)
            self._paint(self._picture, rgb=True)

    def add_inset(self, surface: VideoSurface) -> None:
        """Show the trainee in a corner of ``surface``'s picture (the projector's)."""
        if surface not in self._inset:
            self._inset.append(surface)
            surface.overlays.append(self._draw_inset)
            surface.refresh()

    def remove_inset(self, surface: VideoSurface) -> None:
        """Take the trainee out of ``surface``'s corner."""
        if surface in self._inset:
            self._inset.remove(surface)
            surface.overlays.remove(self._draw_inset)
            surface.refresh()

    def close(self) -> None:
        """Stop the sound, take the insets down, clear the surfaces, close the recording."""
        self.player.moved.disconnect(self.show_at)
        if self._sound is not None:
            self._sound.clear()
        for surface in list(self._inset):
            self.remove_inset(surface)
        for surface in self.surfaces:
            surface.overlays.remove(self._draw_edge)
            surface.clear()
        self.reader.close()

    def _paint(self, picture: np.ndarray | None, *, rgb: bool = False) -> None:
        if picture is None:
            changed = self._picture is not None
            self._picture = self._image = None
            for surface in self.surfaces:
                surface.clear()
        else:
            # The reader gives BGR; a surface paints RGB, from an array it keeps alive.
            self._picture = picture if rgb else np.ascontiguousarray(picture[:, :, ::-1])
            self._image = image_from_rgb(self._picture)
            changed = True
            for surface in self.surfaces:
                surface.show_frame(image_from_rgb(self._picture), self._picture)
        if changed:
            for surface in self._inset:
                surface.refresh()

    def _feed(self, at_s: float, moment: tuple[int, int] | None) -> None:
        sound = self._sound
        if sound is None:
            return
        if not self.player.playing or moment is None:
            if self._fed is not None:
                sound.clear()
                self._fed = None
            return
        base, t_ns = moment
        fed = self._fed
        if fed is None or fed[0] != base or abs(at_s - self._fed_at_s) > JUMP_S \
                or at_s < self._fed_at_s:
            # Played from here, after a seek, or into a new time base: start afresh.
            sound.clear()
            fed = (base, t_ns, 0)
        base, start_ns, written = fed
        due = round((t_ns - start_ns) * AUDIO_RATE / 1e9)
        if due > written:
            try:
                chunk = self.reader.audio_between(
                    base, start_ns + round(written * 1e9 / AUDIO_RATE),
                    start_ns + round(due * 1e9 / AUDIO_RATE), rate=AUDIO_RATE)
            except RecordingError as error:
                # Silence for a broken fragment's time keeps the sound after it in step.
                self._say(error)
                chunk = np.zeros(due - written, dtype=np.int16)
            sound.write(np.repeat(chunk[:, None], AUDIO_CHANNELS, axis=1).tobytes())
            written += len(chunk)
        self._fed = (base, start_ns, written)
        self._fed_at_s = at_s

    def _say(self, error: RecordingError) -> None:
        """Make ``error`` the problem shown, the first time it is met."""
        message = str(error)
        if message not in self._said:
            self._said.add(message)
            self.problem = message

    def _draw_edge(self, painter: QPainter, picture: QRect) -> None:
        """A thin edge round the picture: a camera's dark corners do not melt into the black."""
        if self._image is not None:
            painter.setPen(QPen(QColor("#5d6d7e"), 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(picture.adjusted(0, 0, -1, -1))

    def _draw_inset(self, painter: QPainter, picture: QRect) -> None:
        """The trainee's picture in the bottom right corner of the scenario's picture."""
        image = self._image
        if image is None:
            return
        box = inset_rect(image.size(), picture)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(box, image)
        # A light edge keeps the inset apart from a dark scene as from a light one.
        painter.setPen(QPen(QColor("white"), max(1.0, picture.width() / 400)))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)


def inset_rect(size: QSize, picture: QRect) -> QRect:
    """Where a picture of ``size`` sits as the inset in the bottom right of ``picture``."""
    width = round(picture.width() * INSET_SHARE)
    margin = round(picture.width() * INSET_MARGIN)
    box = fitted(size, QSize(width, width))
    box.moveBottomRight(QPoint(picture.right() - margin, picture.bottom() - margin))
    return box
