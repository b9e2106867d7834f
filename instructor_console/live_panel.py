"""Live control: the branches on offer as big keyed buttons, the countdown, pause and end.

Built for a dark training room and one hand: every action has a key, the keys act only
while the console has focus (the trainee's keys go to the projector window), and the
panel redraws only from events, never from what it sent.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from instructor_console.link import LocalLink
from instructor_console.live_state import LiveState
from simulator.agency import AgencyProfile, default_profile
from simulator.ports import Clock
from simulator.protocol import (
    ChooseBranch,
    EndRun,
    Event,
    Pause,
    RaiseFlag,
    RecordDecision,
    Resume,
    Retract,
)

# Force options on the top letter row in continuum order, verbal tactics on the home row
# (F is the flag), so the instructor's hand finds them without looking.
FORCE_KEYS = "QWERTYUIOP"
TACTIC_KEYS = "ASDGHJKL"


def decision_keys(profile: AgencyProfile) -> dict[str, str]:
    """Key letter -> action id, for the profile's force options and verbal tactics."""
    force = sorted(profile.force_options, key=lambda o: o.rank)
    keys = {key: option.id for key, option in zip(FORCE_KEYS, force, strict=False)}
    keys |= dict(zip(TACTIC_KEYS, profile.verbal_tactics, strict=False))
    return keys


DARK = """
QWidget { background: #111418; color: #e8e8e8; font-size: 20px; }
QPushButton { background: #232a33; border: 2px solid #3a4552; border-radius: 8px;
              padding: 14px; font-size: 24px; text-align: left; }
QPushButton[kind="escalate"] { border-color: #c0392b; }
QPushButton[kind="de_escalate"] { border-color: #27ae60; }
QPushButton[default="true"] { background: #2e3a48; }
QLabel#countdown { font-size: 40px; font-weight: bold; color: #f5c542; }
QLabel#segment { font-size: 26px; }
QLabel#status { color: #9aa5b1; }
"""

# Seconds left at which the countdown turns red: time to act, not to read.
URGENT_S = 3.0


class LivePanel(QWidget):
    """The live view of one run, driven through a link."""

    def __init__(self, link: LocalLink, clock: Clock, profile: AgencyProfile | None = None
                 ) -> None:
        super().__init__()
        self.keys = decision_keys(profile or default_profile())
        self._trainee = 0
        self.setStyleSheet(DARK)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._link = link
        self._clock = clock
        self.state = LiveState()
        self._drawn_offer: int | None = None
        self.segment = QLabel("waiting for the run to start")
        self.segment.setObjectName("segment")
        self.countdown = QLabel("")
        self.countdown.setObjectName("countdown")
        self.status = QLabel("")
        self.status.setObjectName("status")
        self._buttons = QGridLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(self.segment)
        layout.addLayout(self._buttons)
        layout.addWidget(self.countdown)
        layout.addWidget(self.status)
        layout.addStretch()
        self.logging = QLabel("")
        self.logging.setObjectName("status")
        layout.addWidget(self.logging)
        force = [k for k in FORCE_KEYS if k in self.keys]
        tactics = [k for k in TACTIC_KEYS if k in self.keys]
        self.hint = QLabel(f"1-9 branch   Space pause/resume   F flag   {force[0]}-{force[-1]} "
                           f"force   {tactics[0]}-{tactics[-1]} tactics   Backspace retract   "
                           "Tab trainee   Ctrl+E end")
        self.hint.setObjectName("status")
        layout.addWidget(self.hint)
        self._tick = QTimer(self)
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._draw_countdown)
        self._tick.start()
        link.received.connect(self.on_event)

    # -- events in --------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Fold an event into the state and redraw."""
        self.state.apply(event, self._clock.now_ns())
        self._draw()

    def _draw(self) -> None:
        s = self.state
        path = " > ".join(s.path[-4:])
        self.segment.setText(f"{s.segment_id or '-'}    ({path})" if path else "-")
        offer_seq = s.offer.offer_seq if s.offer is not None else None
        if offer_seq != self._drawn_offer:
            self._draw_branches()
            self._drawn_offer = offer_seq
        status = "PAUSED" if s.paused else ""
        if s.ended:
            status = f"run ended: {s.outcome}"
        elif s.cues:
            status = f"{status}  last cue: {s.cues[-1]}".strip()
        self.status.setText(status)
        trainee = self.trainee_id or "-"
        last = s.entries[-1][1] if s.entries else "-"
        self.logging.setText(f"logging for: {trainee}    last entry: {last}")
        self._draw_countdown()

    @property
    def trainee_id(self) -> str | None:
        """The trainee that decision keys are logged for (Tab moves to the next)."""
        ids = self.state.trainee_ids
        return ids[self._trainee % len(ids)] if ids else None

    def _draw_branches(self) -> None:
        # Buttons are rebuilt only when the offer changes, so a key press never lands on a
        # button that is being replaced.
        s = self.state
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        if s.offer is not None:
            for i, branch in enumerate(s.offer.branches):
                marker = "  (default)" if branch.id == s.offer.default_branch else ""
                button = QPushButton(f"{branch.hotkey}  {branch.label}  [{branch.kind}]{marker}")
                button.setProperty("kind", branch.kind)
                button.setProperty("default", "true" if marker else "false")
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                button.clicked.connect(lambda _=False, key=branch.hotkey: self.choose(key))
                self._buttons.addWidget(button, i // 3, i % 3)

    def _draw_countdown(self) -> None:
        left = self.state.seconds_to_default(self._clock.now_ns())
        if left is None or self.state.offer is None:
            self.countdown.setText("")
            return
        colour = "#e74c3c" if left <= URGENT_S else "#f5c542"
        self.countdown.setStyleSheet(f"color: {colour};")
        frozen = "  (paused)" if self.state.paused else ""
        self.countdown.setText(f"default '{self.state.offer.default_branch}' in {left:4.1f} s"
                               f"{frozen}")

    # -- commands out -------------------------------------------------------------------------

    def choose(self, hotkey: str) -> None:
        """Take the branch on ``hotkey``, quoting the offer the instructor is looking at."""
        offer = self.state.offer
        branch = offer.by_hotkey(hotkey) if offer is not None else None
        if offer is not None and branch is not None:
            self._link.send(ChooseBranch(branch_id=branch.id, offer_seq=offer.offer_seq))

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802 - Qt's names
        """Tab picks the next trainee here; it does not move the focus away."""
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """One key per action; nothing here reads the trainee's keys."""
        key, text = event.key(), event.text()
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if text in tuple("123456789") and not ctrl:
            self.choose(text)
        elif key == Qt.Key.Key_Space:
            self._link.send(Resume() if self.state.paused else Pause())
        elif key == Qt.Key.Key_F and not ctrl:
            self._link.send(RaiseFlag(trainee_id=self.trainee_id))
        elif text.upper() in self.keys and not ctrl and self.trainee_id is not None:
            self._link.send(RecordDecision(trainee_id=self.trainee_id,
                                           action=self.keys[text.upper()]))
        elif key == Qt.Key.Key_Backspace and self.state.entries:
            self._link.send(Retract(entry_seq=self.state.entries[-1][0]))
        elif key == Qt.Key.Key_Tab:
            self._trainee += 1
            self._draw()
        elif key == Qt.Key.Key_E and ctrl:
            self._link.send(EndRun(note="ended from the console"))
        else:
            super().keyPressEvent(event)
