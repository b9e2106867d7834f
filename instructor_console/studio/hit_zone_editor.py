"""The studio's hit-zone editor: people's hit zones drawn on the frame the timeline shows.

The instructor picks a person and one of the agency's zones, and drags on the picture to
box them at this frame (or presses B for a box in the middle of the picture, to fit with
the arrow keys); dragging a box moves it, dragging a corner resizes it, and each drag let
go is one edit (a key at this frame), undone as one, as is each run of nudges by the arrow
keys (a key held down repeats many times a second). Between keys the box moves
in a straight line, as the projector scores shots: a box at a key of this very frame is
drawn solid, one in between dashed. Like the other pages it is drawn from the editor's
plain data alone and never changes the tree itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QKeyEvent, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QApplication, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from instructor_console.theme import DropDown, label
from simulator.playback.surface import VideoSurface
from simulator.scenario.hit_zones import Box
from simulator.studio import changes
from simulator.studio import hit_zones as zones_edits
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import Change, EditError

# One colour per person, in the order of the script's people.
PERSON_COLOURS = ("#4fc3f7", "#f06292", "#aed581", "#ffb74d", "#ba68c8", "#4db6ac",
                  "#fff176", "#e57373")
# How near (px) the pointer must be to a corner to resize rather than move.
HANDLE_PX = 9.0
# A press that moves less than this (px) is a click: it selects, it does not edit.
CLICK_PX = 3.0
# Alt+arrow moves (with Shift: resizes) the selected box by this share of the picture.
NUDGE = 0.005
# Nudges with no other between them for this long (ms) end as one edit, as does letting
# go of the arrow key: one Undo takes back the whole run.
NUDGE_IDLE_MS = 400
LABEL_PX = 13
UNKNOWN_PERSON = "#e74c3c"
DRAGGED = "#ffffff"
HINT = ("Choose the person and the zone, then drag on the picture to box them at this frame "
        "(or press B for a box in the middle, to fit with Alt+arrows). "
        "Drag a box to move it, a corner to resize it: each is a key at this frame. "
        "Del deletes the key here, H hides the zone from here; Alt+arrows nudge the box, "
        "Alt+Shift+arrows resize it. The timeline's keys (J K L, arrows) go on working.")
NOT_HERE = "Go to a frame of the selected segment (between its in- and out-point) to draw " \
           "its hit zones."


@dataclass(frozen=True)
class ShownBox:
    """A box drawn on the frame, as the pointer and the tests find it.

    ``zone`` is the zone's index (None: a new one being drawn); ``rect`` is where it is in
    the widget; ``solid`` when a key is at this frame (dashed in between); ``chosen`` when
    it is the selected zone's.
    """

    zone: int | None
    name: str
    rect: QRectF
    colour: str
    solid: bool
    chosen: bool


@dataclass
class _Drag:
    """What the pointer picked up: a new box, a box to move, or a corner to resize from."""

    kind: str  # "draw", "move" or "resize"
    zone: int | None
    start: tuple[float, float]
    box: Box
    # The corner that stays put while resizing (fractions of the picture).
    anchor: tuple[float, float] = (0.0, 0.0)
    moved: bool = False


@dataclass
class _Nudged:
    """A run of nudges to one zone's box not yet made an edit: where the box is so far.

    ``checked`` is the scenario as it was checked when they began: changed since (an undo,
    a redo), the zone they were for may be another one now, and they are dropped.
    """

    segment: int
    zone: int
    at: float
    box: Box
    checked: object


class _Canvas(VideoSurface):
    """The picture, with the zones drawn over it; the pointer and keys go to the editor."""

    def __init__(self, owner: HitZoneEditor) -> None:
        super().__init__()
        self._owner = owner
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 180)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.overlays.append(owner.paint_zones)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Pick up a corner, a box, or start drawing a new one."""
        if event.button() == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self._owner.press(event.position())
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Follow the pointer with what was picked up."""
        self._owner.drag(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Put it down: one edit."""
        if event.button() == Qt.MouseButton.LeftButton:
            self._owner.release(event.position())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """The editor's keys; any other goes to the timeline, to move through the clip."""
        if not self._owner.key(event):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """An arrow key let go ends a run of nudges."""
        self._owner.key_released(event)
        super().keyReleaseEvent(event)


class HitZoneEditor(QWidget):
    """People's hit zones on one segment, drawn and edited on the frame on screen.

    The window gives it the segment (`show_segment`) and each frame the timeline shows
    (`show_frame`), and redraws it after every edit, undo and redo. It says what it could
    not do in `said`, and the times of the selected zone's keys (seconds from the in-point)
    in `keys_shown`, for the timeline to mark. Keys it does not use go to ``keys_to``.
    """

    said = Signal(str)
    keys_shown = Signal(list)

    def __init__(self, editor: ScenarioEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.keys_to: QWidget | None = None
        self._segment: int | None = None
        self._at: float | None = None
        self._half_frame = zones_edits.SAME_TIME_S
        self._drag: _Drag | None = None
        self._nudged: _Nudged | None = None
        self._nudge_idle = QTimer(self)
        self._nudge_idle.setSingleShot(True)
        self._nudge_idle.setInterval(NUDGE_IDLE_MS)
        self._nudge_idle.timeout.connect(self.end_nudges)
        self.person = DropDown(10)
        self.person.setAccessibleName("Person whose zone is drawn")
        self.person.setToolTip("Whose hit zone a box drawn on the picture is")
        self.zone = DropDown(8)
        self.zone.setAccessibleName("Hit zone drawn")
        self.zone.setToolTip("Which of the agency's hit zones a box drawn on the picture is")
        for chooser in (self.person, self.zone):
            chooser.activated.connect(lambda _i: self._selection_changed())
        self.hide_button = QPushButton("Hide from here (H)")
        self.hide_button.setToolTip("The person is out of the picture (or this part of them "
                                    "hidden) from this frame until a later key")
        self.hide_button.clicked.connect(self.hide_from_here)
        self.delete_key_button = QPushButton("Delete key (Del)")
        self.delete_key_button.setToolTip("Delete the selected zone's key at this frame")
        self.delete_key_button.clicked.connect(self.delete_key_here)
        self.delete_zone_button = QPushButton("Delete zone")
        self.delete_zone_button.setToolTip("Delete the selected zone on this segment, with "
                                           "all its keys")
        self.delete_zone_button.clicked.connect(self.delete_zone)
        self.canvas = _Canvas(self)
        self.canvas.setAccessibleName("Frame with hit zones")
        self.canvas.setAccessibleDescription(HINT)
        self.canvas.setToolTip(HINT)
        self.readout = label(NOT_HERE, "status")
        self.readout.setWordWrap(True)
        self.readout.setAccessibleName("Hit zones here")
        bar = QHBoxLayout()
        bar.addWidget(label("Person", "hint"))
        bar.addWidget(self.person)
        bar.addWidget(label("Zone", "hint"))
        bar.addWidget(self.zone)
        bar.addWidget(self.readout, 1)
        # The actions have a row of their own: beside the choosers they would widen the
        # studio's window.
        actions = QHBoxLayout()
        for button in (self.hide_button, self.delete_key_button, self.delete_zone_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(actions)
        self.refresh()

    # -- what the window gives -----------------------------------------------------------

    def show_segment(self, index: int | None) -> None:
        """Edit segment ``index``'s zones (None: no segment selected)."""
        self.end_nudges()
        self._segment = index
        self._drag = None
        self.refresh()

    def show_frame(self, image: QImage | None, at_s: float | None, frame_s: float) -> None:
        """The picture on screen, ``at_s`` seconds from the in-point (None: not in the segment).

        ``frame_s`` is how long a frame lasts: a key within half of it is at this frame.
        A drag under way when the frame changes is dropped: let go, it would put its key on
        a frame the instructor did not draw it on.
        """
        if at_s != self._at:
            # Nudges so far are a key at the frame they were made on.
            self.end_nudges()
            if self._drag is not None:
                self._drag = None
                self.said.emit("The frame changed during the drag: nothing was changed; "
                               "drag again on this frame.")
        self._at = at_s
        self._half_frame = max(frame_s / 2, zones_edits.SAME_TIME_S)
        if image is None:
            self.canvas.clear()
        else:
            self.canvas.show_frame(image)
        self._update_readout()

    def refresh(self) -> None:
        """Draw again from the scenario as it stands (after an edit, an undo, a redo).

        Nudges not yet made an edit are dropped if the scenario changed under them.
        """
        if self._nudged is not None and self._nudged.checked is not self.editor.checked:
            self._nudged = None
            self._nudge_idle.stop()
        data = self.editor.checked.data
        people = [str(p.get("id")) for p in _people(data)]
        _fill(self.person, [(p, p) for p in people])
        _fill(self.zone, [(name, zone) for zone, name in self.editor.profile.hit_zones.items()])
        self._update_readout()
        self.canvas.update()

    def select_field(self, field: str) -> float | None:
        """Select the zone a problem's ``field`` names; the time of the key it names, if any.

        ``field`` is as lint names it: ``segments[2].hit_zones[0].keys[1].box``.
        """
        if self._segment is None or ".hit_zones[" not in field:
            return None
        rest = field.split(".hit_zones[", 1)[1]
        zone = int(rest.split("]", 1)[0])
        found = self._zones()
        if zone >= len(found):
            return None
        self._choose(found[zone])
        if ".keys[" in rest:
            key = int(rest.split(".keys[", 1)[1].split("]", 1)[0])
            times = zones_edits.key_times(found[zone])
            return times[key] if key < len(times) else None
        return None

    # -- the edits ---------------------------------------------------------------------------

    def selected(self) -> int | None:
        """The index of the zone the person and zone choosers name, if the segment has it."""
        person, zone = self.person.currentData(), self.zone.currentData()
        return next((i for i, z in enumerate(self._zones())
                     if z.get("person") == person and z.get("zone") == zone), None)

    def hide_from_here(self) -> None:
        """The selected zone out of the picture from this frame."""
        if (zone := self._editable()) is not None:
            self._apply(lambda: zones_edits.hide_from(
                self.editor.checked.data, self._segment_index(), zone, self._at_key(zone)))

    def delete_key_here(self) -> None:
        """Delete the selected zone's key at this frame."""
        if (zone := self._editable()) is None:
            return
        key = self._key_here(zone)
        if key is None:
            self.said.emit("The selected zone has no key at this frame; the box here is "
                           "between keys.")
            return
        self._apply(lambda: zones_edits.remove_key(self.editor.checked.data,
                                                   self._segment_index(), zone, key))

    def key_here(self) -> None:
        """A key at this frame for the chosen person and zone, without the mouse.

        A zone the segment does not have yet is added with a box in the middle of the
        picture; one it has gets a key here with its box as it is here (or in the middle,
        if it is hidden here). Alt+arrows then move it, Alt+Shift+arrows size it.
        """
        if self._segment is None or self._at is None:
            self.said.emit(NOT_HERE)
            return
        if self.person.currentData() is None:
            self.said.emit("Add the script's people (People and variants) to box their zones.")
            return
        zone = self.selected()
        box = self._box(zone) if zone is not None else None
        self._put(zone, box if box is not None else zones_edits.centred_box())

    def end_nudges(self) -> None:
        """Make the nudges so far one edit: a key at the frame they were made on."""
        nudged, self._nudged = self._nudged, None
        self._nudge_idle.stop()
        if nudged is None or nudged.checked is not self.editor.checked:
            return
        self._apply(lambda: zones_edits.set_key(self.editor.checked.data, nudged.segment,
                                                nudged.zone, nudged.at, nudged.box))

    def delete_zone(self) -> None:
        """Delete the selected zone, all its keys."""
        if (zone := self.selected()) is not None and self._segment is not None:
            self._apply(lambda: zones_edits.remove_zone(self.editor.checked.data,
                                                        self._segment_index(), zone))

    # -- the pointer -------------------------------------------------------------------------

    def press(self, point: QPointF) -> None:
        """Pick up a corner or a box under ``point``, or start drawing a box."""
        self.end_nudges()
        if self._segment is None or self._at is None:
            self.said.emit(NOT_HERE)
            return
        where = self._fraction(point)
        picked = self._picked(point)
        if picked is not None:
            zone, corner = picked
            box = self._box(zone)
            assert box is not None
            self._choose(self._zones()[zone])
            x, y, w, h = box
            if corner is None:
                self._drag = _Drag("move", zone, where, box)
            else:
                # The opposite corner stays where it is.
                anchor = (x + w if corner[0] == 0 else x, y + h if corner[1] == 0 else y)
                self._drag = _Drag("resize", zone, where, box, anchor)
        elif self.person.currentData() is None:
            self.said.emit("Add the script's people (People and variants) to draw their zones.")
            return
        else:
            self._drag = _Drag("draw", self.selected(), where, (*where, 0.0, 0.0))
        self.canvas.update()

    def drag(self, point: QPointF) -> None:
        """Move, resize or draw the box under way to ``point``."""
        drag = self._drag
        if drag is None:
            return
        rect = self.canvas.picture_rect()
        start = QPointF(rect.x() + drag.start[0] * rect.width(),
                        rect.y() + drag.start[1] * rect.height())
        if (point - start).manhattanLength() >= CLICK_PX:
            drag.moved = True
        if not drag.moved:
            return
        x, y = self._fraction(point)
        if drag.kind == "move":
            bx, by, w, h = drag.box
            drag.box = (bx + x - drag.start[0], by + y - drag.start[1], w, h)
            drag.start = (x, y)
        else:
            origin = drag.anchor if drag.kind == "resize" else drag.start
            drag.box = (min(origin[0], x), min(origin[1], y), abs(x - origin[0]),
                        abs(y - origin[1]))
        self.canvas.update()

    def release(self, point: QPointF) -> None:
        """Put the box down: one edit at this frame (a click only selects)."""
        self.drag(point)
        drag, self._drag = self._drag, None
        self.canvas.update()
        if drag is None or not drag.moved:
            return
        box = _kept_inside(drag.box) if drag.kind == "move" else zones_edits.clamp_box(drag.box)
        if box is None:
            self.said.emit("That box is too small or off the picture; drag a larger one on it.")
            return
        self._put(drag.zone, box)

    def key(self, event: QKeyEvent) -> bool:
        """Act on a key pressed over the picture; False if it is not the editor's."""
        key = Qt.Key(event.key())
        modifiers = event.modifiers()
        alt = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        shifted = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        arrows = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
                  Qt.Key.Key_Down: (0, 1)}
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not modifiers:
            self.delete_key_here()
        elif key == Qt.Key.Key_H and not modifiers:
            self.hide_from_here()
        elif key == Qt.Key.Key_B and not modifiers:
            self.key_here()
        elif key == Qt.Key.Key_Escape and (self._drag is not None or self._nudged is not None):
            # Esc drops a drag or nudges under way: nothing is changed.
            self._drag = None
            self._nudged = None
            self._nudge_idle.stop()
            self.canvas.update()
        elif alt and key in arrows:
            self._nudge(*arrows[key], resize=shifted)
        elif self.keys_to is not None:
            # The timeline's keys (J K L, the arrows, I O M) step through the clip from here.
            QApplication.sendEvent(self.keys_to, event)
            return event.isAccepted()
        else:
            return False
        return True

    def key_released(self, event: QKeyEvent) -> None:
        """An arrow key let go (not one the key's auto-repeat sends) ends a run of nudges."""
        arrows = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down)
        if not event.isAutoRepeat() and Qt.Key(event.key()) in arrows:
            self.end_nudges()

    # -- drawing -------------------------------------------------------------------------------

    def shown_boxes(self) -> list[ShownBox]:
        """The boxes drawn on the frame on screen, in widget coordinates, the drag's last."""
        if self._segment is None or self._at is None:
            return []
        rect = QRectF(self.canvas.picture_rect())
        people = [str(p.get("id")) for p in _people(self.editor.checked.data)]
        selected = self.selected()
        drag = self._drag
        nudged = self._nudged if self._nudged is not None \
            and self._nudged.segment == self._segment else None
        shown: list[ShownBox] = []
        for i, zone in enumerate(self._zones()):
            if drag is not None and drag.zone == i and drag.moved and drag.kind != "draw":
                continue  # drawn where the pointer has it, below
            if nudged is not None and nudged.zone == i:
                shown.append(ShownBox(i, self._zone_name(zone), _on(rect, nudged.box),
                                      DRAGGED, solid=True, chosen=i == selected))
                continue
            box = self._box(i)
            if box is None:
                continue
            person = str(zone.get("person"))
            colour = (PERSON_COLOURS[people.index(person) % len(PERSON_COLOURS)]
                      if person in people else UNKNOWN_PERSON)
            shown.append(ShownBox(i, self._zone_name(zone), _on(rect, box), colour,
                                  solid=self._key_here(i) is not None, chosen=i == selected))
        if drag is not None and drag.moved:
            shown.append(ShownBox(drag.zone, f"{self.person.currentText()} · "
                                  f"{self.zone.currentText()}", _on(rect, drag.box),
                                  DRAGGED, solid=True, chosen=True))
        return shown

    def paint_zones(self, painter: QPainter, _target: Any) -> None:
        """Each zone's box at this frame: solid at its keys, dashed in between, labelled."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = painter.font()
        font.setPixelSize(LABEL_PX)
        painter.setFont(font)
        top = float(self.canvas.picture_rect().top())
        for shown in self.shown_boxes():
            _paint_box(painter, shown, top)

    # -- inside ----------------------------------------------------------------------------------

    def _zones(self) -> list[Mapping[str, Any]]:
        if self._segment is None or self._segment >= len(changes.segments(
                self.editor.checked.data)):
            return []
        return zones_edits.zones(self.editor.checked.data, self._segment)

    def _segment_index(self) -> int:
        assert self._segment is not None
        return self._segment

    def _zone_name(self, zone: Mapping[str, Any]) -> str:
        kind = str(zone.get("zone"))
        return f"{zone.get('person')} · {self.editor.profile.hit_zones.get(kind, kind)}"

    def _box(self, zone: int) -> Box | None:
        if self._at is None:
            return None
        return zones_edits.box_at(self._zones()[zone], self._at)

    def _key_here(self, zone: int) -> int | None:
        if self._at is None:
            return None
        return zones_edits.key_near(self._zones()[zone], self._at, self._half_frame)

    def _at_key(self, zone: int) -> float:
        # A key already at this frame (written by hand at a time between frames) is the
        # one changed, not one added a millisecond beside it.
        assert self._at is not None
        key = self._key_here(zone)
        return self._at if key is None else zones_edits.key_times(self._zones()[zone])[key]

    def _editable(self) -> int | None:
        if self._segment is None or self._at is None:
            self.said.emit(NOT_HERE)
            return None
        zone = self.selected()
        if zone is None:
            self.said.emit("This segment has no such zone yet: draw it on the picture first.")
        return zone

    def _choose(self, zone: Mapping[str, Any]) -> None:
        for chooser, value in ((self.person, zone.get("person")), (self.zone, zone.get("zone"))):
            found = chooser.findData(value)
            if found >= 0:
                chooser.setCurrentIndex(found)
        self._selection_changed()

    def _selection_changed(self) -> None:
        self._update_readout()
        self.canvas.update()

    def _picked(self, point: QPointF) -> tuple[int, tuple[int, int] | None] | None:
        """The zone under ``point`` (the selected one first) and the corner, if on one."""
        rect = QRectF(self.canvas.picture_rect())
        order = list(range(len(self._zones())))[::-1]
        if (chosen := self.selected()) is not None:
            order.remove(chosen)
            order.insert(0, chosen)
        for zone in order:
            box = self._box(zone)
            if box is None:
                continue
            drawn = _on(rect, box)
            for n, corner in enumerate(_corners(drawn)):
                if (corner - point).manhattanLength() <= HANDLE_PX * 1.5:
                    return zone, (n % 2, n // 2)
            if drawn.contains(point):
                return zone, None
        return None

    def _fraction(self, point: QPointF) -> tuple[float, float]:
        rect = self.canvas.picture_rect()
        return ((point.x() - rect.x()) / max(1, rect.width()),
                (point.y() - rect.y()) / max(1, rect.height()))

    def _put(self, zone: int | None, box: Box) -> None:
        assert self._at is not None
        at = self._at
        if zone is None:
            person, kind = str(self.person.currentData()), str(self.zone.currentData())
            self._apply(lambda: zones_edits.add_zone(self.editor.checked.data,
                                                     self._segment_index(), person=person,
                                                     zone=kind, at=at, box=box))
        else:
            self._apply(lambda: zones_edits.set_key(self.editor.checked.data,
                                                    self._segment_index(), zone,
                                                    self._at_key(zone), box))

    def _nudge(self, dx: int, dy: int, *, resize: bool) -> None:
        # Nudges are gathered here and drawn, and made one edit when the key is let go or
        # after a pause: a held key repeats some thirty times a second, and each its own
        # Undo would take as many to take back.
        if (zone := self._editable()) is None:
            return
        nudged = self._nudged
        if nudged is not None and (nudged.segment, nudged.zone) != (self._segment, zone):
            self.end_nudges()
            nudged = None
        box = nudged.box if nudged is not None else self._box(zone)
        if box is None:
            return
        x, y, w, h = box
        moved = (x, y, w + dx * NUDGE, h + dy * NUDGE) if resize \
            else (x + dx * NUDGE, y + dy * NUDGE, w, h)
        kept = zones_edits.clamp_box(moved) if resize else _kept_inside(moved)
        if kept is None:
            return
        if nudged is None:
            self._nudged = _Nudged(self._segment_index(), zone, self._at_key(zone), kept,
                                   self.editor.checked)
        else:
            nudged.box = kept
        self._nudge_idle.start()
        self.canvas.update()

    def _apply(self, make: Callable[[], Change]) -> None:
        if self._nudged is not None:
            self.end_nudges()  # they come first, as they were made first
        try:
            self.editor.apply(make())
        except EditError as exc:
            self.said.emit(str(exc))
            return
        self.refresh()

    def _update_readout(self) -> None:
        zone = self.selected()
        times = zones_edits.key_times(self._zones()[zone]) if zone is not None else []
        self.keys_shown.emit(times)
        enabled = self._segment is not None and self._at is not None
        self.hide_button.setEnabled(enabled and zone is not None)
        self.delete_key_button.setEnabled(enabled and zone is not None
                                          and self._key_here(zone) is not None)
        self.delete_zone_button.setEnabled(self._segment is not None and zone is not None)
        if not enabled:
            self.readout.setText(NOT_HERE)
            return
        assert self._at is not None
        text = f"{self._at:.3f} s into the segment. "
        if zone is None:
            text += (f"{self.person.currentText()} has no {self.zone.currentText()} zone "
                     "here yet: drag on the picture to draw it.")
        else:
            here = "a key at this frame" if self._key_here(zone) is not None \
                else "between keys (dashed)"
            text += f"{self._zone_name(self._zones()[zone])}: {len(times)} key(s), {here}."
        self.readout.setText(text)


def _people(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = data.get("people")
    return [p for p in value if isinstance(p, Mapping)] if isinstance(value, list) else []


def _fill(chooser: DropDown, items: list[tuple[str, str]]) -> None:
    """Put ``items`` (text, data) in ``chooser``, keeping its choice if it is still there."""
    if [(chooser.itemText(i), chooser.itemData(i)) for i in range(chooser.count())] == items:
        return
    chosen = chooser.currentData()
    chooser.blockSignals(True)
    chooser.clear()
    for text, data in items:
        chooser.addItem(text, data)
    chooser.setCurrentIndex(max(0, chooser.findData(chosen)))
    chooser.blockSignals(False)


def _on(rect: QRectF, box: Box) -> QRectF:
    x, y, w, h = box
    return QRectF(rect.x() + x * rect.width(), rect.y() + y * rect.height(),
                  w * rect.width(), h * rect.height())


def _paint_box(painter: QPainter, shown: ShownBox, picture_top: float) -> None:
    colour = QColor(shown.colour)
    drawn = shown.rect
    pen = QPen(colour, 3.0 if shown.chosen else 2.0)
    pen.setStyle(Qt.PenStyle.SolidLine if shown.solid else Qt.PenStyle.DashLine)
    painter.setPen(pen)
    fill = QColor(colour)
    fill.setAlpha(45 if shown.chosen else 20)
    painter.setBrush(fill)
    painter.drawRect(drawn)
    if shown.chosen:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        for corner in _corners(drawn):
            painter.drawRect(QRectF(corner.x() - 4, corner.y() - 4, 8, 8))
    metrics = QFontMetrics(painter.font())
    tall = metrics.height() + 2
    # Above the box, unless that is off the picture: then just inside its top.
    top = drawn.top() - tall if drawn.top() - tall >= picture_top else drawn.top()
    tag = QRectF(drawn.left(), top, metrics.horizontalAdvance(shown.name) + 8, tall)
    painter.fillRect(tag, QColor(0, 0, 0, 170))
    painter.setPen(colour)
    painter.drawText(tag.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter
                     | Qt.AlignmentFlag.AlignLeft, shown.name)


def _corners(rect: QRectF) -> list[QPointF]:
    # In the order (left, top), (right, top), (left, bottom), (right, bottom).
    return [rect.topLeft(), rect.topRight(), rect.bottomLeft(), rect.bottomRight()]


def _kept_inside(box: Box) -> Box | None:
    """A moved box pushed back whole onto the picture (a move never changes its size)."""
    x, y, w, h = box
    w, h = min(w, 1.0), min(h, 1.0)
    return zones_edits.clamp_box((min(max(0.0, x), 1.0 - w), min(max(0.0, y), 1.0 - h), w, h))
