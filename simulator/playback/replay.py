"""Replaying a recorded run: the frame the trainee saw at any moment, on one or more screens.

The timeline says which clip and which clip time was on screen at each moment; this player
decodes that frame and paints it. Playing walks forward through the decoder; a seek (a click
on a marker) opens the clip at the keyframe before the moment and decodes up to it, which
is fast on short-keyframe review proxies. Replays are silent: the debrief talks over them.

Each shot from a training weapon is drawn where it landed, from the moment it landed for a
second (`simulator.review.shots.shots_on_screen`): a dot coloured by its placement (on the
threat, on someone else, a miss), ringed when it came after the threat ended, with the
weapon's name beside it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen

from simulator.playback.decode import DecodedFrame, DecodeError, SegmentDecoder
from simulator.playback.surface import VideoSurface, image_from_rgb
from simulator.review.shots import AFTER_THREAT_COLOUR, PLACEMENT_COLOURS, shots_on_screen
from simulator.review.timeline import FiredShot, Shot, Timeline

# Playing repaints at most this often; the timeline's own frames come at the clip's rate.
TICK_MS = 15


class _Reader:
    """Frames of one shot's clip from a moment on, decoded as playing needs them."""

    def __init__(self, path: Path, media_s: float, end_s: float) -> None:
        self.end_s = end_s
        self.decoder = SegmentDecoder(path, media_s, end_s, on_screen_at=True, sound=False)
        self.period = self.decoder.timing.period_s
        self.frames: Iterator[DecodedFrame] = iter(self.decoder)
        self.current: DecodedFrame | None = None

    def frame_at(self, media_s: float) -> DecodedFrame | None:
        """The last frame starting at or before ``media_s``, reading forward to it."""
        while self.current is None or self.current.pts_s + self.period <= media_s + 1e-6:
            following = next(self.frames, None)
            if following is None:
                break
            self.current = following
        return self.current

    def close(self) -> None:
        self.decoder.close()


class ReplayPlayer(QObject):
    """Plays a `Timeline` on ``surfaces``; emits `moved` with the position in seconds."""

    moved = Signal(float)
    problem = Signal(str)

    def __init__(self, timeline: Timeline, clips: Mapping[str, Path],
                 surfaces: Sequence[VideoSurface]) -> None:
        super().__init__()
        self.timeline = timeline
        self._clips = dict(clips)
        self.surfaces = list(surfaces)
        self.position = 0.0
        self._reader: tuple[Shot, _Reader] | None = None
        self._frame: DecodedFrame | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._started_at = 0.0
        self._started_from = 0.0
        self._failed: set[str] = set()
        self._shots: tuple[FiredShot, ...] = ()
        for surface in self.surfaces:
            surface.overlays.append(self._draw_shots)

    @property
    def playing(self) -> bool:
        """Whether the replay is running."""
        return self._timer.isActive()

    def play(self) -> None:
        """Run from the current position, in real time."""
        if self.position >= self.timeline.duration_s:
            self.seek(0.0)
        self._started_at, self._started_from = time.perf_counter(), self.position
        self._timer.start()

    def pause(self) -> None:
        """Stop where it is."""
        self._timer.stop()

    def seek(self, at_s: float) -> None:
        """Show the frame on screen at ``at_s`` now (a marker clicked, a frame stepped)."""
        self.position = min(max(0.0, at_s), self.timeline.duration_s)
        if self.playing:
            self._started_at, self._started_from = time.perf_counter(), self.position
        self._show(fresh=True)

    def step(self, frames: int) -> None:
        """Move by whole frames of the clip on screen (paused), for looking around a cue."""
        self.pause()
        shot = self.timeline.shot_at(self.position)
        period = self._reader[1].period if self._reader is not None else 1 / 30
        self.seek(self.position + frames * period if shot is not None else self.position)

    def add_surface(self, surface: VideoSurface) -> None:
        """Also show the replay here (the projector, for a debrief in front of the trainee)."""
        if surface not in self.surfaces:
            self.surfaces.append(surface)
            surface.overlays.append(self._draw_shots)
            self._paint()

    def remove_surface(self, surface: VideoSurface) -> None:
        """Stop showing the replay there."""
        if surface in self.surfaces:
            self.surfaces.remove(surface)
            surface.overlays.remove(self._draw_shots)
            surface.clear()

    def close(self) -> None:
        """Stop, release the clip, and take the shots off the surfaces."""
        self.pause()
        for surface in self.surfaces:
            if self._draw_shots in surface.overlays:
                surface.overlays.remove(self._draw_shots)
        if self._reader is not None:
            self._reader[1].close()
            self._reader = None

    def _tick(self) -> None:
        self.position = self._started_from + (time.perf_counter() - self._started_at)
        if self.position >= self.timeline.duration_s:
            self.position = self.timeline.duration_s
            self.pause()
        self._show(fresh=False)

    def _show(self, *, fresh: bool) -> None:
        found = self.timeline.frame_at(self.position)
        if found is None:
            self.moved.emit(self.position)
            return
        shot, media_s = found
        end_s = shot.span_end(self.position)
        # A held picture is the last frame before the out-point, which is not shown itself.
        media_s = min(media_s, end_s - 1e-6)
        reader = self._reader_for(shot, media_s, end_s, fresh=fresh)
        frame = reader.frame_at(media_s) if reader is not None else None
        shots = shots_on_screen(self.timeline, self.position)
        # A held picture does not change when a shot lands on it or fades: repaint then too.
        if frame is not None and (frame is not self._frame or shots != self._shots):
            self._frame, self._shots = frame, shots
            self._paint()
        self.moved.emit(self.position)

    def _reader_for(self, shot: Shot, media_s: float, end_s: float, *,
                    fresh: bool) -> _Reader | None:
        current = self._reader
        behind = (current is not None and current[1].current is not None
                  and current[1].current.pts_s > media_s + 1e-6)
        if (current is not None and current[0] == shot and current[1].end_s == end_s
                and not fresh and not behind):
            return current[1]
        if current is not None:
            current[1].close()
            self._reader = None
        if shot.clip_id in self._failed:
            return None
        path = self._clips.get(shot.clip_id)
        try:
            if path is None:
                raise DecodeError(f"clip `{shot.clip_id}` of segment `{shot.segment_id}` is "
                                  "not in the record's list of played files")
            self._reader = (shot, _Reader(path, media_s, end_s))
        except DecodeError as exc:
            # Said once, and the screen goes black: another segment's picture would lie.
            self._failed.add(shot.clip_id)
            self._frame = None
            for surface in self.surfaces:
                surface.clear()
            self.problem.emit(f"{exc}; this segment cannot be replayed")
            return None
        return self._reader[1]

    def _paint(self) -> None:
        if self._frame is None:
            return
        for surface in self.surfaces:
            surface.show_frame(image_from_rgb(self._frame.rgb), self._frame.rgb)

    def _draw_shots(self, painter: QPainter, picture: QRect) -> None:
        """Each shot on screen where it landed, in the picture's own coordinates."""
        if not self._shots or self._frame is None:
            return
        radius = max(5.0, picture.width() / 60)
        font = QFont(painter.font())
        font.setPixelSize(max(10, round(radius * 2)))
        painter.setFont(font)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for shot in self._shots:
            assert shot.x is not None and shot.y is not None
            at = QPointF(picture.left() + shot.x * picture.width(),
                         picture.top() + shot.y * picture.height())
            colour = QColor(PLACEMENT_COLOURS[shot.placement])
            # A white edge keeps the dot visible on a dark picture as on a light one.
            painter.setPen(QPen(QColor("white"), max(1.5, radius / 4)))
            painter.setBrush(colour)
            painter.drawEllipse(at, radius, radius)
            if shot.after_threat_ended:
                painter.setPen(QPen(QColor(AFTER_THREAT_COLOUR), max(2.0, radius / 3)))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(at, radius * 1.9, radius * 1.9)
            label = QRectF(at.x() + radius * 2.2, at.y() - radius * 1.5, picture.width(),
                           radius * 3)
            painter.setPen(QColor("black"))
            painter.drawText(label.translated(1, 1), Qt.AlignmentFlag.AlignVCenter, shot.device)
            painter.setPen(colour.lighter(160))
            painter.drawText(label, Qt.AlignmentFlag.AlignVCenter, shot.device)
