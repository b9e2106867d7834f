"""Live control: the branches on offer as big keyed buttons, the countdown, the map, the cues.

Built for a dark training room and one hand: every action has a key, the keys act only
while the console has focus (the trainee's keys go to the projector window), and the
panel redraws only from events, never from what it sent.

While the trainee is recorded a red dot and the word REC say so (the word for whoever cannot
tell red). The phrases the speech recogniser heard are listed, newest first, with its
confidence; C confirms the newest not yet confirmed, which makes it the trainee's decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from instructor_console.link import LocalLink
from instructor_console.live_state import HeardCommand, LiveState
from instructor_console.mini_map import MiniMap
from instructor_console.remote_link import RemoteLink
from instructor_console.theme import DARK, label
from simulator.agency import AgencyProfile, default_profile
from simulator.names import inert
from simulator.ports import Clock
from simulator.protocol import (
    ChooseBranch,
    Command,
    ConfirmHeard,
    EndRun,
    Event,
    Jump,
    Pause,
    RaiseFlag,
    RecordDecision,
    RestartSegment,
    Resume,
    Retract,
)
from simulator.protocol.commands import NOTE_MAX_CHARS
from simulator.scenario import ScenarioOutline
from simulator.transport import Snapshot

# Force options on the top letter row in continuum order, verbal tactics on the home row
# (F is the flag), so the instructor's hand finds them without looking.
FORCE_KEYS = "QWERTYUIOP"
TACTIC_KEYS = "ASDGHJKL"

# Seconds left at which the countdown turns red: time to act, not to read.
URGENT_S = 3.0
WAITING = "#9aa5b1"
# Ending a run cannot be undone: the second Ctrl+E must come within this many ms.
END_CONFIRM_MS = 2000
CUES_SHOWN = 6
HEARD_LISTED = 4
# The recording sign: a red dot and a word, on a dark ground.
REC_STYLE = "color: #ff4d4d; font-weight: bold; font-size: 16pt;"


def decision_keys(force_options: Sequence[str], verbal_tactics: Sequence[str]
                  ) -> dict[str, str]:
    """Key letter -> action id: force options (in continuum order), then verbal tactics.

    A profile with more options than keys leaves the rest to be logged on the projector
    PC's devices; the hint shows which keys there are.
    """
    keys = dict(zip(FORCE_KEYS, force_options, strict=False))
    keys |= dict(zip(TACTIC_KEYS, verbal_tactics, strict=False))
    return keys


def profile_keys(profile: AgencyProfile) -> dict[str, str]:
    """`decision_keys` for an agency profile."""
    ranked = sorted(profile.force_options, key=lambda option: option.rank)
    return decision_keys([option.id for option in ranked], list(profile.verbal_tactics))


def _key_range(row: str, keys: Mapping[str, str], what: str) -> str:
    used = [key for key in row if key in keys]
    return f"{used[0]}-{used[-1]} {what}   " if used else ""


class LivePanel(QWidget):
    """The live view of one run, driven through a link (in-process or remote)."""

    def __init__(self, link: LocalLink | RemoteLink, clock: Clock,
                 profile: AgencyProfile | None = None,
                 outline: ScenarioOutline | None = None) -> None:
        super().__init__()
        profile = profile or default_profile()
        self.keys = profile_keys(profile)
        self._tactics = profile.verbal_tactics
        self.names: dict[str, str] = {}
        self.fault: str | None = None
        self._trainee = 0
        self.setStyleSheet(DARK)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._link = link
        self._clock = clock
        self.state = LiveState()
        self.outline = outline
        self._drawn_offer: int | None = None
        self._end_armed = QTimer(self)
        self._end_armed.setSingleShot(True)
        self._end_armed.setInterval(END_CONFIRM_MS)
        self._end_armed.timeout.connect(self._draw)

        self.segment = label("waiting for the run to start", "segment")
        self.rec = label("\u25cf REC", "rec")
        self.rec.setStyleSheet(REC_STYLE)
        self.rec.setToolTip("the trainee is being recorded (room camera and microphone)")
        self.rec.hide()
        self.heard = label("", "cues")
        self.heard.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.heard.setWordWrap(True)
        self.countdown = label("", "countdown")
        self.status = label("", "status")
        self.status.setWordWrap(True)
        self.preview = label("no picture yet", "preview")
        self.preview.setFixedSize(384, 216)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.map = MiniMap()
        self.map.set_outline(outline)
        self.cues = label("", "cues")
        self.cues.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.cues.setWordWrap(True)
        self.logging = label("", "logging")
        self.flag_note = QLineEdit()
        self.flag_note.setPlaceholderText("note for the flag (optional; Shift+F to type)")
        self.flag_note.setMaxLength(NOTE_MAX_CHARS)
        self.flag_note.returnPressed.connect(self.raise_flag)
        self.flag_note.installEventFilter(self)
        flag_button = QPushButton("Flag  (F)")
        flag_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        flag_button.clicked.connect(self.raise_flag)
        flag_row = QHBoxLayout()
        flag_row.addWidget(self.flag_note, stretch=1)
        flag_row.addWidget(flag_button)
        self.jump_list = QListWidget()
        self.jump_list.hide()
        self.jump_list.itemActivated.connect(self._jump_to)
        self.jump_list.installEventFilter(self)
        self._buttons = QGridLayout()

        # What to act on at the top (the picture, the branches, the clock); what to glance at
        # below (where the run has been, what has fired).
        controls = QVBoxLayout()
        controls.addLayout(self._buttons)
        controls.addWidget(self.countdown)
        controls.addLayout(flag_row)
        controls.addWidget(self.jump_list)
        controls.addWidget(self.logging)
        controls.addStretch()
        top = QHBoxLayout()
        top.addWidget(self.preview, alignment=Qt.AlignmentFlag.AlignTop)
        top.addLayout(controls, stretch=1)
        cues = QVBoxLayout()
        cues.addWidget(label("Cues", "heading"))
        cues.addWidget(self.cues, stretch=1)
        self.heard_heading = label("Heard (C confirms the newest)", "heading")
        cues.addWidget(self.heard_heading)
        cues.addWidget(self.heard)
        bottom = QHBoxLayout()
        bottom.addWidget(self.map, stretch=3)
        bottom.addLayout(cues, stretch=2)
        title = QHBoxLayout()
        title.addWidget(self.segment, stretch=1)
        title.addWidget(self.rec, alignment=Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.addLayout(title)
        layout.addWidget(self.status)
        layout.addLayout(top)
        layout.addLayout(bottom, stretch=1)
        self.hint = label("", "hint")
        self._draw_hint()
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self._tick = QTimer(self)
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._draw_countdown)
        self._tick.start()
        link.received.connect(self.on_event)
        if isinstance(link, RemoteLink):
            link.restored.connect(self.restore)
            link.preview.connect(self.show_preview)
            link.status.connect(self._link_status)
            link.faulted.connect(self.show_fault)
        self._link_note = ""
        self._draw()

    # -- events in --------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Fold an event into the state and redraw."""
        self.state.apply(event, self._clock.now_ns())
        self._draw()

    def restore(self, snapshot: Snapshot) -> None:
        """Start over from a snapshot (a remote console that paired or came back).

        The keys follow the projector PC's agency profile, so a key means the same action
        on every console.
        """
        self.state = LiveState.restored(snapshot.events, snapshot.default_in_ms,
                                        self._clock.now_ns())
        self.fault = None
        # What belonged to the last run (whose turn it was, a first Ctrl+E) does not carry over.
        self._trainee = 0
        self._end_armed.stop()
        self.outline = snapshot.outline
        self.names = dict(snapshot.names)
        self.keys = decision_keys(snapshot.force_options, snapshot.verbal_tactics)
        self.map.set_outline(snapshot.outline)
        self._drawn_offer = -1
        self._draw_hint()
        self._draw()
        if snapshot.fault is not None:
            self.show_fault(snapshot.fault)

    def show_fault(self, detail: str) -> None:
        """The run stopped on a fault: say so, with what happens to the record."""
        self.fault = detail
        self.state.problem = (f"THE RUN STOPPED: {detail}. Everything before it is stored; "
                              "it can be resumed from the projector PC.")
        self._draw()

    def _draw_hint(self) -> None:
        self.hint.setText(
            "1-9 branch   Space pause   F flag (Shift+F with a note)   "
            + _key_range(FORCE_KEYS, self.keys, "force")
            + _key_range(TACTIC_KEYS, self.keys, "tactics")
            + "C confirm heard   Backspace retract   Tab trainee   Ctrl+R restart   "
            "Ctrl+J jump   "
            "Ctrl+E Ctrl+E end")

    def show_preview(self, image: QImage) -> None:
        """Show the latest small copy of the projector picture."""
        self.preview.setPixmap(QPixmap.fromImage(image).scaled(
            self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))

    def _link_status(self, text: str) -> None:
        self._link_note = "" if text == "connected" else text
        self._draw()

    def _draw(self) -> None:
        s = self.state
        title = s.segment_id or "-"
        if self.outline is not None and s.segment_id:
            found = self.outline.segment(s.segment_id)
            title = found.title if found else title
        self.segment.setText(f"{title}" + ("    PAUSED" if s.paused else ""))
        offer_seq = s.offer.offer_seq if s.offer is not None else None
        if offer_seq != self._drawn_offer:
            self._draw_branches()
            self._drawn_offer = offer_seq
        self.map.show_path(s.path)
        notes = [self._link_note] if self._link_note else []
        if s.ended:
            notes.append(f"run ended: {s.outcome}")
        if s.problem:
            notes.append(s.problem)
        if s.shots:
            notes.append(shots_note(s.shots, s.shots_after_threat_ended))
        if self._end_armed.isActive():
            notes.append("press Ctrl+E again to end the run")
        self.status.setText("    ".join(notes))
        # After the run these keys do nothing; the console names the keys that act then.
        self.hint.setVisible(not self.over)
        self.cues.setText("\n".join(self._cue_line(c.cue_id, c.segment_id, c.scored, c.at_s)
                                    for c in reversed(s.cues[-CUES_SHOWN:])))
        self.rec.setVisible(s.recording)
        self.heard_heading.setVisible(bool(s.heard))
        self.heard.setVisible(bool(s.heard))
        self.heard.setText("\n".join(self._heard_line(h)
                                     for h in reversed(s.heard[-HEARD_LISTED:])))
        trainee = self.names.get(self.trainee_id, self.trainee_id) if self.trainee_id else "-"
        last = s.entries[-1][1] if s.entries else "-"
        self.logging.setText(f"logging for: {trainee}    last entry: {last}    "
                             f"variant: {s.variant_id or '-'}")
        self._draw_countdown()

    def _cue_line(self, cue_id: str, segment_id: str, scored: bool, at_s: float) -> str:
        found = self.outline.segment(segment_id) if self.outline else None
        description = found.cues.get(cue_id, "") if found else ""
        scored_mark = "  (scored)" if scored else ""
        return f"{at_s:6.1f} s  {cue_id}{scored_mark}  {description}"

    def _heard_line(self, heard: HeardCommand) -> str:
        who = self.names.get(heard.trainee_id, heard.trainee_id) if heard.trainee_id else ""
        said = "confirmed" if heard.confirmed_by is not None else "not confirmed"
        tactic = inert(self._tactics.get(heard.tactic, heard.tactic)).lower()
        # Two lines: the phrase, then what it would be and whether it is; a narrow column
        # would otherwise break the line anywhere.
        return (f"{heard.at_s:5.1f} s  {heard.confidence:.0%}  \u201c{inert(heard.phrase)}\u201d"
                f"\n         {tactic}, {said}" + (f"  ({inert(who)})" if who else ""))

    def confirm_heard(self) -> None:
        """Make the newest phrase heard and not yet confirmed the trainee's decision."""
        waiting = [h for h in self.state.heard if h.confirmed_by is None]
        if waiting:
            newest = waiting[-1]
            # A phrase the recogniser could not put to one officer goes to the one logged for.
            self.send(ConfirmHeard(heard_seq=newest.seq, trainee_id=None if newest.trainee_id
                                   else self.trainee_id))

    @property
    def over(self) -> bool:
        """Whether the run is over for the console: ended, or stopped by a fault."""
        return self.state.ended or self.fault is not None

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
                # One column reads fastest; two once there are more than four branches.
                columns = 1 if len(s.offer.branches) <= 4 else 2
                self._buttons.addWidget(button, i // columns, i % columns)

    def _draw_countdown(self) -> None:
        offer = self.state.offer
        left = self.state.seconds_to_default(self._clock.now_ns())
        if offer is None or self.state.ended:
            self.countdown.setText("")
            return
        if left is None:
            # Offered while the segment still plays: say what will happen, calmly.
            self.countdown.setStyleSheet(f"color: {WAITING}; font-size: 18pt;")
            self.countdown.setText(f"default '{offer.default_branch}' "
                                   f"{offer.window_ms / 1000:.0f} s after this segment")
            return
        colour = "#e74c3c" if left <= URGENT_S else "#f5c542"
        self.countdown.setStyleSheet(f"color: {colour};")
        frozen = "  (paused)" if self.state.paused else ""
        self.countdown.setText(f"default '{offer.default_branch}' in {left:4.1f} s"
                               f"{frozen}")

    # -- commands out -------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Hand a command to the run; the panel changes only when its events come back."""
        self._link.send(command)

    def choose(self, hotkey: str) -> None:
        """Take the branch on ``hotkey``, quoting the offer the instructor is looking at."""
        offer = self.state.offer
        branch = offer.by_hotkey(hotkey) if offer is not None else None
        if offer is not None and branch is not None:
            self.send(ChooseBranch(branch_id=branch.id, offer_seq=offer.offer_seq))

    def raise_flag(self) -> None:
        """Flag this moment for the debrief, with the note typed (if any), and clear it."""
        self.send(RaiseFlag(trainee_id=self.trainee_id, note=self.flag_note.text().strip()))
        self.flag_note.clear()
        self.setFocus()

    def open_jump_list(self) -> None:
        """List every segment; arrows and Enter jump to one, Esc closes the list."""
        if self.outline is None:
            return
        self.jump_list.clear()
        for segment in self.outline.segments:
            item = QListWidgetItem(f"{segment.title}  ({segment.id})")
            item.setData(Qt.ItemDataRole.UserRole, segment.id)
            self.jump_list.addItem(item)
        self.jump_list.setCurrentRow(0)
        self.jump_list.show()
        self.jump_list.setFocus()

    def _jump_to(self, item: QListWidgetItem) -> None:
        self.jump_list.hide()
        self.setFocus()
        self.send(Jump(segment_id=item.data(Qt.ItemDataRole.UserRole),
                       note="jumped from the console"))

    def eventFilter(self, watched: object, event: object) -> bool:  # noqa: N802 - Qt's name
        """Esc in the jump list or the flag note gives the keys back to the panel."""
        if (watched in (self.jump_list, self.flag_note) and isinstance(event, QKeyEvent)
                and event.type() == QKeyEvent.Type.KeyPress
                and event.key() == Qt.Key.Key_Escape):
            self.jump_list.hide()
            self.flag_note.clear()
            self.setFocus()
            return True
        return False

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802 - Qt's names
        """Tab picks the next trainee here; it does not move the focus away."""
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """One key per action; nothing here reads the trainee's keys."""
        key, text = event.key(), event.text()
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if event.isAutoRepeat():
            # A held key is one press: a repeat would pause and resume, retract entry after
            # entry, log duplicates, or end the run without its confirming second press.
            return
        if ctrl:
            self._control_key(key)
        elif text in tuple("123456789"):
            self.choose(text)
        elif key == Qt.Key.Key_Space:
            self.send(Resume() if self.state.paused else Pause())
        elif key == Qt.Key.Key_F and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.flag_note.setFocus()
        elif key == Qt.Key.Key_F:
            self.raise_flag()
        elif key == Qt.Key.Key_C:
            self.confirm_heard()
        elif text.upper() in self.keys and self.trainee_id is not None:
            self.send(RecordDecision(trainee_id=self.trainee_id, action=self.keys[text.upper()]))
        elif key == Qt.Key.Key_Backspace and self.state.entries:
            self.send(Retract(entry_seq=self.state.entries[-1][0]))
        elif key == Qt.Key.Key_Tab:
            self._trainee += 1
            self._draw()
        else:
            super().keyPressEvent(event)

    def _control_key(self, key: int) -> None:
        if key == Qt.Key.Key_R:
            self.send(RestartSegment())
        elif key == Qt.Key.Key_J:
            self.open_jump_list()
        elif key == Qt.Key.Key_E and self._end_armed.isActive():
            self._end_armed.stop()
            self.send(EndRun(note="ended from the console"))
        elif key == Qt.Key.Key_E:
            self._end_armed.start()
            self._draw()


SHOT_PLACEMENTS = (("threat", "on the threat"), ("non_threat", "ON A PERSON WHO WAS NO THREAT"),
                   ("miss", "missed"), ("unplaced", "not placed"))


def shots_note(shots: dict[str, int], after_threat_ended: int) -> str:
    """The shots so far for the status line, a hit on someone who was no threat loudest."""
    parts = [f"{shots[key]} {words}" for key, words in SHOT_PLACEMENTS if shots.get(key)]
    if after_threat_ended:
        parts.append(f"{after_threat_ended} AFTER THE THREAT ENDED")
    return f"shots: {sum(shots.values())} ({', '.join(parts)})"

