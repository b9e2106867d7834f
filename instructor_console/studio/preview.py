"""The studio's preview: the scenario as it stands, played from any segment, never recorded.

An author checks their cuts here: the picture as the projector's frame-exact player shows
it, the branches on the keys the console uses, the default's countdown, and a list of what
the run did and when, so a cue that lands a second late is seen before any class is. The
run is the real runtime writing to the preview's own journal in memory (`Authoring.preview`),
driven by the same `RunLoop` as the projector's: nothing reaches the record, and nobody's
training counts it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from instructor_console.live_state import LiveState
from instructor_console.theme import DARK, label
from simulator.documents import DocumentError
from simulator.playback.audio_out import AudioOut
from simulator.playback.decoded_player import DecodedPlayer
from simulator.playback.run_loop import RunLoop
from simulator.playback.surface import VideoSurface
from simulator.protocol import (
    ChooseBranch,
    Command,
    Event,
    Pause,
    RestartSegment,
    Resume,
    RunEnded,
    SegmentStarted,
)
from simulator.review.describe import describe
from simulator.runtime import MonotonicClock, ScenarioRun
from simulator.studio.editor import ScenarioEditor
from simulator.training.authoring import Authoring, Preview

# The countdown is redrawn this often; a tenth of a second is what it shows.
_COUNTDOWN_MS = 100
# Seconds left at which the countdown turns red, as on the console.
_URGENT_S = 3.0
# What the event list leaves out: the caption already says what started, and a cue's
# window closing is noise next to the cue itself.
_UNLISTED = frozenset({"run_started", "response_window_closed"})

_STYLE = DARK + """
QLabel#caption { background: #4a3500; color: #f5c542; font-size: 14pt; font-weight: bold;
                 padding: 6px 10px; }
QLabel#outcome { font-size: 18pt; font-weight: bold; }
QListWidget#events { font-family: monospace; font-size: 11pt; }
"""

HINT = "1-9 branch   Space pause / resume   R restart segment   Esc close"


class PreviewWindow(QWidget):
    """A scenario played from one segment in a window of its own, unrecorded.

    Open it with `open`, which raises before any window shows if the scenario cannot play.
    The window deletes itself once closed; ``closed`` comes first, when its player has
    stopped and let go of every decoder.
    """

    closed = Signal()

    def __init__(self, authoring: Authoring, editor: ScenarioEditor, segment_id: str,
                 variant_id: str, *, sound: bool = True, parent: QWidget | None = None
                 ) -> None:
        # A window of its own even with a parent: over the studio, and closed with it.
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setStyleSheet(_STYLE)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._authoring = authoring
        self._editor = editor
        self.segment_id = segment_id
        self.variant_id = variant_id
        self._sound = sound
        # One clock for every run this window plays, as the projector has one for a class.
        self._clock = MonotonicClock()
        self.preview: Preview | None = None
        self.player: DecodedPlayer | None = None
        self._loop: RunLoop | None = None
        self.state = LiveState()
        self._drawn_offer: int | None = None
        self._segment_ns: int | None = None

        self.caption = label("", "caption")
        self.surface = VideoSurface()
        self.surface.setMinimumSize(480, 270)
        self.events = QListWidget()
        self.events.setObjectName("events")
        # The keys are the window's: a focused list would take the digits to search by.
        self.events.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.events.setMinimumWidth(340)
        self.events.setWordWrap(True)
        self.events.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.events.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.countdown = label("", "countdown")
        self.status = label("", "status")
        self.status.setWordWrap(True)
        self.outcome = label("", "outcome")
        self.again = QPushButton("Play again from here")
        self.again.setProperty("compact", "true")
        self.again.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.again.clicked.connect(self.play_again)
        self.hint = label(HINT, "hint")
        self._branches = QGridLayout()
        self._tick = QTimer(self)
        self._tick.setInterval(_COUNTDOWN_MS)
        self._tick.timeout.connect(self._draw_countdown)

        side = QVBoxLayout()
        side.addWidget(label("Events, seconds into the segment", "heading"))
        side.addWidget(self.events, stretch=1)
        picture = QHBoxLayout()
        picture.addWidget(self.surface, stretch=1)
        picture.addLayout(side)
        ended = QHBoxLayout()
        ended.addWidget(self.outcome, stretch=1)
        ended.addWidget(self.again)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(picture, stretch=1)
        layout.addLayout(self._branches)
        layout.addWidget(self.countdown)
        layout.addLayout(ended)
        layout.addWidget(self.status)
        layout.addWidget(self.hint)
        self.resize(1100, 640)

    @classmethod
    def open(cls, authoring: Authoring, editor: ScenarioEditor, segment_id: str,
             variant_id: str, *, sound: bool = True, parent: QWidget | None = None
             ) -> PreviewWindow:
        """A window playing the scenario as it stands from ``segment_id``, shown.

        Raises:
            DocumentError: the scenario does not validate, or lint finds an error that
                would stop a run (every problem named); no window is left open.
            KeyError: no such segment or variant.
        """
        window = cls(authoring, editor, segment_id, variant_id, sound=sound, parent=parent)
        try:
            window.start()
        except BaseException:
            window.close()
            raise
        window.show()
        window.setFocus()
        return window

    # -- the run ---------------------------------------------------------------------------

    def start(self) -> None:
        """Play the scenario as it stands now from the window's segment, with a new player.

        Raises:
            DocumentError: the scenario does not validate, or lint finds an error that
                would stop a run (every problem named).
            KeyError: no such segment or variant.
        """
        self._release()
        audio = AudioOut() if self._sound else None
        player = DecodedPlayer(self.surface, self._clock, audio=audio, parent=self)
        try:
            preview = self._authoring.preview(self._editor, self.segment_id, self.variant_id,
                                              clock=self._clock, player=player)
        except BaseException:
            player.shutdown()
            player.deleteLater()
            raise
        self.preview, self.player = preview, player
        self._loop = RunLoop(preview.run, player, self._clock, name="the preview",
                             parent=self)
        self._loop.happened.connect(self._on_event)
        self._loop.faulted.connect(self._on_fault)
        self.state = LiveState()
        self._drawn_offer = self._segment_ns = None
        self.events.clear()
        self.status.setText("")
        self.caption.setText(self._caption(preview.run))
        self.setWindowTitle(f"{preview.run.scenario.title} — preview, not recorded")
        self._tick.start()
        self._loop.start()
        self._draw()

    def play_again(self) -> None:
        """Play from the same segment again, with any edits made since."""
        # The scenario may have been edited since into one that cannot play from here.
        try:
            self.start()
        except DocumentError as exc:
            self.status.setText(f"Cannot play the scenario as it stands: {exc}")
        except KeyError as exc:
            self.status.setText(f"The scenario no longer has {exc}; open the preview from "
                                "another segment")

    def send(self, command: Command) -> None:
        """Hand ``command`` to the run; the window changes when its events come back."""
        if self._loop is not None:
            self._loop.send(command)

    def choose(self, hotkey: str) -> None:
        """Take the branch on ``hotkey``, quoting the offer on screen."""
        offer = self.state.offer
        branch = offer.by_hotkey(hotkey) if offer is not None else None
        if offer is not None and branch is not None:
            self.send(ChooseBranch(branch_id=branch.id, offer_seq=offer.offer_seq))

    def _caption(self, run: ScenarioRun) -> str:
        segment = run.scenario.segment(self.segment_id)
        variant = run.scenario.variant(self.variant_id)
        return (f"Preview from {segment.title or segment.id} — variant "
                f"{variant.label or variant.id} — not recorded")

    def _release(self) -> None:
        """Stop the run on screen and let go of its player and decoders."""
        self._tick.stop()
        loop, player = self._loop, self.player
        self._loop = self.player = None
        self.preview = None
        if loop is not None:
            loop.stop()
            # Deleted by Qt's loop, on this thread: left to the window they would pile up
            # with every replay, and left to Python's cycle collector they could go on a
            # decoder's thread.
            loop.deleteLater()
        if player is not None:
            player.shutdown()
            player.deleteLater()

    # -- events in ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.state.apply(event, self._clock.now_ns())
        if isinstance(event, SegmentStarted):
            self._segment_ns = event.t_ns
        if event.type not in _UNLISTED:
            # Seconds from the segment's first frame are what the scenario's cue times and
            # out-points are written in, so the author compares like with like.
            since = self._segment_ns if self._segment_ns is not None else event.t_ns
            at = (event.t_ns - since) / 1e9
            words = describe(event, {})
            self.events.addItem(f"{at:5.2f} s  {event.type.replace('_', ' ')}"
                                + (f": {words}" if words else ""))
            self.events.scrollToBottom()
        if isinstance(event, RunEnded):
            self.outcome.setText(f"Outcome: {self._outcome(event)}")
        self._draw()

    def _outcome(self, event: RunEnded) -> str:
        run = self.preview.run if self.preview is not None else None
        if event.outcome_kind is None or run is None or event.segment_id is None:
            return event.outcome_kind or f"ended by {event.reason}"
        found = run.scenario.segment(event.segment_id).outcome
        return (f"{found.label} ({event.outcome_kind})" if found is not None and found.label
                else event.outcome_kind)

    def _on_fault(self, message: str) -> None:
        self.status.setText(message)
        self._draw()

    # -- drawing -----------------------------------------------------------------------------

    @property
    def over(self) -> bool:
        """Whether the run on screen has ended or stopped."""
        return self._loop is None or not self._loop.live

    def _draw(self) -> None:
        offer_seq = self.state.offer.offer_seq if self.state.offer is not None else None
        if offer_seq != self._drawn_offer:
            self._draw_branches()
            self._drawn_offer = offer_seq
        if self.state.problem and self._loop is not None and self._loop.fault is None:
            self.status.setText(self.state.problem)
        self.outcome.setVisible(self.state.ended)
        self.again.setVisible(self.over)
        # After the run these keys do nothing but Esc; the button says what comes next.
        self.hint.setVisible(not self.over)
        self._draw_countdown()

    def _draw_branches(self) -> None:
        # Rebuilt only when the offer changes, so a click never lands on a button that is
        # being replaced.
        while self._branches.count():
            item = self._branches.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        offer = self.state.offer
        if offer is None:
            return
        columns = 1 if len(offer.branches) <= 3 else 3
        for i, branch in enumerate(offer.branches):
            default = branch.id == offer.default_branch
            button = QPushButton(f"{branch.hotkey}  {branch.label}"
                                 + ("  (default)" if default else ""))
            button.setProperty("kind", branch.kind)
            button.setProperty("default", "true" if default else "false")
            button.setProperty("compact", "true")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, key=branch.hotkey: self.choose(key))
            self._branches.addWidget(button, i // columns, i % columns)

    def _draw_countdown(self) -> None:
        offer = self.state.offer
        if offer is None or self.state.ended:
            self.countdown.setText("PAUSED" if self.state.paused else "")
            return
        left = self.state.seconds_to_default(self._clock.now_ns())
        if left is None:
            self.countdown.setStyleSheet("color: #9aa5b1; font-size: 16pt;")
            self.countdown.setText(f"default '{offer.default_branch}' "
                                   f"{offer.window_ms / 1000:g} s after this segment")
            return
        colour = "#e74c3c" if left <= _URGENT_S else "#f5c542"
        self.countdown.setStyleSheet(f"color: {colour}; font-size: 20pt;")
        paused = "  (paused)" if self.state.paused else ""
        self.countdown.setText(f"default '{offer.default_branch}' in {left:4.1f} s{paused}")

    # -- keys and closing ----------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """The console's keys for a branch and a pause; R restarts the segment; Esc closes."""
        key, text = event.key(), event.text()
        if event.isAutoRepeat():
            # A held Space would pause and resume over and over.
            return
        if key == Qt.Key.Key_Escape:
            self.close()
        elif text in tuple("123456789"):
            self.choose(text)
        elif key == Qt.Key.Key_Space:
            self.send(Resume() if self.state.paused else Pause())
        elif key == Qt.Key.Key_R:
            self.send(RestartSegment())
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Stop the player and free its decoders before the window goes."""
        self._release()
        self.closed.emit()
        super().closeEvent(event)
