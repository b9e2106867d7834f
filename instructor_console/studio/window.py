"""The scenario studio: an instructor builds a scenario from their own footage, no YAML typed.

Takes on the left, the pages in the middle (the graph of segments and branches, the
timeline that cuts segments and marks cues, the people and variants, the scenario's
details), the inspector for what is selected on the right, and the problems below. Every
page edits through the one `ScenarioEditor`, so every edit is undone the same way and every
page redraws from the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from instructor_console.studio.details import DetailsForm
from instructor_console.studio.graph_view import ScenarioGraphView
from instructor_console.studio.hit_zone_editor import HitZoneEditor
from instructor_console.studio.inspector import Inspector, new_cue_values
from instructor_console.studio.people_page import PeoplePage
from instructor_console.studio.preview import PreviewWindow
from instructor_console.studio.problems import ProblemsList
from instructor_console.studio.takes_panel import TakesPanel
from instructor_console.studio.timeline import ClipTimeline, frame_at, time_of_frame
from instructor_console.theme import DARK
from simulator.documents import DocumentError
from simulator.playback import PlayerUnavailable
from simulator.playback.decode import DecodeError
from simulator.ports import Clock, Player
from simulator.runtime import ScenarioRun
from simulator.studio import changes
from simulator.studio.editor import ScenarioEditor
from simulator.studio.edits import Change, Step
from simulator.studio.takes import ProposedCut, Take
from simulator.studio.templates import TEMPLATES
from simulator.training import AccessDenied, RecordError, SignedOut
from simulator.training.authoring import Authoring

PAGES = ("Graph", "Timeline", "People and variants", "Details")
# How often unsaved work is kept as a draft (a crash costs at most this much).
AUTOSAVE_MS = 30_000
# What the application layer says when the person at the studio may no longer use it.
REFUSALS = (AccessDenied, SignedOut, RecordError)

# What puts a preview on the projector: handed what builds the run, it builds it on the
# projector's own clock and player (so the run and the picture keep one time), stages and
# starts it. It raises ValueError when the projector is not free, and lets what the build
# raises go on.
ProjectorPreview = Callable[[Callable[[Clock, Player], ScenarioRun]], object]


class NewScenarioDialog(QDialog):
    """Asks what a new scenario starts from, its id and its title."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New scenario")
        self.template = QComboBox()
        for template in TEMPLATES:
            self.template.addItem(template.label, template.id)
            self.template.setItemData(self.template.count() - 1, template.description,
                                      Qt.ItemDataRole.ToolTipRole)
        self.title = QLineEdit()
        self.title.setPlaceholderText("Traffic stop at night, passenger with a phone")
        self.scenario_id = QLineEdit()
        self.scenario_id.setPlaceholderText("made from the title")
        self.title.textEdited.connect(self._suggest_id)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Start from", self.template)
        form.addRow("Title", self.title)
        form.addRow("Id (its folder)", self.scenario_id)
        form.addRow(buttons)

    def _suggest_id(self, title: str) -> None:
        self.scenario_id.setText(changes.new_id(title, [], fallback="scenario").replace("_", "-"))


class StudioWindow(QMainWindow):
    """The studio over one scenario at a time; File > New and Open change which.

    With ``projector`` (the studio opened from the console on the projector PC), Play >
    Preview on the projector plays the scenario there, steered from the console.
    """

    closed = Signal()

    def __init__(self, authoring: Authoring, editor: ScenarioEditor,
                 parent: QWidget | None = None, *,
                 projector: ProjectorPreview | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(DARK)
        self.authoring = authoring
        self._projector = projector
        self.takes = TakesPanel(authoring)
        self.takes.take_chosen.connect(self._take_chosen)
        self.takes.cuts_found.connect(self._cuts_found)
        # A take brought in can be the file a clip was missing: check again, and redraw.
        self.takes.takes_brought_in.connect(self._recheck)
        self._cuts: dict[Path, list[ProposedCut]] = {}
        self._previews: list[PreviewWindow] = []
        # The selected segment by id (and where it was): an edit elsewhere moves it in the list.
        self._selected: tuple[str, int] | None = None
        self._segments_seen = 0
        self._graph_drawn = ""
        self._pending: dict[str, float | None] = {"in": None, "out": None}
        self._status = QLabel()
        self._status.setTextFormat(Qt.TextFormat.PlainText)
        self.statusBar().addWidget(self._status, 1)
        left = QDockWidget("Takes", self)
        left.setObjectName("takes")
        left.setWidget(self.takes)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, left)
        self._right = QDockWidget("Inspector", self)
        self._right.setObjectName("inspector")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self._right)
        self._bottom = QDockWidget("Problems", self)
        self._bottom.setObjectName("problems")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self._bottom)
        self._build_actions()
        self.resize(1600, 1000)
        # The inspector's forms need room to be read; the takes list less.
        self._right.setMinimumWidth(440)
        self._left = left
        self._docks_sized = False
        # Work that cannot be saved yet (half made) is kept as a draft now and then.
        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self._keep_draft)
        self._autosave.start()
        self._shutting = False
        self.editor: ScenarioEditor
        self.timeline: ClipTimeline
        self._load(editor)

    # -- what the window holds ---------------------------------------------------------------

    @property
    def _segment(self) -> int | None:
        return self._selected[1] if self._selected is not None else None

    def _hold(self, index: int | None) -> None:
        ids = changes.segment_ids(self.editor.checked.data)
        self._selected = (ids[index], index) if index is not None and index < len(ids) \
            else None

    def _load(self, editor: ScenarioEditor) -> None:
        old = self.centralWidget()
        if old is not None:
            # The last scenario's pages, previews and open take go with it.
            self.editor.unsubscribe(self._on_changed)
            self.timeline.unload()
            for window in self._previews:
                window.close()
            self._previews = []
            for dock in (self._right, self._bottom):
                if (page := dock.widget()) is not None:
                    page.deleteLater()
        self.editor = editor
        self.graph = ScenarioGraphView()
        self.timeline = ClipTimeline()
        self._timeline_file: Path | None = None
        self.hit_zones = HitZoneEditor(editor)
        self.hit_zones.keys_to = self.timeline
        self.people = PeoplePage(editor)
        self.details = DetailsForm(editor)
        self.inspector = Inspector(editor)
        self.problems = ProblemsList(editor)
        self.pages = QTabWidget()
        self.pages.addTab(self.graph, PAGES[0])
        self.pages.addTab(self._timeline_page(), PAGES[1])
        self.pages.addTab(self.people, PAGES[2])
        self.pages.addTab(self.details, PAGES[3])
        self.setCentralWidget(self.pages)
        # The inspector is for what the graph and the timeline select; the people and
        # details pages are forms of their own and want the width.
        self.pages.currentChanged.connect(self._page_shown)
        self._right.setWidget(self.inspector)
        self._bottom.setWidget(self.problems)
        if old is not None:
            old.deleteLater()
        self.graph.segment_selected.connect(self.select_segment)
        self.graph.branch_selected.connect(self._branch_selected)
        self.graph.branch_drawn.connect(self._branch_drawn)
        self.graph.branch_retargeted.connect(self._branch_retargeted)
        self.graph.add_segment_requested.connect(self._add_segment_asked)
        self.graph.delete_requested.connect(self._delete_asked)
        self.timeline.in_point_set.connect(lambda s: self._point_set("in", s))
        self.timeline.out_point_set.connect(lambda s: self._point_set("out", s))
        self.timeline.cue_marked.connect(self._cue_marked)
        self.timeline.position_changed.connect(lambda _f, _s: self._frame_for_zones())
        self.hit_zones.said.connect(self._say)
        self.hit_zones.keys_shown.connect(self._zone_keys_shown)
        self.inspector.selection_changed.connect(self._inspected)
        self.problems.problem_chosen.connect(self.go_to_field)
        self.people.choose_clip_requested.connect(self._choose_clip)
        self.people.reference_text = self._reference_text
        self._selected = None
        self._pending = {"in": None, "out": None}
        self._graph_drawn = ""
        self.takes.show_takes(self._takes_of(editor))
        editor.subscribe(self._on_changed)
        editor.recheck()
        self.graph.fit_to_view()
        self._offer_draft()

    def _timeline_page(self) -> QWidget:
        page = QWidget()
        self.variant = QComboBox()
        self.variant.setAccessibleName("Variant whose footage is shown")
        self.variant.setToolTip("Whose takes the timeline shows and previews play")
        self.variant.activated.connect(lambda _i: self._show_segment_on_timeline())
        self.new_title = QLineEdit()
        self.new_title.setPlaceholderText("Title of the next segment")
        self.new_title.setAccessibleName("Title of the next segment")
        new = self.new_button = QPushButton("New segment (N)")
        new.setToolTip("Stop editing the selected segment: I and O then mark the next one")
        new.clicked.connect(self.start_new_segment)
        cut = self.cut_button = QPushButton("Cut segment (C)")
        cut.setToolTip("Make a segment of the take from the in-point to the out-point")
        cut.clicked.connect(self.cut_segment)
        zones = self.zones_button = QPushButton("Hit zones (Z)")
        zones.setCheckable(True)
        zones.setToolTip("Draw people's hit zones on the frame on screen, for scoring shots")
        zones.toggled.connect(self._show_hit_zones)
        self.variant.setMinimumWidth(260)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Variant"))
        bar.addWidget(self.variant, 1)
        bar.addWidget(zones)
        cutting = QHBoxLayout()
        cutting.addWidget(self.new_title, 1)
        cutting.addWidget(new)
        cutting.addWidget(cut)
        layout = self._timeline_layout = QVBoxLayout(page)
        layout.addLayout(bar)
        # Drawing zones, the picture with them takes the timeline's picture's place.
        layout.addWidget(self.hit_zones, 1)
        self.hit_zones.hide()
        layout.addWidget(self.timeline, 1)
        layout.addLayout(cutting)
        for key, slot in (("N", self.start_new_segment), ("C", self.cut_segment),
                          ("Z", zones.toggle)):
            action = QAction(page)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            page.addAction(action)
        return page

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file = menu.addMenu("&File")
        self._action(file, "&New scenario…", QKeySequence.StandardKey.New, self.new_scenario)
        self._action(file, "&Open…", QKeySequence.StandardKey.Open, self.open_scenario)
        self._action(file, "&Save", QKeySequence.StandardKey.Save, self.save)
        file.addSeparator()
        self._action(file, "&Close", QKeySequence.StandardKey.Close, self.close)
        edit = menu.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", QKeySequence.StandardKey.Undo, self.undo)
        self.redo_action = self._action(edit, "Redo", QKeySequence.StandardKey.Redo, self.redo)
        play = menu.addMenu("&Play")
        self._action(play, "Preview from the selected segment", QKeySequence("F5"),
                     self.preview)
        self._action(play, "Preview from the start", QKeySequence("Shift+F5"),
                     lambda: self.preview(from_start=True))
        self.projector_action = self._action(play, "Preview on the projector",
                                             QKeySequence("F6"), self.preview_on_projector)
        self.projector_action.setEnabled(self._projector is not None)
        view = menu.addMenu("&View")
        for n, name in enumerate(PAGES, 1):
            self._action(view, name, QKeySequence(f"Ctrl+{n}"),
                         lambda _=False, i=n - 1: self.pages.setCurrentIndex(i))
        tools = QToolBar("Studio")
        tools.setObjectName("studio-tools")
        for action in (self.undo_action, self.redo_action):
            tools.addAction(action)
        self.addToolBar(tools)

    def _action(self, menu: Any, text: str, key: QKeySequence | QKeySequence.StandardKey,
                slot: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(key)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _takes_of(self, editor: ScenarioEditor) -> list[Take]:
        """The takes the scenario's variants already name through the index."""
        prefix = self.authoring.reference("")
        ids = {reference[len(prefix):]
               for variant in changes_list(editor.checked.data, "variants")
               for reference in dict(variant.get("clips") or {}).values()
               if isinstance(reference, str) and reference.startswith(prefix)}
        return self.authoring.takes(sorted(ids))

    # -- redrawing --------------------------------------------------------------------------

    def _on_changed(self) -> None:
        editor = self.editor
        data = editor.checked.data
        self._follow_selection(changes.segment_ids(data))
        if self.pages.currentIndex() == 0:
            self._draw_graph()
        with QSignalBlocker(self.variant):
            chosen = self.variant.currentData()
            self.variant.clear()
            for variant in changes_list(data, "variants"):
                self.variant.addItem(str(variant.get("label") or variant.get("id")),
                                     variant.get("id"))
            self.variant.setCurrentIndex(max(self.variant.findData(chosen), 0))
        self._show_segment_on_timeline(reload=False)
        undo, redo = editor.undo_label, editor.redo_label
        self.undo_action.setText(f"Undo {undo}" if undo else "Undo")
        self.undo_action.setEnabled(undo is not None)
        self.redo_action.setText(f"Redo {redo}" if redo else "Redo")
        self.redo_action.setEnabled(redo is not None)
        self.setWindowTitle(f"Branchpoint studio: {data.get('title') or 'new scenario'} "
                            f"({Path(editor.document.source).name})[*]")
        self.setWindowModified(editor.modified)

    def _follow_selection(self, ids: list[str]) -> None:
        """Keep the selected segment selected wherever an edit moved it; let go if it went."""
        if self._selected is not None:
            held, index = self._selected
            if held in ids:
                self._selected = (held, ids.index(held))
            elif len(ids) == self._segments_seen and index < len(ids):
                self._selected = (ids[index], index)  # renamed where it was
            else:
                self._selected = None
                self.timeline.set_range(None, None)
                self.timeline.set_cues([])
        self._segments_seen = len(ids)

    def _draw_graph(self) -> None:
        """Draw the graph again if what it shows changed (a 200-segment one takes a while)."""
        data = self.editor.checked.data
        problems: dict[int, Any] = {}
        for problem in self.editor.checked.problems:
            if problem.field.startswith("segments["):
                index = int(problem.field[len("segments["):].split("]")[0])
                if index not in problems or problem.severity == "error":
                    problems[index] = problem
        drawn = repr((data.get("start"), [
            (s.get("id"), s.get("title"), s.get("clip"), s.get("in"), s.get("out"),
             len(s.get("cues") or []), s.get("decision"), s.get("outcome"))
            for s in changes.segments(data)],
            sorted((i, p.severity, p.message) for i, p in problems.items())))
        if drawn != self._graph_drawn:
            self._graph_drawn = drawn
            self.graph.show(data, problems=problems)
        if self._segment is not None:
            self.graph.select_segment(self._segment)
        else:
            self.graph.clear_selection()

    def _page_shown(self, page: int) -> None:
        # The inspector is for what the graph and the timeline select; the people and
        # details pages are forms of their own and want the width.
        self._right.setVisible(page < 2)
        if page == 0:
            self._draw_graph()

    # -- selecting ----------------------------------------------------------------------------

    def select_segment(self, index: int) -> None:
        """Select segment ``index`` everywhere: graph, inspector and timeline."""
        self._hold(index)
        self.graph.select_segment(index)
        self.inspector.show_segment(index)
        self._show_segment_on_timeline()

    def _branch_selected(self, index: int, branch: int) -> None:
        self._hold(index)
        self.inspector.show_branch(index, branch)

    def _inspected(self, selection: Any) -> None:
        # The inspector moved on its own (a cue's segment, a branch's source): follow it.
        if isinstance(selection, tuple) and selection and isinstance(selection[0], int) \
                and selection[0] != self._segment:
            self._hold(selection[0])
            self.graph.select_segment(selection[0])
            self._show_segment_on_timeline()

    def go_to_field(self, field: str) -> None:
        """Show the element a problem's ``field`` is about (the problems list's click)."""
        if field.startswith("segments["):
            index = int(field[len("segments["):].split("]")[0])
            if index < len(changes.segments(self.editor.checked.data)) \
                    and ".hit_zones[" in field:
                self._go_to_zone(index, field)
                return
            if index < len(changes.segments(self.editor.checked.data)):
                if self.pages.currentIndex() >= 2:
                    self.pages.setCurrentIndex(0)
                self.select_segment(index)
                self.inspector.select_field(field)
                return
        if field.startswith(("variants", "people")) and self.people.select_field(field):
            self.pages.setCurrentIndex(2)
            return
        if self.details.select_field(field):
            self.pages.setCurrentIndex(3)
            return
        self.pages.setCurrentIndex(0)

    def _go_to_zone(self, index: int, field: str) -> None:
        """A hit zone's problem: its segment on the timeline, the zone chosen, at its key."""
        self.pages.setCurrentIndex(1)
        self.select_segment(index)
        self.zones_button.setChecked(True)
        at = self.hit_zones.select_field(field)
        fps = self.timeline.fps
        if at is not None and fps is not None and self._segment_on_timeline():
            start = _seconds(changes.segments(self.editor.checked.data)[index].get("in"))
            self.timeline.seek_frame(frame_at(start + at, fps))
        self.hit_zones.canvas.setFocus()

    # -- the timeline ---------------------------------------------------------------------------

    def _variant_id(self) -> str | None:
        chosen = self.variant.currentData()
        return str(chosen) if chosen is not None else None

    def _show_segment_on_timeline(self, *, reload: bool = True) -> None:
        """Put the selected segment's take on the timeline, with its range and cues."""
        data = self.editor.checked.data
        segments = changes.segments(data)
        segment = segments[self._segment] if self._segment is not None else None
        variant = self._variant_id()
        path = None
        if segment is not None and variant is not None:
            path = self.authoring.clip_file(self.editor, variant, str(segment.get("clip")))
        if path is not None and reload and path != self._timeline_path():
            self._open_on_timeline(path)
        shown = self._timeline_path()
        marks = []
        if variant is not None and shown is not None:
            # Each clip is looked up once (a media index query), not once per segment.
            on_take = {clip for clip in {str(s.get("clip")) for s in segments}
                       if self.authoring.clip_file(self.editor, variant, clip) == shown}
            marks = [(str(other.get("title") or other.get("id")), _seconds(other.get("in")),
                      _seconds(other.get("out")))
                     for other in segments if str(other.get("clip")) in on_take]
        self.timeline.set_segments(marks)
        if segment is not None and shown is not None and path == shown:
            start = _seconds(segment.get("in"))
            self.timeline.set_range(start, _seconds(segment.get("out")))
            self.timeline.set_cues([(str(c.get("id")), start + _seconds(c.get("at")))
                                    for c in changes_list(segment, "cues")])
        else:
            self.timeline.set_cues([])
        fps = self.timeline.fps
        cuts = self._cuts.get(shown, []) if shown is not None else []
        self.timeline.set_proposed_cuts([time_of_frame(c.frame, fps) for c in cuts] if fps
                                        else [])
        self.hit_zones.show_segment(self._segment if segment is not None and path == shown
                                    and shown is not None else None)
        self._frame_for_zones()

    def _show_hit_zones(self, shown: bool) -> None:
        self.hit_zones.setVisible(shown)
        self.timeline.surface.setVisible(not shown)
        self._timeline_layout.setStretchFactor(self.timeline, 0 if shown else 1)
        if shown:
            self._frame_for_zones()
            self.hit_zones.canvas.setFocus()
        else:
            self.timeline.set_zone_keys([])
            self.timeline.setFocus()

    def _frame_for_zones(self) -> None:
        """Give the hit-zone editor the frame on screen and where it is in the segment."""
        if not self.zones_button.isChecked():
            return
        fps = self.timeline.fps
        if fps is None or self._segment is None or not self._segment_on_timeline():
            self.hit_zones.show_frame(self.timeline.shown_image(), None, 0.0)
            return
        segment = changes.segments(self.editor.checked.data)[self._segment]
        start, end = _seconds(segment.get("in")), _seconds(segment.get("out"))
        seconds = time_of_frame(self.timeline.current_frame, fps)
        at = round(seconds - start, 3) if start <= seconds < end else None
        self.hit_zones.show_frame(self.timeline.shown_image(), at, float(1 / fps))

    def _zone_keys_shown(self, times: list[float]) -> None:
        segments = changes.segments(self.editor.checked.data)
        if self._segment is None or self._segment >= len(segments) \
                or not self.zones_button.isChecked():
            self.timeline.set_zone_keys([])
            return
        start = _seconds(segments[self._segment].get("in"))
        self.timeline.set_zone_keys([start + t for t in times])

    def _timeline_path(self) -> Path | None:
        return self._timeline_file

    def _open_on_timeline(self, path: Path) -> bool:
        try:
            self.timeline.load(path)
        except DecodeError as exc:
            self._say(f"{path.name} does not play: {exc}")
            return False
        self._timeline_file = path
        with QSignalBlocker(self.takes):
            self.takes.choose(path)
        return True

    def _take_chosen(self, take: Take) -> None:
        if not take.usable or take.path == self._timeline_path():
            return
        if not self._open_on_timeline(take.path):
            # The list shows what the timeline shows, not the take that failed.
            shown = self._timeline_path()
            with QSignalBlocker(self.takes):
                if shown is not None:
                    self.takes.choose(shown)
            return
        if self._segment is not None:
            # Another take: the selected segment is not on the timeline any more.
            self.start_new_segment()
        self.pages.setCurrentIndex(1)
        self._show_segment_on_timeline(reload=False)
        self.timeline.setFocus()

    def _cuts_found(self, take: Take, cuts: list[ProposedCut]) -> None:
        self._cuts[take.path] = cuts
        self._show_segment_on_timeline(reload=False)

    def start_new_segment(self) -> None:
        """Let go of the selected segment: I and O now mark a new one."""
        self._selected = None
        self._pending = {"in": None, "out": None}
        self.graph.clear_selection()
        self.inspector.clear()
        self.timeline.set_range(None, None)
        self.timeline.set_cues([])
        self._say("I marks the next segment's in-point, O its out-point; C cuts it.")

    def _point_set(self, which: str, seconds: float) -> None:
        if self._segment is not None and self._segment_on_timeline():
            self.editor.apply(changes.update_segment(self.editor.checked.data, self._segment,
                                                     {which: seconds}))
        else:
            self._pending[which] = seconds

    def _segment_on_timeline(self) -> bool:
        if self._segment is None or (variant := self._variant_id()) is None:
            return False
        segment = changes.segments(self.editor.checked.data)[self._segment]
        return self.authoring.clip_file(self.editor, variant, str(segment.get("clip"))) \
            == self._timeline_path()

    def cut_segment(self) -> None:
        """A new segment of the take on the timeline, from its in-point to its out-point."""
        take = self.takes.current()
        variant_index = self.variant.currentIndex()
        in_s, out_s = self._pending["in"], self._pending["out"]
        if take is None or take.clip_id is None or take.path != self._timeline_path():
            self._say("Choose a take first: bring one in, then pick it in the list.")
            return
        if variant_index < 0:
            self._say("The scenario has no variant yet: add one on the People and variants "
                      "page.")
            return
        if in_s is None or out_s is None or out_s <= in_s:
            self._say("Mark the in-point (I) and then a later out-point (O) first.")
            return
        data = self.editor.checked.data
        variant = changes_list(data, "variants")[variant_index]
        reference = self.authoring.reference(take.clip_id)
        clips = dict(variant.get("clips") or {})
        clip = next((c for c, r in clips.items() if r == reference), None)
        steps: list[Step] = []
        if clip is None:
            used = set(clips) | {str(s.get("clip")) for s in changes.segments(data)}
            clip = changes.new_id(take.path.stem, used, fallback="clip")
            steps += changes.set_variant_clip(data, variant_index, clip, reference).steps
        title = self.new_title.text().strip()
        made = changes.add_segment(data, clip=clip, in_s=in_s, out_s=out_s, title=title)
        self.editor.apply(Change(made.label, [*steps, *made.steps]))
        self.new_title.clear()
        self._pending = {"in": None, "out": None}
        self.select_segment(len(changes.segments(self.editor.checked.data)) - 1)
        self._say(f"{made.label}. Draw its branches on the graph, or give it an outcome.")

    def _cue_marked(self, seconds: float) -> None:
        if self._segment is None or not self._segment_on_timeline():
            self._say("Select the segment the cue belongs to first (or cut it), then press M.")
            return
        segment = changes.segments(self.editor.checked.data)[self._segment]
        start, end = _seconds(segment.get("in")), _seconds(segment.get("out"))
        if not start <= seconds <= end:
            self._say("That frame is outside the selected segment; a cue must be within it.")
            return
        values = new_cue_values(self.editor, self._segment, round(seconds - start, 3))
        # Named for where it is, not for its kind: the kind is chosen next, on its form.
        taken = [str(c.get("id")) for s in changes.segments(self.editor.checked.data)
                 for c in changes_list(s, "cues")]
        values["cue_id"] = changes.new_id(f"cue_{segment.get('id')}", taken, fallback="cue")
        before = {c.get("id") for c in changes_list(segment, "cues")}
        self.editor.apply(changes.add_cue(self.editor.checked.data, self._segment, **values))
        cues = changes_list(changes.segments(self.editor.checked.data)[self._segment], "cues")
        made = next(i for i, c in enumerate(cues) if c.get("id") not in before)
        self.inspector.show_cue(self._segment, made)

    # -- the graph -------------------------------------------------------------------------------

    def _branch_drawn(self, source: int, target: int) -> None:
        self.editor.apply(changes.add_branch(self.editor.checked.data, source, target))

    def _branch_retargeted(self, index: int, branch: int, target: int) -> None:
        ids = changes.segment_ids(self.editor.checked.data)
        self.editor.apply(changes.update_branch(self.editor.checked.data, index, branch,
                                                {"to": ids[target]}))

    def _add_segment_asked(self) -> None:
        self.pages.setCurrentIndex(1)
        self.start_new_segment()

    def _delete_asked(self, kind: str, indexes: list[int]) -> None:
        data = self.editor.checked.data
        if kind == "segment":
            (index,) = indexes
            name = changes.segment_ids(data)[index]
            asked = QMessageBox.question(
                self, "Delete segment", f"Delete segment `{name}` and the branches that lead "
                "to it? (Undo brings them back.)")
            if asked == QMessageBox.StandardButton.Yes:
                self.start_new_segment()
                self.editor.apply(changes.remove_segment(data, index))
        elif kind == "branch":
            index, branch = indexes
            self.editor.apply(changes.remove_branch(data, index, branch))

    def _choose_clip(self, variant: int, clip: str) -> None:
        """Which take a variant plays for a clip: one of the takes brought in."""
        takes = [t for t in self.takes.takes() if t.usable and t.clip_id is not None]
        if not takes:
            self._say("Bring the take in first (Takes, on the left), then choose it here.")
            return
        names = [str(t.path) for t in takes]
        current = self.takes.current()
        start = names.index(str(current.path)) if current in takes and current else 0
        chosen, ok = QInputDialog.getItem(self, "Choose the take",
                                          f"The take this variant plays for clip `{clip}`",
                                          names, start, False)
        if not ok:
            return
        take = takes[names.index(chosen)]
        assert take.clip_id is not None
        self.editor.apply(changes.set_variant_clip(self.editor.checked.data, variant, clip,
                                                   self.authoring.reference(take.clip_id)))

    def _recheck(self) -> None:
        self.editor.recheck()

    def _reference_text(self, reference: str) -> str:
        for take in self.takes.takes():
            if take.clip_id is not None and reference == self.authoring.reference(take.clip_id):
                return f"{take.path.name}  ({take.path.parent})"
        return reference

    # -- files, undo, preview ------------------------------------------------------------------

    def undo(self) -> None:
        """Undo the last edit."""
        if (label := self.editor.undo()) is not None:
            self._say(f"Undone: {label}")

    def redo(self) -> None:
        """Make the last undone edit again."""
        if (label := self.editor.redo()) is not None:
            self._say(f"Redone: {label}")

    def save(self) -> bool:
        """Save the scenario into the library and tag its clips; False if it could not be."""
        why = self._saved()
        if why is not None:
            self._warn("Not saved", why)
            return False
        return True

    def _saved(self) -> str | None:
        """Save; None once saved, else why not (in words for the instructor)."""
        try:
            tags = self.authoring.save(self.editor)
        except DocumentError as exc:
            return f"The scenario was not saved; fix these first (see Problems):\n\n" \
                   f"{_listed(exc)}"
        except OSError as exc:
            return (f"{self.editor.document.source} cannot be written: "
                    f"{exc.strerror or exc}. The last saved copy is as it was.")
        except REFUSALS as exc:
            return f"The scenario was not saved: {exc}"
        note = f"Saved {self.editor.document.source}; tags written for {len(tags.written)} "
        note += "clip(s)."
        if tags.skipped:
            note += " Not tagged: " + "; ".join(tags.skipped)
        if errors := self.editor.checked.errors:
            note += (f" It still has {len(errors)} error(s): the console will not run it until "
                     "they are fixed (see Problems).")
        self._say(note)
        return None

    def _to_preview(self, *, from_start: bool) -> tuple[str, str] | None:
        """The segment a preview starts at (the selected one, or the start) and its variant."""
        data = self.editor.checked.data
        ids = changes.segment_ids(data)
        segment = (str(data.get("start")) if from_start or self._segment is None
                   else ids[self._segment])
        variant = self._variant_id()
        if variant is None or segment not in ids:
            self._say("Nothing to play yet: cut a segment and give the scenario a variant.")
            return None
        return segment, variant

    def preview(self, *, from_start: bool = False) -> PreviewWindow | None:
        """Play the scenario as it stands from the selected segment (or its start), unrecorded."""
        chosen = self._to_preview(from_start=from_start)
        if chosen is None:
            return None
        segment, variant = chosen
        try:
            window = PreviewWindow.open(self.authoring, self.editor, segment, variant)
        except DocumentError as exc:
            self._warn("Cannot preview", f"Fix these first:\n\n{_listed(exc)}")
            return None
        except REFUSALS as exc:
            self._warn("Cannot preview", str(exc))
            return None
        self._previews.append(window)
        # A closed preview deletes itself: it must leave the list before it is gone.
        window.closed.connect(partial(self._preview_closed, window))
        return window

    def _preview_closed(self, window: PreviewWindow) -> None:
        if window in self._previews:
            self._previews.remove(window)

    def preview_on_projector(self) -> bool:
        """Play the scenario as it stands from the selected segment on the projector.

        Unrecorded, as in the preview window; the console steers it as it steers a run.
        False if it did not start (the instructor is told what to fix).
        """
        if self._projector is None or (chosen := self._to_preview(from_start=False)) is None:
            return False
        segment, variant = chosen

        def build(clock: Clock, player: Player) -> ScenarioRun:
            return self.authoring.preview(self.editor, segment, variant, clock=clock,
                                          player=player).run

        try:
            self._projector(build)
        except DocumentError as exc:
            self._warn("Cannot preview", f"Fix these first:\n\n{_listed(exc)}")
            return False
        except (ValueError, PlayerUnavailable, *REFUSALS) as exc:
            self._warn("Cannot preview on the projector", f"The preview did not start: {exc}.")
            return False
        self._say(f"Previewing from `{segment}` on the projector: steer it at the console. "
                  "Nothing is recorded.")
        return True

    def new_scenario(self) -> None:
        """Start a new scenario from a template (asking to save this one first)."""
        if not self._may_leave():
            return
        dialog = NewScenarioDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            editor = self.authoring.new(str(dialog.template.currentData()),
                                        scenario_id=dialog.scenario_id.text().strip(),
                                        title=dialog.title.text().strip() or "New scenario")
        except DocumentError as exc:
            self._warn("New scenario", _listed(exc))
            return
        except REFUSALS as exc:
            self._warn("New scenario", str(exc))
            return
        self._load(editor)

    def open_scenario(self) -> None:
        """Open a scenario of the library, or any scenario file (asking to save this one)."""
        if not self._may_leave():
            return
        try:
            entries = self.authoring.scenarios()
        except REFUSALS as exc:
            self._warn("Open scenario", str(exc))
            return
        other = "Another file…"
        names = [f"{e.title}  ({e.id})" for e in entries] + [other]
        chosen, ok = QInputDialog.getItem(self, "Open scenario", "Scenario", names, 0, False)
        if not ok:
            return
        if chosen == other:
            name, _ = QFileDialog.getOpenFileName(self, "Open scenario", str(
                self.authoring.library), "Scenario (*.yaml *.yml)")
            if not name:
                return
            path = Path(name)
        else:
            path = entries[names.index(chosen)].path
        try:
            editor = self.authoring.open(path)
        except DocumentError as exc:
            self._warn("Cannot open", _listed(exc))
            return
        except REFUSALS as exc:
            self._warn("Cannot open", str(exc))
            return
        self._load(editor)

    def _may_leave(self) -> bool:
        """Whether the scenario may be left: saved, kept as a draft, or thrown away on purpose."""
        if not self.editor.modified:
            return True
        asked = QMessageBox.question(
            self, "Unsaved changes", "Save the changes to this scenario first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if asked == QMessageBox.StandardButton.Discard:
            self.authoring.discard_draft(self.editor)
            return True
        if asked != QMessageBox.StandardButton.Save:
            return False
        why = self._saved()
        if why is None:
            return True
        # Not savable yet (half made, or the disk refused): the work is kept as a draft.
        draft = self._keep_draft()
        if draft is None:
            self._warn("Not saved", f"{why}\n\nNor could a draft be kept, so the studio stays "
                       "open.")
            return False
        self._warn("Kept as a draft", f"{why}\n\nYour work is kept as a draft ({draft}); "
                   "it is offered when you open the scenario again.")
        return True

    def _keep_draft(self) -> Path | None:
        """Keep unsaved work as a draft; the draft's path, or None if none could be kept."""
        if not self.editor.modified:
            return None
        try:
            return self.authoring.save_draft(self.editor)
        except (OSError, *REFUSALS) as exc:
            self._say(f"No draft could be kept: {exc}")
            return None

    def _offer_draft(self) -> None:
        """Offer the draft kept of this scenario, if it is newer than the saved file."""
        if self.editor.modified or (draft := self.authoring.draft_of(self.editor)) is None:
            return
        asked = QMessageBox.question(
            self, "A draft was kept", "Work on this scenario was kept as a draft and never "
            "saved. Go on with the draft? (No throws it away.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if asked != QMessageBox.StandardButton.Yes:
            self.authoring.discard_draft(self.editor)
            return
        try:
            self._load(self.authoring.open_draft(draft))
        except (DocumentError, *REFUSALS) as exc:
            self._warn("Draft not opened", str(exc))

    def shut(self) -> Path | None:
        """Close without asking (the console locked, or a class run began); the draft kept.

        Unsaved work is kept as a draft, offered when the scenario is next opened.
        """
        draft = self._keep_draft()
        self._shutting = True
        self.close()
        return draft

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Share the width out once the window has its size: docks sized earlier are not."""
        super().showEvent(event)
        if not self._docks_sized:
            self._docks_sized = True
            self.resizeDocks([self._left, self._right], [300, 460], Qt.Orientation.Horizontal)
            self.resizeDocks([self._bottom], [170], Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Ask to save unsaved edits; stop what runs in the background."""
        if not self._shutting and not self._may_leave():
            event.ignore()
            return
        self._autosave.stop()
        self.takes.stop()
        self.timeline.unload()
        for window in list(self._previews):
            window.close()
        super().closeEvent(event)
        self.closed.emit()

    def _say(self, text: str) -> None:
        self._status.setText(text)

    def _warn(self, title: str, text: str) -> None:
        # Shown as plain text: it quotes titles, labels and file names from the scenario.
        box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()


def changes_list(data: Any, key: str) -> list[dict[str, Any]]:
    """The mappings in ``data[key]`` (a scenario's variants, a segment's cues), skipping junk."""
    value = data.get(key) if isinstance(data, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else 0.0


def _listed(exc: DocumentError) -> str:
    return "\n".join(f"• {p.field or 'the scenario'}: {p.message}" for p in exc.problems[:12])
