"""The frame-exact player: PyAV decodes, this paints every frame at its time on one clock.

Guarantees (tested on real decoded clips):
- a cut shows the target segment's in-point frame first, at the next frame boundary of the
  picture on screen, when the target was pre-rolled; otherwise as soon as its first frame
  is decoded, with the old picture held until then (never black);
- within a segment no frame index is skipped: a frame that is late is shown late, and
  counted, rather than dropped;
- every report carries the monotonic time the frame was painted (plus the installation's
  measured screen lag, if set), and each frame's pts is known, so a mark is reported on
  the frame nearest its time (never more than half a frame early);
- sound is cut with the picture: each frame carries its own slice of audio.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, Qt, QTimer

from simulator.playback.audio_out import AudioOut
from simulator.playback.decode import DecodedFrame
from simulator.playback.fallback import PendingReports, reports_on_the_clock
from simulator.playback.hardware import Decoding
from simulator.playback.screen_player import ScreenPlayer
from simulator.playback.streams import DEFAULT_LEAD, FrameStream, Preroller, Span
from simulator.playback.surface import VideoSurface, fit_within
from simulator.ports import (
    Clock,
    MarkShown,
    PlaybackFailed,
    PlayerReport,
    PlayRequest,
    Presented,
    ReachedOut,
)

log = logging.getLogger(__name__)

# Until a clip says otherwise, frames are assumed to come at 30 per second.
_DEFAULT_PERIOD_NS = 33_333_333
# How long to wait before looking again when the decoder has not caught up.
_UNDERRUN_RETRY_MS = 2
# Qt timers have millisecond resolution: wake this much early and wait out the rest, so a
# frame lands within a fraction of a millisecond of its slot, not up to one late.
_WAKE_EARLY_NS = 1_500_000


@dataclass(frozen=True)
class FrameShown:
    """One frame put on screen (for tests, benchmarks and the preview)."""

    token: int
    segment_id: str
    index: int
    t_ns: int
    late_ns: int
    phase: str  # "segment" or "loop"
    # False for a frame the GPU presenter was given and replaced before any buffer swap
    # showed it: it never reached the screen (its stamp is the swap of the one after it).
    on_screen: bool = True


@dataclass
class _Playing:
    request: PlayRequest
    stream: FrameStream | None
    phase: str = "segment"
    presented_ns: int | None = None
    marks_left: list[int] = field(default_factory=list)
    reached_out: bool = False
    loop_next: FrameStream | None = None
    pass_frames: int = 0  # frames shown since the segment or the last loop pass began
    # When the media failed: the request's remaining reports, kept on the clock instead.
    simulated: PendingReports | None = None

    def loop_span(self) -> Span | None:
        r = self.request
        if r.waiting != "loop" or r.loop_s is None or r.path is None:
            return None
        return Span(r.path, r.in_s + r.loop_s[0], r.in_s + r.loop_s[1])


@dataclass(frozen=True)
class _Handed:
    """A frame given to the surface, waiting for the swap that shows it (not its pixels)."""

    playing: _Playing
    index: int
    pts_s: float
    late_ns: int
    handed_ns: int


class DecodedPlayer(ScreenPlayer):
    """A `Player` that decodes with PyAV and paints on a `VideoSurface`. GUI thread only."""

    backend = "pyav"
    frame_exact = True

    def __init__(self, surface: VideoSurface, clock: Clock, *, audio: AudioOut | None = None,
                 lead: int = DEFAULT_LEAD, display_lag_ms: float | None = None,
                 virtual_display: bool = False, decoding: Decoding | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(surface, clock, display_lag_ms=display_lag_ms,
                         virtual_display=virtual_display, parent=parent)
        self._decoding = decoding or Decoding(None)
        # Decoder threads hold the GIL in slices of up to the switch interval (5 ms by
        # default); the presentation thread must get it within a millisecond of a slot.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._audio = audio
        self._preroller = Preroller(lead)
        self._parked: dict[Span, FrameStream] = {}
        self._playing: _Playing | None = None
        self._period_ns = _DEFAULT_PERIOD_NS
        self._next_due_ns: int | None = None
        # The slot (scheduled time) of the last frame shown: a cut takes the slot after it.
        self._last_slot_ns: int | None = None
        self._last_shown_ns: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.on_frame: Callable[[FrameShown], None] | None = None
        self.late_frames = 0
        self.frames_never_shown = 0
        self.swaps_missed = 0  # times the window stopped getting swaps (stamped at hand-over)
        # Frames given to the surface that no buffer swap has shown yet (the GPU presenter
        # swaps when the display lets it; the CPU painter before `show_picture` returns).
        self._awaiting_swap: list[_Handed] = []
        # Set while the window gets no swaps at all (minimised, covered): frames are then
        # stamped when handed over, as on the CPU painter, until a swap comes again.
        self._swapless = False
        surface.picture_swapped.connect(self._swap_seen)

    # -- the Player port -------------------------------------------------------------------

    def play(self, request: PlayRequest) -> None:
        """Cut to ``request`` at the next frame boundary of what is on screen."""
        self._drop_playing()
        stream = self._stream_for(request)
        self._playing = _Playing(request, stream, marks_left=list(range(len(request.marks))))
        if stream is None:
            self._fail(f"segment `{request.segment_id}`: clip `{request.clip_id}` has no file")
        elif not stream.ready:
            # A parked stream starts decoding ahead only once its first frame is up (in
            # _present): until then its decoder would compete with the cut for the GIL.
            stream.start_feeding()
        now = self._moment()
        due = now
        if self._last_slot_ns is not None:
            due = max(now, self._last_slot_ns + self._period_ns)
        self._next_due_ns = due
        if self._paused_at is None:
            self._schedule(due)

    def preload(self, requests: Sequence[PlayRequest]) -> None:
        """Park a short lead of each target (and the loop of what plays), dropping the rest."""
        wanted: list[Span] = []
        playing = self._playing
        if playing is not None and (loop := playing.loop_span()) is not None:
            wanted.append(loop)
        wanted += [Span(r.path, r.in_s, r.out_s) for r in requests if r.path is not None]
        keep = dict.fromkeys(wanted)
        for span in [s for s in self._parked if s not in keep]:
            self._parked.pop(span).close()
        fit = self._fit()
        for span in keep:
            if span not in self._parked:
                self._parked[span] = self._stream(span, fit)
        self._preroller.park([self._parked[s] for s in keep])

    def pause(self) -> None:
        """Freeze on the frame on screen; sound holds too."""
        if self._paused_at is None:
            self._paused_at = self._clock.now_ns()
            self._timer.stop()
            if self._audio is not None:
                self._audio.pause()

    def resume(self) -> None:
        """Go on from the frozen frame; everything still to come moves by the pause."""
        if self._paused_at is None:
            return
        shift = self._clock.now_ns() - self._paused_at
        self._paused_at = None
        if self._next_due_ns is not None:
            self._next_due_ns += shift
        if self._last_slot_ns is not None:
            self._last_slot_ns += shift
        if self._last_shown_ns is not None:
            self._last_shown_ns += shift
        # A frame handed over before the pause has waited for its swap only while playing.
        self._awaiting_swap = [replace(h, handed_ns=h.handed_ns + shift)
                               for h in self._awaiting_swap]
        playing = self._playing
        if playing is not None and playing.presented_ns is not None:
            # Kept as the origin for timing a failure: it moves with the pause, like the rest.
            playing.presented_ns += shift
        if playing is not None and playing.simulated is not None:
            playing.simulated.shift(shift)
        if self._audio is not None:
            self._audio.resume()
        if self._next_due_ns is not None:
            self._schedule(self._next_due_ns)

    def stop(self) -> None:
        """Stop decoding and let go of every stream; the last picture stays up."""
        self._timer.stop()
        self._awaiting_swap.clear()
        self._drop_playing()
        self._playing = None
        self._next_due_ns = None
        if self._paused_at is not None:
            self._paused_at = None
            if self._audio is not None:
                # What was buffered before the pause belongs to a picture no longer coming.
                self._audio.clear()
        for stream in self._parked.values():
            stream.close()
        self._parked.clear()

    def shutdown(self) -> None:
        """Stop, and end the pre-roll thread: the player is done (its run is over)."""
        self.stop()
        self._preroller.stop()
        if self._audio is not None:
            self._audio.close()

    @property
    def decoding(self) -> str:
        """Where clips are decoded, recorded with every run: a device kind or ``software``."""
        return self._decoding.label

    # -- for tests and benchmarks -----------------------------------------------------------

    def wait_parked(self, timeout_s: float = 5.0) -> bool:
        """Block until every target is pre-rolled (tests and benchmarks only)."""
        return self._preroller.idle(timeout_s)

    @property
    def holding(self) -> bool:
        """Whether the last frame is held (a segment or loop ended) with nothing scheduled."""
        return self._playing is not None and self._next_due_ns is None

    @property
    def parked_spans(self) -> list[Span]:
        """What is pre-rolled now."""
        return list(self._parked)

    # -- machinery ---------------------------------------------------------------------------

    def _fit(self) -> Callable[[int, int], tuple[int, int]]:
        # Read the widget's size here, on the GUI thread; decoder threads get plain numbers.
        area_w, area_h = self._surface.pixel_area()
        return lambda w, h: fit_within(w, h, area_w, area_h)

    def _stream(self, span: Span, fit: Callable[[int, int], tuple[int, int]] | None = None
                ) -> FrameStream:
        return FrameStream(span, fit or self._fit(), decoding=self._decoding,
                           yuv=self._surface.takes_yuv)

    def _stream_for(self, request: PlayRequest) -> FrameStream | None:
        if request.path is None:
            return None
        span = Span(request.path, request.in_s, request.out_s)
        parked = self._parked.pop(span, None)
        return parked or self._stream(span)

    def _drop_playing(self) -> None:
        playing = self._playing
        if playing is None:
            return
        for stream in (playing.stream, playing.loop_next):
            if stream is not None:
                stream.close()

    def _schedule(self, due_ns: int) -> None:
        delay_ms = max(0, (due_ns - _WAKE_EARLY_NS - self._clock.now_ns()) // 1_000_000)
        self._timer.start(delay_ms)

    def _tick(self) -> None:
        playing = self._playing
        if playing is None or self._paused_at is not None:
            return
        now = self._clock.now_ns()
        self._fire_pending()
        if playing.simulated is not None or self._next_due_ns is None:
            self._schedule_simulated()
            return
        if now < self._next_due_ns - _WAKE_EARLY_NS:
            self._schedule(self._next_due_ns)
            return
        if now < self._next_due_ns:
            # Spin out the early wake-up (at most 1.5 ms a frame): cheaper than a late frame.
            until = time.perf_counter_ns() + self._next_due_ns - now
            while time.perf_counter_ns() < until:
                pass
            now = self._clock.now_ns()
        assert playing.stream is not None
        frame = playing.stream.pop()
        if frame is None:
            self._settle_overdue(now)
            if not playing.stream.exhausted or self._awaiting_swap:
                # Decoding behind, or the last frame not yet on screen: whether the
                # out-point was reached is only known once it is.
                self._timer.start(_UNDERRUN_RETRY_MS)
                return
            if playing.stream.error is not None:
                self._fail(playing.stream.error)
                self._schedule_simulated()
                return
            self._span_ended(playing)
            return
        self._present(playing, frame, now)

    def _present(self, playing: _Playing, frame: DecodedFrame, now: int) -> None:
        assert self._next_due_ns is not None and playing.stream is not None
        timing = playing.stream.timing
        if timing is not None:
            self._period_ns = round(1e9 / timing.fps)
        late = max(0, now - self._next_due_ns)
        if late > self._period_ns // 2:
            self.late_frames += 1
        self._settle_overdue(now)
        # Listed before it is handed over: a swap within `show_picture` stamps it.
        self._awaiting_swap.append(_Handed(playing, frame.index, frame.pts_s, late, now))
        self._surface.show_picture(frame.picture)
        if self._swapless or not self._surface.swap_pending():
            self._swapped()
        playing.stream.start_feeding()
        if self._audio is not None:
            self._audio.write(frame.audio)
        # The schedule slips only when a frame came more than a period late, so one late
        # frame is not followed by a burst of hurried ones.
        self._last_slot_ns = self._next_due_ns if late <= self._period_ns else now
        self._next_due_ns = self._last_slot_ns + self._period_ns
        playing.pass_frames += 1
        self._schedule(self._next_due_ns)

    def _settle_overdue(self, now: int) -> None:
        """Go over to stamping at hand-over when no swap came for two frame periods.

        A window the system does not draw (minimised, covered) gets no swaps; the run must
        go on, as it does on the CPU painter. The frames waiting are stamped when they were
        handed over, and so is every frame after them, until a swap comes again.
        """
        if (self._swapless or not self._awaiting_swap
                or now - self._awaiting_swap[0].handed_ns <= 2 * self._period_ns):
            return
        log.warning("no buffer swap for %.0f ms: frames are stamped when handed over until "
                    "the window is drawn again", (now - self._awaiting_swap[0].handed_ns) / 1e6)
        self._swapless = True
        self.swaps_missed += 1
        self._swapped(at_hand_over=True)

    def _swap_seen(self) -> None:
        self._swapless = False
        self._swapped()

    def _swapped(self, *, at_hand_over: bool = False) -> None:
        """Stamp the frames the surface just put on screen: now is when they got there.

        Only the last was seen; any before it were replaced before a swap showed them.
        ``at_hand_over``: no swap is coming; each is stamped when it was handed over.
        """
        waiting, self._awaiting_swap = self._awaiting_swap, []
        if not waiting:
            return
        shown = self._clock.now_ns()
        for position, handed in enumerate(waiting, start=1):
            playing = handed.playing
            on_screen = at_hand_over or position == len(waiting)
            if at_hand_over:
                shown = handed.handed_ns
            self._last_shown_ns = shown
            stamp = shown + self._lag_ns
            if on_screen:
                self.frames.presented(playing.request.token, handed.index, stamp,
                                      clip_s=handed.pts_s)
                self.frames_shown += 1
            else:
                self.frames_never_shown += 1
            if playing.phase == "segment":
                # A cue's frame replaced unseen is marked with the swap that came instead.
                self._report_segment_frame(playing, handed.index, handed.pts_s, stamp)
            if self.on_frame is not None:
                self.on_frame(FrameShown(playing.request.token, playing.request.segment_id,
                                         handed.index, stamp, handed.late_ns, playing.phase,
                                         on_screen))

    def _report_segment_frame(self, playing: _Playing, index: int, pts_s: float, stamp: int
                              ) -> None:
        request, token = playing.request, playing.request.token
        before = len(self._reports)
        if playing.presented_ns is None:
            playing.presented_ns = stamp
            self._reports.append(Presented(token, stamp))
        half = self._period_ns / 2e9
        while playing.marks_left and (
                request.in_s + request.marks[playing.marks_left[0]] <= pts_s + half):
            self._reports.append(MarkShown(token, playing.marks_left.pop(0), stamp))
        timing = playing.stream.timing if playing.stream is not None else None
        if timing is not None and index >= math.ceil(request.out_s * timing.fps - 0.5) - 1:
            self._reach_out(playing, stamp)
        if len(self._reports) > before:
            self.reports_ready.emit()

    def _reach_out(self, playing: _Playing, stamp: int) -> None:
        if not playing.reached_out:
            playing.reached_out = True
            for index in playing.marks_left:
                self._reports.append(MarkShown(playing.request.token, index, stamp))
            playing.marks_left = []
            self._reports.append(ReachedOut(playing.request.token, stamp))

    def _span_ended(self, playing: _Playing) -> None:
        if playing.phase == "segment" and not playing.reached_out:
            # The clip ended before the out-point: what was shown last is the out-point.
            self._reach_out(playing, (self._last_shown_ns or self._clock.now_ns()) + self._lag_ns)
            self.reports_ready.emit()
        loop = playing.loop_span()
        if loop is None or (playing.phase == "loop" and playing.pass_frames == 0):
            # Hold the last frame until told otherwise; a loop with no frame in it (too
            # short, or past the clip's end) holds too, rather than reopening for ever.
            self._next_due_ns = None
            return
        playing.pass_frames = 0
        current = playing.loop_next or self._parked.pop(loop, None) or self._stream(loop)
        playing.stream, playing.phase = current, "loop"
        if not current.ready:
            current.start_feeding()
        # The next wrap must be as seamless as this one: park the loop's start again now.
        playing.loop_next = self._stream(loop)
        self._preroller.park([playing.loop_next, *self._parked.values()])
        self._tick()

    def _fail(self, detail: str) -> None:
        playing = self._playing
        if playing is None:
            return
        r = playing.request
        now = self._moment() + self._lag_ns
        if playing.stream is not None:
            playing.stream.close()
        reports: list[PlayerReport] = [PlaybackFailed(r.token, now, detail)]
        if playing.presented_ns is None:
            playing.presented_ns = now
            reports.append(Presented(r.token, now))
        playing.simulated = reports_on_the_clock(r, playing.presented_ns, playing.marks_left,
                                                 reached_out=playing.reached_out)
        playing.marks_left, playing.reached_out = [], True
        self._report(*reports)

    def _fire_pending(self) -> None:
        playing = self._playing
        if playing is not None and playing.simulated and self._paused_at is None:
            self._report(*playing.simulated.take_due(self._clock.now_ns()))

    def _schedule_simulated(self) -> None:
        playing = self._playing
        due = playing.simulated.next_ns if playing and playing.simulated else None
        if due is not None:
            self._schedule(due)
