"""The studio's timeline: one clip previewed frame by frame, to cut segments and mark cues.

An instructor scrubs through their own take as in a video editor (J, K and L to play, the
arrows to step, I and O for the in- and out-point, M for a cue) and sees which frame is on
screen, when it starts, and the clip's frame rate. What the timeline emits are the seconds
a scenario file stores, chosen so that the projector and the replay show exactly the frame
that was on screen when the key was pressed.

Times and frames: the projector's decoder starts a segment on the frame nearest its
in-point (``ceil(t * fps - 1/2)``: a tie goes to the earlier frame), ends it at the frame
boundary nearest its out-point, and reports a cue on the frame nearest the cue's time; the
replay shows the last frame to start at or before a moment (``pts <= t``). A time in
``[n / fps, (n + 1/2) / fps)`` is frame ``n`` to all of them, so the time stored for frame
``n`` is its start rounded *up* to the millisecond: 1.034 for frame 31 at 30 fps, where
1.033 would fall just before the frame starts and the replay would show frame 30.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QHelpEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from instructor_console.theme import label, plain_tooltip
from media_index import ProbeError, probe
from simulator.playback.decode import DecodedFrame, DecodeError, SegmentDecoder
from simulator.playback.surface import VideoSurface, fit_within, image_from_rgb

# Pictures are decoded no larger than this: enough to judge a frame, and a second of
# 1080p footage held for stepping back would take 190 MB.
PREVIEW_SIZE = (1280, 720)
# Decoded pictures kept for stepping and playing backward, least recently shown dropped.
CACHE_BYTES = 160 * 1024 * 1024
# A frame up to this many seconds ahead is decoded on to; further, the clip is reopened at
# its keyframe, which on camera footage (a keyframe every few seconds) costs about as much.
READ_ON_S = 2.0
# Playing repaints at most this often; frames the decoder cannot keep up with are skipped.
TICK_MS = 15
# J and L pressed again double the speed, up to this.
MAX_SPEED = 4

KEYS = ("J plays backward, K pauses, L plays forward (J or L again: faster, up to 4×); "
        "Left and Right step one frame, with Shift one second; Home and End go to the "
        "first and last frame; I sets the in-point, O the out-point (the last frame the "
        "segment shows), M marks a cue; click or drag on the bar to go to a frame, drag "
        "the yellow handles to move the in- and out-point")
KEYS_SHORT = ("J ◀  K ■  L ▶ (again: 2×, 4×)   ← → frame   Shift+← → second   "
              "Home End   I in   O out   M cue")

BACKGROUND = "#0b0e11"
TRACK = "#1b2129"
SEGMENT_BANDS = ("#26323f", "#1f2a36")
SEGMENT_TEXT = "#c8d0d8"
RANGE = "#f5c542"
CUE = "#e67e22"
PROPOSED_CUT = "#9aa5b1"
ZONE_KEY = "#4fc3f7"
SECOND_TICK = "#3a4552"
PLAYHEAD = "#ffffff"
MARGIN = 8.0
SEGMENT_ROW = 22.0
# The segments' names are drawn small, to fit their row; the theme's type is for reading.
LABEL_PX = 13
TRACK_HEIGHT = 28.0
CUT_ROW = 12.0
# How near (px) a click must be to an in/out handle to drag it, or a mark to name it.
GRAB_PX = 8.0


def time_of_frame(frame: int, fps: Fraction | int) -> float:
    """The seconds to store for ``frame``: its start, rounded up to the millisecond.

    ``fps`` is the clip's exact rate as its decoder gives it (30000/1001 for "29.97").
    At this time the projector starts a segment, reports a cue, and the replay shows,
    exactly ``frame``, at any rate below 500 frames a second (see the module's notes).
    """
    if frame < 0:
        raise ValueError(f"frame {frame} is before the clip's first (0)")
    return math.ceil(Fraction(frame * 1000) / Fraction(fps)) / 1000


def frame_at(seconds: float, fps: Fraction | int) -> int:
    """The frame the projector shows for a time in a scenario file.

    The nearest frame, a tie going to the earlier one: where a segment with this in-point
    starts, where a cue at this time is reported, and (as a boundary) the first frame that
    a segment with this out-point no longer shows. `time_of_frame` gives it back.
    """
    return max(0, math.ceil(seconds * fps - 0.5))


def timecode(frame: int, fps: Fraction | int) -> str:
    """``HH:MM:SS.FF``: the second in which ``frame`` starts, and the frame within it.

    Counted on the clock, as the scenario file's seconds are, so at 29.97 fps it is not
    SMPTE drop-frame timecode: 00:00:01.00 is frame 30, which starts at 1.001 s.
    """
    rate = Fraction(fps)
    whole = math.floor(Fraction(frame) / rate)
    within = frame - math.ceil(whole * rate)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{within:02d}"


def rate_text(fps: Fraction | int) -> str:
    """A frame rate as people write it: 24, 29.97, 23.976."""
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


class _Frames:
    """One clip's frames by number, decoded on from the last one where that is cheaper.

    Recently decoded frames are kept, so stepping back over them costs nothing; a frame
    further back is decoded with the ones before it, a second at a time, for playing on
    backward.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            facts = probe(path, keyframes=False)
        except ProbeError as exc:
            raise DecodeError(str(exc)) from exc
        self.size = (None if facts.width <= PREVIEW_SIZE[0] and facts.height <= PREVIEW_SIZE[1]
                     else fit_within(facts.width, facts.height, *PREVIEW_SIZE))
        # The decoder reads to the end of the file whatever the probe said of its length.
        self._end_s = facts.duration_s + 1.0
        self._cache: OrderedDict[int, DecodedFrame] = OrderedDict()
        self._cached_bytes = 0
        self._decoder: SegmentDecoder | None = SegmentDecoder(
            path, 0.0, self._end_s, self.size, on_screen_at=True, sound=False)
        self._reading: Iterator[DecodedFrame] = iter(self._decoder)
        self._next = 0
        self.fps = self._decoder.timing.fps
        # Corrected to the last frame decoded if the file ends sooner.
        self.count = max(1, round(facts.duration_s * self.fps))
        self._read_on = max(1, round(READ_ON_S * self.fps))

    def frame(self, index: int, *, keep_before: int = 0) -> DecodedFrame | None:
        """Frame ``index``, or the clip's last if it has no such frame.

        When it must be decoded afresh, so are the ``keep_before`` frames before it, for
        stepping back.

        Raises:
            DecodeError: the clip cannot be read at that point.
        """
        index = min(max(0, index), self.count - 1)
        found = self._cache.get(index)
        if found is not None:
            self._cache.move_to_end(index)
            return found
        if not self._next <= index <= self._next + self._read_on:
            self._open(max(0, index - keep_before) if index < self._next else index)
        found = self._read_to(index)
        if found is None and 0 < self._next <= index:
            # Nothing from there on: the probe overstated the clip's length (sound running
            # on past the picture, say). Reading from a second before finds the last frame;
            # if not, the clip is taken to end there, and the next try reads further back.
            start = max(0, index - round(self.fps))
            self._open(start)
            found = self._read_to(index)
            if found is None:
                self.count = max(1, start)
        return found

    def close(self) -> None:
        """Release the file and the pictures."""
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._cache.clear()
        self._cached_bytes = 0

    def _open(self, index: int) -> None:
        if self._decoder is not None:
            self._decoder.close()
        # The time the scenario would store for the frame: the preview shows what the
        # replay and the projector will.
        self._decoder = SegmentDecoder(self.path, time_of_frame(index, self.fps), self._end_s,
                                       self.size, on_screen_at=True, sound=False)
        self._reading = iter(self._decoder)
        self._next = index

    def _read_to(self, index: int) -> DecodedFrame | None:
        last: DecodedFrame | None = None
        for frame in self._reading:
            self._keep(frame)
            self._next = frame.index + 1
            if frame.index >= index:
                return frame
            last = frame
        if last is not None:
            # The file ended before the frame: what was read last is the clip's last.
            self.count = last.index + 1
        return last

    def _keep(self, frame: DecodedFrame) -> None:
        if frame.index in self._cache:
            return
        self._cache[frame.index] = frame
        self._cached_bytes += frame.rgb.nbytes
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= dropped.rgb.nbytes


class ScrubBar(QWidget):
    """The clip as a bar: where the picture is, the range being cut, and what is marked.

    It draws what `ClipTimeline` tells it and says what the pointer asks for:
    `frame_requested` (a click or drag on the bar), `in_dragged` and `out_dragged` (a handle
    picked up or moved to a frame boundary; the out-point as the last frame shown), and
    `drag_ended` ("in" or "out") once a handle was moved and let go.
    """

    frame_requested = Signal(int)
    in_dragged = Signal(int)
    out_dragged = Signal(int)
    drag_ended = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fps: Fraction = Fraction(30)
        self.count = 0
        self.position = 0
        self.in_frame: int | None = None
        self.out_frame: int | None = None
        self.segments: list[tuple[str, float, float]] = []
        self.cues: list[tuple[str, float]] = []
        self.proposed_cuts: list[float] = []
        self.zone_keys: list[float] = []
        self._dragging: str | None = None
        self._moved = False
        self.setMinimumHeight(round(2 * MARGIN + SEGMENT_ROW + TRACK_HEIGHT + CUT_ROW))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        # Keys go to the timeline around it, which a click on the bar focuses.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Wide and low, under the picture."""
        return QSize(800, self.minimumHeight())

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame's start to the last one's end."""
        return float(self.count / self.fps)

    def x_of(self, seconds: float) -> float:
        """Where a moment of the clip is drawn."""
        share = seconds / self.duration_s if self.count else 0.0
        return MARGIN + (self.width() - 2 * MARGIN) * share

    def x_of_frame(self, frame: int) -> float:
        """Where a frame starts on the bar."""
        return self.x_of(float(frame / self.fps))

    def frame_under(self, x: float) -> int:
        """The frame on screen at the moment under ``x``."""
        return min(max(0, math.floor(self._seconds_at(x) * self.fps)), max(0, self.count - 1))

    def _seconds_at(self, x: float) -> float:
        share = (x - MARGIN) / max(1.0, self.width() - 2 * MARGIN)
        return min(max(share, 0.0), 1.0) * self.duration_s

    def _boundary_at(self, x: float) -> int:
        return round(self._seconds_at(x) * self.fps)

    def _track(self) -> QRectF:
        return QRectF(MARGIN, MARGIN + SEGMENT_ROW, self.width() - 2 * MARGIN, TRACK_HEIGHT)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """A handle under the pointer is picked up; anywhere else, go to that frame."""
        if not self.count or event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        x = event.position().x()
        handles = []
        if self.in_frame is not None:
            handles.append((abs(x - self.x_of_frame(self.in_frame)), "in"))
        if self.out_frame is not None:
            handles.append((abs(x - self.x_of_frame(self.out_frame + 1)), "out"))
        near = sorted(h for h in handles if h[0] <= GRAB_PX)
        self._dragging = near[0][1] if near else "position"
        self._moved = False
        # A handle picked up stays put until the pointer moves: a click on it only shows
        # its frame, however narrow frames are drawn.
        if self._dragging == "in" and self.in_frame is not None:
            self.in_dragged.emit(self.in_frame)
        elif self._dragging == "out" and self.out_frame is not None:
            self.out_dragged.emit(self.out_frame)
        else:
            self._drag_to(x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Follow the pointer with whatever was picked up."""
        if self._dragging is not None:
            self._moved = True
            self._drag_to(event.position().x())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Put down what was picked up."""
        if self._dragging is not None:
            dragged, self._dragging = self._dragging, None
            if self._moved:
                self.drag_ended.emit(dragged)

    def _drag_to(self, x: float) -> None:
        if self._dragging == "in":
            last = self.out_frame if self.out_frame is not None else self.count - 1
            self.in_dragged.emit(min(max(0, self._boundary_at(x)), last))
        elif self._dragging == "out":
            first = self.in_frame if self.in_frame is not None else 0
            self.out_dragged.emit(min(max(first, self._boundary_at(x) - 1), self.count - 1))
        else:
            self.frame_requested.emit(self.frame_under(x))

    def event(self, event: QEvent) -> bool:
        """Over a mark, the tooltip names it; anywhere else it lists the keys."""
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            QToolTip.showText(event.globalPos(), plain_tooltip(self._named_at(event.pos().x())),
                              self)
            return True
        return super().event(event)

    def _named_at(self, x: float) -> str:
        for name, at_s in self.cues:
            if abs(self.x_of(at_s) - x) <= GRAB_PX:
                return f"Cue: {name} at {at_s:.3f} s"
        for at_s in self.proposed_cuts:
            if abs(self.x_of(at_s) - x) <= GRAB_PX / 2:
                return f"Proposed cut (shot change) at {at_s:.3f} s"
        for at_s in self.zone_keys:
            if abs(self.x_of(at_s) - x) <= GRAB_PX / 2:
                return f"Hit zone key at {at_s:.3f} s"
        for name, in_s, out_s in self.segments:
            if self.x_of(in_s) <= x <= self.x_of(out_s):
                return f"Segment: {name}, {in_s:.3f} s to {out_s:.3f} s"
        return KEYS

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Segments above the track, the range and cues on it, proposed cuts below."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = painter.font()
        font.setPixelSize(LABEL_PX)
        painter.setFont(font)
        painter.fillRect(self.rect(), QColor(BACKGROUND))
        track = self._track()
        painter.fillRect(track, QColor(TRACK))
        if self.count:
            self._paint_seconds(painter, track)
            self._paint_segments(painter)
            self._paint_range(painter, track)
            self._paint_cues(painter, track)
            self._paint_cuts(painter, track)
            self._paint_zone_keys(painter, track)
            x = self.x_of_frame(self.position)
            painter.setPen(QPen(QColor(PLAYHEAD), 2.0))
            painter.drawLine(QPointF(x, track.top() - 4), QPointF(x, track.bottom() + 4))
        painter.end()

    def _paint_seconds(self, painter: QPainter, track: QRectF) -> None:
        # Ticks no closer than 6 px: a long clip gets one every 5, 10, 30 or 60 seconds.
        for step in (1, 5, 10, 30, 60, 300, 600):
            if (self.x_of(step) - self.x_of(0)) >= 6:
                break
        painter.setPen(QPen(QColor(SECOND_TICK), 1.0))
        for second in range(0, math.ceil(self.duration_s), step):
            x = self.x_of(second)
            painter.drawLine(QPointF(x, track.bottom() - 5), QPointF(x, track.bottom()))

    def _paint_segments(self, painter: QPainter) -> None:
        metrics = QFontMetrics(painter.font())
        for i, (name, in_s, out_s) in enumerate(self.segments):
            band = QRectF(QPointF(self.x_of(in_s), MARGIN),
                          QPointF(self.x_of(out_s), MARGIN + SEGMENT_ROW - 2))
            painter.fillRect(band, QColor(SEGMENT_BANDS[i % 2]))
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight,
                                      max(0, int(band.width()) - 6))
            if text and text != "…":
                painter.setPen(QColor(SEGMENT_TEXT))
                painter.drawText(band.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter
                                 | Qt.AlignmentFlag.AlignLeft, text)

    def _paint_range(self, painter: QPainter, track: QRectF) -> None:
        if self.in_frame is None and self.out_frame is None:
            return
        start = self.x_of_frame(self.in_frame or 0)
        end = self.x_of_frame(self.out_frame + 1 if self.out_frame is not None else self.count)
        shade = QColor(RANGE)
        shade.setAlpha(70)
        painter.fillRect(QRectF(QPointF(start, track.top()), QPointF(end, track.bottom())),
                         shade)
        painter.setPen(QPen(QColor(RANGE), 3.0))
        painter.setBrush(QColor(RANGE))
        top, bottom = track.top(), track.bottom()
        # Each handle is a bar with a flag pointing into the range, as editors draw them.
        if self.in_frame is not None:
            painter.drawLine(QPointF(start, top), QPointF(start, bottom))
            painter.drawPolygon(QPolygonF([QPointF(start, top), QPointF(start + 7, top),
                                           QPointF(start, top + 7)]))
        if self.out_frame is not None:
            painter.drawLine(QPointF(end, top), QPointF(end, bottom))
            painter.drawPolygon(QPolygonF([QPointF(end, top), QPointF(end - 7, top),
                                           QPointF(end, top + 7)]))

    def _paint_cues(self, painter: QPainter, track: QRectF) -> None:
        painter.setPen(QPen(QColor(CUE), 2.0))
        painter.setBrush(QColor(CUE))
        for _name, at_s in self.cues:
            x = self.x_of(at_s)
            painter.drawLine(QPointF(x, track.top() + 8), QPointF(x, track.bottom()))
            painter.drawPolygon(QPolygonF([QPointF(x - 6, track.top()),
                                           QPointF(x + 6, track.top()),
                                           QPointF(x, track.top() + 9)]))

    def _paint_cuts(self, painter: QPainter, track: QRectF) -> None:
        painter.setPen(QPen(QColor(PROPOSED_CUT), 2.0))
        for at_s in self.proposed_cuts:
            x = self.x_of(at_s)
            painter.drawLine(QPointF(x, track.bottom() + 2),
                             QPointF(x, track.bottom() + CUT_ROW - 2))


    def _paint_zone_keys(self, painter: QPainter, track: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(ZONE_KEY))
        y = track.bottom() - 6
        for at_s in self.zone_keys:
            x = self.x_of(at_s)
            painter.drawPolygon(QPolygonF([QPointF(x, y - 4), QPointF(x + 4, y),
                                           QPointF(x, y + 4), QPointF(x - 4, y)]))


class ClipTimeline(QWidget):
    """A clip, frame by frame, with an editor's keys for cutting segments and marking cues.

    `load` a clip; I, O and M emit `in_point_set`, `out_point_set` and `cue_marked` with
    the seconds to store (see `time_of_frame`), and every frame shown emits
    `position_changed` (frame, seconds). The in- and out-point being edited are the
    timeline's own until the studio stores them; the cues, the other segments of the clip
    and the proposed cuts are the studio's, drawn from what the setters last gave. The
    out-point is the last frame the segment shows, as in an editor; the seconds emitted
    for it are the end of that frame, which is what the scenario's ``out`` means.
    """

    in_point_set = Signal(float)
    out_point_set = Signal(float)
    cue_marked = Signal(float)
    position_changed = Signal(int, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Clip timeline")
        self.setAccessibleDescription(KEYS)
        self.surface = VideoSurface()
        self.surface.setMinimumSize(320, 180)
        self.surface.setAccessibleName("Clip picture")
        self.surface.setToolTip(KEYS)
        self.bar = ScrubBar()
        self.bar.setAccessibleName("Scrub bar")
        self.bar.setAccessibleDescription("Click or drag to go to a frame; drag the yellow "
                                          "handles to move the in- and out-point")
        self.readout = label("No clip loaded", "status")
        self.readout.setAccessibleName("Position")
        # On one line, with the in- and out-point, it would widen the studio's window.
        self.readout.setWordWrap(True)
        self.keys = label(KEYS_SHORT, "hint")
        self.keys.setWordWrap(True)
        self.keys.setAccessibleName("Keys")
        self.keys.setAccessibleDescription(KEYS)
        layout = QVBoxLayout(self)
        layout.addWidget(self.surface, stretch=1)
        layout.addWidget(self.bar)
        layout.addWidget(self.readout)
        layout.addWidget(self.keys)

        self.bar.frame_requested.connect(self._go_to)
        self.bar.in_dragged.connect(self._drag_in)
        self.bar.out_dragged.connect(self._drag_out)
        self.bar.drag_ended.connect(self._drop)
        self._frames: _Frames | None = None
        self._current = 0
        self._in: int | None = None
        self._out: int | None = None
        # Times real time, signed: 0 paused, negative backward.
        self._speed = 0
        self._started_at = 0.0
        self._started_from = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    # -- the clip ------------------------------------------------------------------------------

    def load(self, path: Path) -> None:
        """Show ``path`` from its first frame, with nothing marked on it yet.

        The studio then gives the range it edits, the clip's other segments, its cues and
        the proposed cuts.

        Raises:
            DecodeError: the file cannot be read as video (the message names it and why).
        """
        frames = _Frames(path)
        self.unload()
        self._frames = frames
        self._current = -1
        self._in = self._out = None
        self.bar.fps, self.bar.count = frames.fps, frames.count
        self.bar.in_frame = self.bar.out_frame = None
        self.bar.segments, self.bar.cues, self.bar.proposed_cuts = [], [], []
        self.bar.zone_keys = []
        self._show(0)

    def unload(self) -> None:
        """Stop, release the clip and show nothing."""
        self.pause()
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self.bar.count = 0
        self.bar.update()
        self.surface.clear()
        self.readout.setText("No clip loaded")

    @property
    def fps(self) -> Fraction | None:
        """The clip's exact frame rate (None with no clip loaded)."""
        return self._frames.fps if self._frames is not None else None

    @property
    def frame_count(self) -> int:
        """Frames in the clip (0 with none loaded)."""
        return self._frames.count if self._frames is not None else 0

    @property
    def current_frame(self) -> int:
        """The frame on screen."""
        return self._current

    @property
    def in_frame(self) -> int | None:
        """The first frame of the range being cut, if set."""
        return self._in

    @property
    def out_frame(self) -> int | None:
        """The last frame of the range being cut, if set."""
        return self._out

    @property
    def speed(self) -> int:
        """How fast it plays: 1, 2 or 4 forward, negative backward, 0 paused."""
        return self._speed

    def shown_image(self) -> QImage | None:
        """The picture on screen (shares its pixels with the timeline)."""
        return self.surface.current_image()

    # -- what the studio draws -----------------------------------------------------------------

    def set_range(self, in_s: float | None, out_s: float | None) -> None:
        """Edit this segment's range (seconds as stored; None: not set yet) in the loaded clip."""
        fps = self.fps
        if fps is None:
            return
        self._in = frame_at(in_s, fps) if in_s is not None else None
        self._out = max(0, frame_at(out_s, fps) - 1) if out_s is not None else None
        self._redraw()

    def set_segments(self, segments: Sequence[tuple[str, float, float]]) -> None:
        """The other segments cut from this clip: (label, in, out) in seconds."""
        self.bar.segments = list(segments)
        self.bar.update()

    def set_cues(self, cues: Sequence[tuple[str, float]]) -> None:
        """The cues marked in this clip: (label, seconds into the clip)."""
        self.bar.cues = list(cues)
        self.bar.update()

    def set_zone_keys(self, keys: Sequence[float]) -> None:
        """The keys of the hit zone being edited, drawn as diamonds (seconds into the clip)."""
        self.bar.zone_keys = list(keys)
        self.bar.update()

    def set_proposed_cuts(self, cuts: Sequence[float]) -> None:
        """Where shot detection proposes cuts (seconds into the clip)."""
        self.bar.proposed_cuts = list(cuts)
        self.bar.update()

    # -- moving --------------------------------------------------------------------------------

    def seek_frame(self, frame: int) -> None:
        """Show ``frame`` (paused), clamped to the clip."""
        self.pause()
        self._show(frame)

    def step(self, frames: int) -> None:
        """Move by whole frames (paused); back steps keep the second before for more."""
        self.pause()
        self._show(self._current + frames, back=frames < 0)

    def play(self, direction: int) -> None:
        """Play forward (1, L) or backward (-1, J) in real time; again the same way, faster.

        Backward, pictures come from the second before the one on screen, decoded from its
        keyframe onwards and then shown in reverse; where that cannot keep up, frames are
        skipped rather than slowed.
        """
        if self._frames is None or direction == 0:
            return
        way = 1 if direction > 0 else -1
        at_end = self._current >= self._frames.count - 1 if way > 0 else self._current <= 0
        if at_end:
            self.pause()
            return
        self._speed = (min(abs(self._speed) * 2, MAX_SPEED) * way if self._speed * way > 0
                       else way)
        self._started_at, self._started_from = time.perf_counter(), self._current
        self._timer.start()
        self._redraw()

    def pause(self) -> None:
        """Stop on the frame on screen."""
        self._timer.stop()
        if self._speed:
            self._speed = 0
            self._redraw()

    def mark_in(self) -> None:
        """Make the frame on screen the first of the range; emits `in_point_set`.

        An out-point before it is dropped, as an editor does.
        """
        if self._frames is None:
            return
        self._in = self._current
        if self._out is not None and self._out < self._in:
            self._out = None
        self._redraw()
        self.in_point_set.emit(time_of_frame(self._in, self._frames.fps))

    def mark_out(self) -> None:
        """Make the frame on screen the last of the range; emits `out_point_set`.

        The seconds emitted are the end of that frame. An in-point after it is dropped.
        """
        if self._frames is None:
            return
        self._out = self._current
        if self._in is not None and self._in > self._out:
            self._in = None
        self._redraw()
        self.out_point_set.emit(time_of_frame(self._out + 1, self._frames.fps))

    def mark_cue(self) -> None:
        """Emit `cue_marked` with the frame on screen (the studio adds the cue)."""
        if self._frames is not None:
            self.cue_marked.emit(time_of_frame(self._current, self._frames.fps))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """An editor's keys: J K L, the arrows, Home and End, I O and M."""
        chords = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                  | Qt.KeyboardModifier.MetaModifier)
        # Ctrl+O and the like are the window's; they never move a mark here.
        if self._frames is None or event.modifiers() & chords:
            super().keyPressEvent(event)
            return
        key = Qt.Key(event.key())
        if event.isAutoRepeat() and key in (Qt.Key.Key_J, Qt.Key.Key_L):
            # A held J or L plays on at its speed instead of racing up to the fastest.
            event.accept()
            return
        second = round(self._frames.fps)
        shifted = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        actions = {
            Qt.Key.Key_J: lambda: self.play(-1),
            Qt.Key.Key_K: self.pause,
            Qt.Key.Key_L: lambda: self.play(1),
            Qt.Key.Key_Left: lambda: self.step(-second if shifted else -1),
            Qt.Key.Key_Right: lambda: self.step(second if shifted else 1),
            Qt.Key.Key_Home: lambda: self.seek_frame(0),
            Qt.Key.Key_End: lambda: self.seek_frame(self.frame_count - 1),
            Qt.Key.Key_I: self.mark_in,
            Qt.Key.Key_O: self.mark_out,
            Qt.Key.Key_M: self.mark_cue,
        }
        action = actions.get(key)
        if action is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    # -- inside --------------------------------------------------------------------------------

    def _go_to(self, frame: int) -> None:
        # The bar takes no focus itself: the keys belong to the timeline around it.
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.seek_frame(frame)

    def _drag_in(self, frame: int) -> None:
        self._in = frame
        self._go_to(frame)

    def _drag_out(self, frame: int) -> None:
        self._out = frame
        self._go_to(frame)

    def _drop(self, dragged: str) -> None:
        if self._frames is None:
            return
        if dragged == "in" and self._in is not None:
            self.in_point_set.emit(time_of_frame(self._in, self._frames.fps))
        elif dragged == "out" and self._out is not None:
            self.out_point_set.emit(time_of_frame(self._out + 1, self._frames.fps))

    def _tick(self) -> None:
        if self._frames is None:
            self.pause()
            return
        elapsed = time.perf_counter() - self._started_at
        target = self._started_from + int(self._speed * elapsed * self._frames.fps)
        target = min(max(0, target), self._frames.count - 1)
        if target != self._current:
            self._show(target, back=self._speed < 0)
        last = self._frames.count - 1
        if self._current >= last if self._speed > 0 else self._current <= 0:
            self.pause()

    def _show(self, frame: int, *, back: bool = False) -> None:
        if self._frames is None:
            return
        try:
            shown = self._frames.frame(frame, keep_before=round(self._frames.fps) if back else 0)
        except DecodeError as exc:
            self.pause()
            self.readout.setText(f"Frame {frame} cannot be shown: {exc}")
            return
        if shown is None:
            return
        self.surface.show_frame(image_from_rgb(shown.rgb), shown.rgb)
        moved = shown.index != self._current
        self._current = shown.index
        self._redraw()
        if moved:
            self.position_changed.emit(shown.index, time_of_frame(shown.index, self._frames.fps))

    def _redraw(self) -> None:
        self.bar.position = self._current
        self.bar.in_frame, self.bar.out_frame = self._in, self._out
        if self._frames is not None:
            self.bar.count = self._frames.count
            self.readout.setText(self._readout_text(self._frames))
        self.bar.update()

    def _readout_text(self, frames: _Frames) -> str:
        fps, now = frames.fps, self._current
        parts = [f"Frame {now} of {frames.count - 1}",
                 f"{timecode(now, fps)} ({time_of_frame(now, fps):.3f} s)",
                 f"{rate_text(fps)} fps"]
        if self._in is not None:
            parts.append(f"In {timecode(self._in, fps)}")
        if self._out is not None:
            parts.append(f"Out {timecode(self._out, fps)}")
        if self._in is not None and self._out is not None:
            seconds = time_of_frame(self._out + 1, fps) - time_of_frame(self._in, fps)
            parts.append(f"{seconds:.3f} s cut")
        if self._speed:
            parts.append(f"{'▶' if self._speed > 0 else '◀'} {abs(self._speed)}×")
        return "   ·   ".join(parts)
