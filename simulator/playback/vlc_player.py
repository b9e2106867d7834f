"""The libvlc player: VLC decodes and keeps time, frames come back to us through vmem.

VLC shows nothing itself: its display callback hands each decoded picture to the GUI
thread, which paints it on the same `VideoSurface` as the frame-exact player. That keeps
the screen black-free across cuts (the old picture stays up until VLC delivers the new
one) and lets a pre-rolled branch show its first picture the moment it is chosen.

What it promises (less than the frame-exact player, and recorded as timing ``estimated``):
- a cut never shows black; a pre-rolled target's first picture is painted at once and is
  its in-point frame: VLC's own first picture after a seek is, more often than not, one
  from before the start time, so that one picture is decoded by PyAV instead;
- after that first picture VLC resumes on its own clock, so a short hold or a skipped
  frame right after the cut is possible (the benchmark measures both), and it stops on
  the out-point frame or a frame or two past it;
- stamps are when a picture was painted, but VLC says nothing of which frame it was, so
  marks are placed by the time elapsed since the segment's first picture.

libvlc rules kept here: callbacks are referenced for as long as their player lives, and
they never call libvlc; they copy the picture and post a queued Qt signal.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import vlc
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage

from simulator.playback import PlayerUnavailable
from simulator.playback.fallback import PendingReports, reports_on_the_clock
from simulator.playback.screen_player import ScreenPlayer
from simulator.playback.streams import Fit, FrameStream, Preroller, Span
from simulator.playback.surface import VideoSurface, fit_within, image_from_rgb
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

# Pre-rolling starts a VLC player per target; more than this at once starves the one on
# screen on a two-core projector PC.
MAX_PREROLLED = 9
_ALIGN = 32  # libvlc wants picture planes on 32-byte boundaries


class VlcUnavailable(PlayerUnavailable):
    """libvlc could not be started; the message says which package to install."""


def vlc_instance(*, audio: bool) -> vlc.Instance:
    """One libvlc instance for the process, silent where there is no sound device."""
    args = ["--quiet", "--no-xlib", "--no-video-title-show", "--no-osd", "--no-snapshot-preview"]
    if not audio:
        args.append("--aout=adummy")
    instance = vlc.Instance(args)
    if instance is None:
        raise VlcUnavailable(
            "libvlc did not start: install VLC's library and plugins (Debian: libvlc5 "
            "libvlc-bin vlc-plugin-base; Windows/macOS: VLC 3 of the same bitness as Python)")
    return instance


@dataclass
class _Arrival:
    t_ns: int
    pixels: bytes


@dataclass
class _VlcClip:
    """One libvlc player decoding one span into our buffer."""

    span: Span
    width: int
    height: int
    player: Any
    callbacks: tuple[Any, ...] = ()
    buffer: np.ndarray | None = None
    arrivals: deque[_Arrival] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first: _Arrival | None = None
    # The in-point frame decoded exactly, shown first on a cut (VLC's first may be earlier).
    exact_first: FrameStream | None = None
    parked: bool = False
    ended: bool = False
    error: bool = False

    def take(self) -> _Arrival | None:
        """The newest picture (older ones that queued up behind it are skipped)."""
        with self.lock:
            if not self.arrivals:
                return None
            newest = self.arrivals[-1]
            self.arrivals.clear()
            return newest


@dataclass
class _Current:
    request: PlayRequest
    clip: _VlcClip | None
    presented_ns: int | None = None
    marks_left: list[int] = field(default_factory=list)
    reached_out: bool = False
    phase: str = "segment"
    pass_pictures: int = 0  # pictures shown since the segment or the last loop pass began
    # When the media failed: the request's remaining reports, kept on the clock instead.
    simulated: PendingReports = field(default_factory=lambda: PendingReports([]))


class VlcPlayer(ScreenPlayer):
    """A `Player` on python-vlc, presenting VLC's pictures itself. GUI thread only."""

    _arrived = Signal()

    backend = "vlc"
    frame_exact = False  # VLC does not say which frame it delivered: stamps are estimated

    def __init__(self, surface: VideoSurface, clock: Clock, *, audio: bool = True,
                 display_lag_ms: float | None = None, virtual_display: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(surface, clock, display_lag_ms=display_lag_ms,
                         virtual_display=virtual_display, parent=parent)
        self._instance = vlc_instance(audio=audio)
        self._current: _Current | None = None
        self._parked: dict[Span, _VlcClip] = {}
        self._retired: list[_VlcClip] = []
        self._paused_ns = 0
        self._exact = Preroller(lead=1)
        self._arrived.connect(self._on_arrival, Qt.ConnectionType.QueuedConnection)
        self._mark_timer = QTimer(self)
        self._mark_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._mark_timer.setSingleShot(True)
        self._mark_timer.timeout.connect(self._on_arrival)
        self._simulated_timer = QTimer(self)
        self._simulated_timer.setSingleShot(True)
        self._simulated_timer.timeout.connect(self._fire_pending)

    # -- the Player port ---------------------------------------------------------------------

    def play(self, request: PlayRequest) -> None:
        """Cut to ``request``: its pre-rolled first picture at once, else when VLC has one."""
        self._retire_current()
        clip = None
        if request.path is not None:
            span = Span(request.path, request.in_s, request.out_s)
            clip = self._parked.pop(span, None) or self._open(span, parked=False)
        self._current = _Current(request, clip, marks_left=list(range(len(request.marks))))
        if clip is None:
            self._fail(self._current, f"clip `{request.clip_id}` has no usable file")
            return
        if clip.parked:
            clip.parked = False
            exact = None
            if clip.exact_first is not None:
                exact = clip.exact_first.pop()
                clip.exact_first.close()
            if exact is not None:
                self._paint(image_from_rgb(exact.rgb), exact.rgb)
            elif clip.first is not None:
                self._show(clip.first)
            clip.player.audio_set_mute(False)
            if self._paused_at is None:
                clip.player.set_pause(0)
        self._on_arrival()

    def preload(self, requests: Sequence[PlayRequest]) -> None:
        """Start and park a VLC player on each target's first picture."""
        wanted = [Span(r.path, r.in_s, r.out_s) for r in requests if r.path is not None]
        wanted = list(dict.fromkeys(wanted))[:MAX_PREROLLED]
        for span in [s for s in self._parked if s not in wanted]:
            self._retire(self._parked.pop(span))
        for span in wanted:
            if span not in self._parked:
                clip = self._open(span, parked=True)
                if clip is not None:
                    clip.exact_first = FrameStream(span, _always(clip.width, clip.height))
                    self._parked[span] = clip
        self._exact.park([c.exact_first for c in self._parked.values()
                          if c.exact_first is not None])

    def pause(self) -> None:
        """Freeze VLC on the picture shown."""
        if self._paused_at is None:
            self._paused_at = self._clock.now_ns()
            self._mark_timer.stop()
            if self._current is not None and self._current.clip is not None:
                self._current.clip.player.set_pause(1)

    def resume(self) -> None:
        """Let VLC go on; estimated marks move by the pause."""
        if self._paused_at is None:
            return
        shift = self._clock.now_ns() - self._paused_at
        self._paused_ns += shift
        self._paused_at = None
        if self._current is not None and self._current.simulated:
            self._current.simulated.shift(shift)
            self._fire_pending()
        if self._current is not None and self._current.clip is not None:
            self._current.clip.player.set_pause(0)
        self._on_arrival()

    def stop(self) -> None:
        """Stop every VLC player; the last picture stays on screen."""
        self._mark_timer.stop()
        self._simulated_timer.stop()
        self._retire_current()
        self._current = None
        for clip in self._parked.values():
            self._release(clip)
        self._parked.clear()
        self._reap()

    def shutdown(self) -> None:
        """Stop, end the exact-first pre-roll thread, and release libvlc."""
        self.stop()
        self._exact.stop()
        self._instance.release()

    def wait_parked(self, timeout_s: float = 5.0) -> bool:
        """Block until each pre-rolled target holds its first picture (tests, benchmarks)."""
        deadline = self._clock.now_ns() + round(timeout_s * 1e9)
        while True:
            self._park_arrivals()
            if (all(c.first is not None or c.error for c in self._parked.values())
                    and self._exact.idle(0)):
                return True
            if self._clock.now_ns() >= deadline:
                return False
            threading.Event().wait(0.005)

    # -- libvlc players ------------------------------------------------------------------------

    def _open(self, span: Span, *, parked: bool) -> _VlcClip | None:
        try:
            with av.open(span.path) as probe:
                stream = probe.streams.video[0]
                size = stream.codec_context.width, stream.codec_context.height
        except (av.FFmpegError, OSError, IndexError) as exc:
            log.warning("cannot open %s for VLC: %s", span, exc)
            return None
        width, height = fit_within(*size, *self._surface.pixel_area())
        media = self._instance.media_new_path(span.path)
        media.add_option(f":start-time={span.in_s:.3f}")
        media.add_option(f":stop-time={span.out_s:.3f}")
        player = self._instance.media_player_new()
        player.set_media(media)
        media.release()
        clip = _VlcClip(span, width, height, player, parked=parked)
        raw = np.zeros(width * height * 4 + _ALIGN, dtype=np.uint8)
        offset = (-raw.ctypes.data) % _ALIGN
        clip.buffer = raw[offset: offset + width * height * 4]
        address = clip.buffer.ctypes.data

        # These run on VLC's threads: copy, stamp, post. Never call libvlc from here.
        @vlc.CallbackDecorators.VideoLockCb  # type: ignore[untyped-decorator]
        def on_lock(_opaque: int, planes: Any) -> None:
            planes[0] = address

        @vlc.CallbackDecorators.VideoUnlockCb  # type: ignore[untyped-decorator]
        def on_unlock(_opaque: int, _picture: int, _planes: Any) -> None:
            return None

        @vlc.CallbackDecorators.VideoDisplayCb  # type: ignore[untyped-decorator]
        def on_display(_opaque: int, _picture: int) -> None:
            assert clip.buffer is not None
            arrival = _Arrival(self._clock.now_ns(), clip.buffer.tobytes())
            with clip.lock:
                clip.arrivals.append(arrival)
            self._arrived.emit()

        def on_end(_event: Any) -> None:
            clip.ended = True
            self._arrived.emit()

        def on_error(_event: Any) -> None:
            clip.error = True
            self._arrived.emit()

        clip.callbacks = (on_lock, on_unlock, on_display, on_end, on_error)
        player.video_set_callbacks(on_lock, on_unlock, on_display, None)
        player.video_set_format("RV32", width, height, width * 4)
        events = player.event_manager()
        events.event_attach(vlc.EventType.MediaPlayerEndReached, on_end)
        events.event_attach(vlc.EventType.MediaPlayerEncounteredError, on_error)
        if parked:
            player.audio_set_mute(True)
        player.play()
        return clip

    def _release(self, clip: _VlcClip) -> None:
        if clip.exact_first is not None:
            clip.exact_first.close()
        # Stopping joins VLC's threads, after which no callback of this clip can run: only
        # then may the callbacks go. Dropping them and the buffers here, not at the next
        # cycle collection, returns each player's picture memory at once.
        clip.player.stop()
        events = clip.player.event_manager()
        events.event_detach(vlc.EventType.MediaPlayerEndReached)
        events.event_detach(vlc.EventType.MediaPlayerEncounteredError)
        clip.player.release()
        clip.callbacks = ()
        clip.buffer = None
        clip.first = None
        clip.arrivals.clear()

    def _retire_current(self) -> None:
        current = self._current
        if current is not None and current.clip is not None:
            self._retire(current.clip)

    def _retire(self, clip: _VlcClip) -> None:
        # Stopping a VLC player can take tens of milliseconds: do it after the cut is on
        # screen, one player per pass of the event loop, so pictures keep coming between.
        # Until then it is silenced and frozen, which returns at once.
        clip.player.audio_set_mute(True)
        clip.player.set_pause(1)
        self._retired.append(clip)
        if len(self._retired) == 1:
            QTimer.singleShot(0, self._reap_one)

    def _reap_one(self) -> None:
        if self._retired:
            self._release(self._retired.pop(0))
        if self._retired:
            QTimer.singleShot(0, self._reap_one)

    def _reap(self) -> None:
        retired, self._retired = self._retired, []
        for clip in retired:
            self._release(clip)

    # -- pictures --------------------------------------------------------------------------------

    def _park_arrivals(self) -> None:
        for clip in self._parked.values():
            if not clip.parked:
                continue
            arrival = clip.take()
            if arrival is not None and clip.first is None:
                clip.first = arrival
                clip.player.set_pause(1)

    def _on_arrival(self) -> None:
        self._park_arrivals()
        current = self._current
        if current is None or current.clip is None:
            return
        clip = current.clip
        if self._paused_at is None:
            arrival = clip.take()
            if arrival is not None:
                self._show(arrival)
        if clip.error:
            if current.phase == "segment" and not current.reached_out:
                self._fail(current, f"VLC could not play {clip.span}")
            elif current.phase != "held":
                self._loop_failed(current, f"VLC could not play the loop {clip.span}")
        elif clip.ended:
            self._clip_ended(current)
        self._estimate_marks()

    def _show(self, arrival: _Arrival) -> None:
        current = self._current
        if current is None or current.clip is None:
            return
        clip = current.clip
        self._paint(QImage(arrival.pixels, clip.width, clip.height, clip.width * 4,
                           QImage.Format.Format_RGB32), arrival.pixels)

    def _paint(self, image: QImage, pixels: object) -> None:
        current = self._current
        if current is None:
            return
        self._surface.show_frame(image, pixels)
        stamp = self._clock.now_ns() + self._lag_ns
        self.frames_shown += 1
        current.pass_pictures += 1
        self.frames.presented(current.request.token, None, stamp)
        if current.phase == "segment" and current.presented_ns is None:
            current.presented_ns = stamp
            self._paused_ns = 0
            self._reports.append(Presented(current.request.token, stamp))
            self.reports_ready.emit()

    def _estimate_marks(self) -> None:
        current = self._current
        if (current is None or current.presented_ns is None or current.phase != "segment"
                or self._paused_at is not None):
            return
        elapsed = self._clock.now_ns() + self._lag_ns - current.presented_ns - self._paused_ns
        marks = current.request.marks
        while current.marks_left and marks[current.marks_left[0]] * 1e9 <= elapsed:
            index = current.marks_left.pop(0)
            self._reports.append(MarkShown(current.request.token, index,
                                           self._clock.now_ns() + self._lag_ns))
            self.reports_ready.emit()
        if current.marks_left:
            due = marks[current.marks_left[0]] * 1e9 - elapsed
            self._mark_timer.start(max(0, int(due / 1e6)))

    def _clip_ended(self, current: _Current) -> None:
        request = current.request
        if current.phase == "segment" and not current.reached_out:
            current.reached_out = True
            stamp = self._clock.now_ns() + self._lag_ns
            for index in current.marks_left:
                self._reports.append(MarkShown(request.token, index, stamp))
            current.marks_left = []
            self._reports.append(ReachedOut(request.token, stamp))
            self.reports_ready.emit()
        if (request.waiting != "loop" or request.loop_s is None or request.path is None
                or current.phase == "held"):
            return  # hold: the last picture stays up
        if current.phase == "loop" and current.pass_pictures == 0:
            current.phase = "held"  # a loop with no picture in it holds, not reopens
            return
        current.pass_pictures = 0
        # VLC cannot wrap seamlessly; the last picture holds while the loop restarts.
        span = Span(request.path, request.in_s + request.loop_s[0],
                    request.in_s + request.loop_s[1])
        self._retire_current()
        current.clip = self._open(span, parked=False)
        current.phase = "loop"
        if current.clip is None:
            self._loop_failed(current, f"cannot open the loop {span}")

    def _fail(self, current: _Current, detail: str) -> None:
        """Report the failure, keep the picture, and go on reporting on the clock."""
        request = current.request
        now = self._moment() + self._lag_ns
        reports: list[PlayerReport] = [PlaybackFailed(request.token, now, detail)]
        if current.presented_ns is None:
            current.presented_ns = now
            self._paused_ns = 0
            reports.append(Presented(request.token, now))
        current.simulated = reports_on_the_clock(
            request, current.presented_ns + self._paused_ns, current.marks_left,
            reached_out=current.reached_out)
        current.marks_left, current.reached_out = [], True
        current.phase = "held"
        self._mark_timer.stop()
        self._report(*reports)
        self._fire_pending()

    def _loop_failed(self, current: _Current, detail: str) -> None:
        """A waiting loop cannot play: say so, and hold the last picture."""
        current.phase = "held"
        self._report(PlaybackFailed(current.request.token, self._moment() + self._lag_ns,
                                    detail))

    def _fire_pending(self) -> None:
        current = self._current
        if current is None or not current.simulated or self._paused_at is not None:
            return
        now = self._clock.now_ns()
        self._report(*current.simulated.take_due(now))
        if (due := current.simulated.next_ns) is not None:
            self._simulated_timer.start(max(0, (due - now) // 1_000_000))


def _always(width: int, height: int) -> Fit:
    """Decode at VLC's picture size, whatever the clip's, so both pictures match."""
    return lambda _w, _h: (width, height)
