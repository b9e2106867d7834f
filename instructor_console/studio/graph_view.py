"""The studio's graph: segments as boxes, branches as arrows dragged between them.

While an instructor edits, the scenario is often not valid yet (a branch to a segment not
made yet, a decision with no branches), so the graph is drawn from the plain data of the
file, never from the checked model: whatever can be drawn is, and a key that is missing or
of the wrong type is drawn as unknown rather than raised. The view never edits anything
itself: it says what the instructor asked for through its signals, and the studio changes
the scenario and calls `ScenarioGraphView.show` again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any, Literal

import networkx as nx
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QFontMetricsF,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from instructor_console.mini_map import KIND_COLOURS, NEUTRAL, TAKEN
from instructor_console.theme import label, plain_tooltip
from simulator.documents import Problem

Point = tuple[float, float]

Selection = int | tuple[int, int] | None
"""What is selected: a segment's index, a (segment, branch) pair of indexes, or nothing."""

BACKGROUND = "#0b0e11"
NODE_FILL, OUTCOME_FILL, PLATE_FILL = "#1b2129", "#2a2f38", "#151a20"
BORDER, TEXT, MUTED = "#4a5563", "#e8e8e8", "#9aa5b1"
FOCUS = TAKEN
ERROR, WARNING = "#e74c3c", "#e67e22"
# The theme's warning text colour: a dangling branch must not read as an escalation.
DANGLING = "#ff8a7a"

NODE_W, NODE_H = 220.0, 108.0
# Between columns: a branch's label plate, then lanes for arrows that go round other boxes.
LABEL_MAX_W, COLUMN_GAP, ROW_GAP = 150.0, 240.0, 64.0
PORT_STEP, PLATE_H, MARGIN = 22.0, 18.0, 40.0
LANE_STEP, ENTRY_STEP, HEAD_LEN, HEAD_HALF_W = 8.0, 16.0, 12.0, 6.0
HIT_WIDTH, GRIP_R, HANDLE_R = 12.0, 10.0, 9.0
Z_EDGE, Z_NODE, Z_LABEL, Z_GRIP, Z_BAND = 1.0, 2.0, 3.0, 4.0, 5.0
ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.2, 3.0, 1.15

HINT = ("Drag a segment's ⊕ (or Shift+drag the segment) onto another to add a branch · "
        "drag an arrow's head onto a segment to send it there · double-click empty space "
        "for a new segment · arrow keys and Tab move, Delete removes · Ctrl+wheel zooms, "
        "F fits")
HANDLE_TIP = "Drag onto another segment to add a branch from this one (or Shift+drag the segment)"
GRIP_TIP = "Drag onto another segment to send this branch there"
_NO_PROBLEMS: Mapping[int, str | Problem] = MappingProxyType({})


# --- What the plain data says, read without trusting it -------------------------------------


@dataclass(frozen=True)
class _Branch:
    index: int
    hotkey: str
    label: str
    kind: str
    to: str
    target: int | None
    is_default: bool


@dataclass(frozen=True)
class _Segment:
    index: int
    id: str
    title: str
    details: str
    ending: str
    ending_ok: bool
    outcome: bool
    is_start: bool
    tooltip: str
    branches: tuple[_Branch, ...]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return f"{value:g}"
    return ""


def _items(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def _read(scenario: Any) -> list[_Segment]:
    data = scenario if isinstance(scenario, Mapping) else {}
    raw = _items(data.get("segments"))
    first: dict[str, int] = {}
    for i, item in enumerate(raw):
        sid = _text(item.get("id")) if isinstance(item, Mapping) else ""
        if sid:
            first.setdefault(sid, i)
    start = first.get(_text(data.get("start")))
    return [_read_segment(i, item, first, start) for i, item in enumerate(raw)]


def _read_segment(i: int, item: Any, ids: Mapping[str, int], start: int | None) -> _Segment:
    if not isinstance(item, Mapping):
        return _Segment(i, "", "(not a segment)", "", "not a mapping of fields", False, False,
                        False, f"Segment {i + 1} is not a mapping of fields", ())
    sid = _text(item.get("id"))
    title = _text(item.get("title")).strip()
    clip = _text(item.get("clip")) or "?"
    span = f"{_text(item.get('in')) or '?'}–{_text(item.get('out')) or '?'} s"
    cues = len(_items(item.get("cues")))
    details = f"clip {clip} · {span}" + (f" · {cues} cue{'s' * (cues != 1)}" if cues else "")
    decision, outcome = item.get("decision"), item.get("outcome")
    branches: tuple[_Branch, ...] = ()
    if isinstance(decision, Mapping):
        branches = _read_branches(decision, ids)
        ending, ok = _waiting(decision, branches), bool(branches)
        if outcome is not None:
            ending, ok = "has both a decision and an outcome", False
    elif isinstance(outcome, Mapping):
        kind = _text(outcome.get("kind")) or "?"
        ending, ok = f"■ ends: {kind}", True
    elif decision is not None or outcome is not None:
        ending, ok = "decision or outcome unreadable", False
    else:
        ending, ok = "no decision or outcome yet", False
    is_outcome = isinstance(outcome, Mapping) and not isinstance(decision, Mapping)
    said = _text(outcome.get("label")) if isinstance(outcome, Mapping) else ""
    lines = [title or "(untitled)", f"id: {sid or '(none)'}", details, ending]
    if is_outcome and said:
        lines.append(said)
    return _Segment(i, sid, title, details, ending, ok, is_outcome, i == start,
                    "\n".join(lines), branches)


def _read_branches(decision: Mapping[str, Any], ids: Mapping[str, int]) -> tuple[_Branch, ...]:
    raw = _items(decision.get("branches"))
    bids = [_text(b.get("id")) if isinstance(b, Mapping) else "" for b in raw]
    default = _text(decision.get("default")) or (bids[0] if bids else "")
    found = []
    for j, branch in enumerate(raw):
        if not isinstance(branch, Mapping):
            found.append(_Branch(j, "?", "(not a branch)", "", "", None, False))
            continue
        to = _text(branch.get("to"))
        found.append(_Branch(
            j, _text(branch.get("hotkey")) or "?",
            _text(branch.get("label")) or bids[j] or "(no label)",
            _text(branch.get("kind")) or "neutral", to, ids.get(to),
            bool(bids[j]) and bids[j] == default))
    return tuple(found)


def _waiting(decision: Mapping[str, Any], branches: tuple[_Branch, ...]) -> str:
    if not branches:
        return "decision with no branches yet"
    waiting = decision.get("while_waiting")
    mode = "holds"
    if isinstance(waiting, Mapping) and waiting.get("mode") == "loop":
        mode = f"loops {_text(waiting.get('from')) or '?'}–{_text(waiting.get('to')) or '?'} s"
    window = decision.get("window", 8)
    default = next((b.hotkey for b in branches if b.is_default), "?")
    return f"{mode} · {_text(window) or '?'} s, then {default}"


def _grid(segments: list[_Segment]) -> dict[int, tuple[int, int]]:
    """Each segment's (column, row): its column is its distance in branches from the start.

    The same idea as the console's mini-map (`simulator.scenario.outline`), which needs a
    valid scenario. Segments that cannot be reached go in a column after the rest. Rows
    follow the order of the file, so that adding a segment or a branch moves few boxes.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(s.index for s in segments)
    graph.add_edges_from((s.index, b.target) for s in segments for b in s.branches
                         if b.target is not None)
    start = next((s.index for s in segments if s.is_start), None)
    depth: dict[int, int] = ({} if start is None
                             else nx.single_source_shortest_path_length(graph, start))
    last = max(depth.values(), default=-1) + 1
    rows: dict[int, int] = {}
    grid = {}
    for segment in segments:
        column = depth.get(segment.index, last)
        rows[column] = rows.get(column, -1) + 1
        grid[segment.index] = (column, rows[column])
    return grid


_Shape = tuple[int | None, tuple[tuple[int | None, ...], ...]]
"""What the layout depends on: the start, and each segment's branches' targets."""


def _shape(segments: list[_Segment]) -> _Shape:
    start = next((s.index for s in segments if s.is_start), None)
    return start, tuple(tuple(b.target for b in s.branches) for s in segments)


def _restack(items: Mapping[Any, QGraphicsItem], made: list[Any]) -> None:
    """Stack the ``items`` just ``made`` among the others, in the order of their keys.

    Items of one height are painted in the order they were added: an arrow added by an
    edit must cross the others as it would on a fresh drawing, not always on top.
    """
    if not made or len(made) == len(items):
        return
    new = set(made)
    later: QGraphicsItem | None = None
    for name in sorted(items, reverse=True):
        if name in new and later is not None:
            items[name].stackBefore(later)
        later = items[name]


def _node_height(segment: _Segment) -> float:
    return max(NODE_H, len(segment.branches) * PORT_STEP + 44.0)


# --- Drawing ----------------------------------------------------------------------------------


@cache
def _font(pixels: int, *, bold: bool = False, mono: bool = False) -> QFont:
    # Made on first use: a font made before the application exists misses its settings.
    font = QFont("monospace") if mono else QFont()
    if mono:
        font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


@cache
def _metrics(pixels: int, *, bold: bool = False) -> QFontMetricsF:
    # One per font, rather than two made for each of several hundred labels on every redraw.
    return QFontMetricsF(_font(pixels, bold=bold))


def _kind_colour(kind: str) -> QColor:
    return QColor(KIND_COLOURS.get(kind, NEUTRAL))


def _arrow_head(tip: QPointF, towards: QPointF) -> QPolygonF:
    """A filled head at ``tip``, pointing away from ``towards``."""
    line = QLineF(tip, towards)
    if line.length() == 0:
        return QPolygonF([tip])
    line.setLength(HEAD_LEN)
    back = line.p2()
    normal = line.normalVector()
    normal.setLength(HEAD_HALF_W)
    offset = normal.p2() - normal.p1()
    return QPolygonF([tip, back + offset, back - offset])


def _marker_key(problem: str | Problem | None) -> tuple[bool, str] | None:
    """What a problem marker shows (amber or red, and its text), to tell when it changed."""
    if problem is None:
        return None
    if isinstance(problem, Problem):
        return problem.severity == "warning", problem.message
    return False, problem


class _SegmentNode(QGraphicsItem):
    def __init__(self, segment: _Segment, top_left: Point,
                 problem: str | Problem | None) -> None:
        super().__init__()
        self.selected = False
        self.drop_target = False
        self.setZValue(Z_NODE)
        self.handle = _OutHandle(self)
        self.marker: _ProblemMarker | None = None
        self.marked: tuple[bool, str] | None = None
        self.top_left = top_left
        self.setPos(*top_left)
        self._show(segment)
        self.set_problem(problem)

    def _show(self, segment: _Segment) -> None:
        self.segment = segment
        self.box = QRectF(0, 0, NODE_W, _node_height(segment))
        self.setToolTip(plain_tooltip(segment.tooltip))
        self.handle.setPos(NODE_W, self.box.height() - 16)

    def redraw(self, segment: _Segment, top_left: Point,
               problem: str | Problem | None) -> bool:
        """Show ``segment`` at ``top_left`` marked with ``problem``; whether it moved or resized."""
        moved = top_left != self.top_left
        if moved:
            self.top_left = top_left
            self.setPos(*top_left)
        if segment != self.segment:
            resized = _node_height(segment) != self.box.height()
            if resized:
                self.prepareGeometryChange()
            moved = moved or resized
            self._show(segment)
            self.update()
        self.set_problem(problem)
        return moved

    def set_problem(self, problem: str | Problem | None) -> None:
        """Mark the box with ``problem``, or with nothing."""
        key = _marker_key(problem)
        if key == self.marked:
            return
        self.marked = key
        if self.marker is not None:
            scene = self.scene()
            if scene is not None:
                scene.removeItem(self.marker)
            self.marker = None
        if problem is not None:
            self.marker = _ProblemMarker(self, problem)
            self.marker.setPos(NODE_W - 14, 14)

    def scene_box(self) -> QRectF:
        return self.box.translated(self.pos())

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.box.adjusted(-4, -14, 4, 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        segment = self.segment
        if self.selected:
            pen = QPen(QColor(FOCUS), 3.0)
        elif self.drop_target:
            pen = QPen(QColor(TEXT), 3.0, Qt.PenStyle.DashLine)
        else:
            pen = QPen(QColor(BORDER), 2.0)
        painter.setPen(pen)
        painter.setBrush(QColor(OUTCOME_FILL if segment.outcome else NODE_FILL))
        # An outcome's rounder box reads as "the run ends here" before any text is read.
        radius = 26.0 if segment.outcome else 8.0
        painter.drawRoundedRect(self.box, radius, radius)
        inset = 20.0 if segment.outcome else 12.0
        width = NODE_W - 2 * inset
        title_font = _font(15, bold=True)
        painter.setFont(title_font)
        # Short of the right edge, where the problem marker sits.
        title = _wrapped(painter.fontMetrics(), segment.title or segment.id or "(untitled)",
                         width - 14)
        rows = [(title_font, TEXT, line, 6.0 + 18.0 * k) for k, line in enumerate(title)] + [
            (_font(12, mono=True), MUTED, segment.id if segment.title else "no title yet", 44.0),
            (_font(12), MUTED, segment.details, 62.0),
            (_font(12), TEXT if segment.ending_ok else WARNING, segment.ending, 80.0),
        ]
        for font, colour, text, top in rows:
            painter.setFont(font)
            painter.setPen(QColor(colour))
            # The painter's own metrics: they can differ from a bare QFontMetricsF's.
            shown = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                     int(width))
            painter.drawText(QRectF(inset, top, width, 18.0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        if segment.is_start:
            badge = QRectF(10, -10, 52, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(FOCUS))
            painter.drawRoundedRect(badge, 9, 9)
            painter.setFont(_font(10, bold=True))
            painter.setPen(QColor(BACKGROUND))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "START")

    def port(self, j: int) -> QPointF:
        """Where branch ``j`` leaves the box, in scene coordinates: down its right side."""
        count = max(len(self.segment.branches), 1)
        span = self.box.height() - 40.0
        top = 8.0 + (span - count * PORT_STEP) / 2
        return self.pos() + QPointF(NODE_W, top + PORT_STEP * (j + 0.5))


def _wrapped(metrics: QFontMetrics, text: str, width: float) -> list[str]:
    """``text`` on at most two lines of ``width``, broken between words, the rest cut short."""
    words = text.split()
    first = ""
    while words and metrics.horizontalAdvance(f"{first} {words[0]}".strip()) <= width:
        first = f"{first} {words.pop(0)}".strip()
    if not first:
        # One word too long for a line: cut it rather than leave the line empty.
        return [metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width))]
    rest = " ".join(words)
    return [first, metrics.elidedText(rest, Qt.TextElideMode.ElideRight, int(width))] if rest \
        else [first]


class _OutHandle(QGraphicsItem):
    def __init__(self, node: _SegmentNode) -> None:
        super().__init__(node)
        self.node = node
        self.setToolTip(HANDLE_TIP)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-HANDLE_R - 2, -HANDLE_R - 2, 2 * HANDLE_R + 4, 2 * HANDLE_R + 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(FOCUS), 2.0))
        painter.setBrush(QColor(NODE_FILL))
        painter.drawEllipse(QPointF(0, 0), HANDLE_R, HANDLE_R)
        painter.drawLine(QPointF(-4.5, 0), QPointF(4.5, 0))
        painter.drawLine(QPointF(0, -4.5), QPointF(0, 4.5))


class _ProblemMarker(QGraphicsItem):
    def __init__(self, node: _SegmentNode, problem: str | Problem) -> None:
        super().__init__(node)
        warning = isinstance(problem, Problem) and problem.severity == "warning"
        self.colour = QColor(WARNING if warning else ERROR)
        text = problem.message if isinstance(problem, Problem) else problem
        self.setToolTip(plain_tooltip(text))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-10, -10, 20, 20)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawEllipse(QPointF(0, 0), 8, 8)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(_font(11, bold=True))
        painter.drawText(QRectF(-8, -8, 16, 16), Qt.AlignmentFlag.AlignCenter, "!")


_Route = tuple[Literal["line", "curve", "corners"], tuple[Point, ...]]
"""An arrow's course: how it runs, and its points in scene coordinates, port first.

Plain numbers rather than a path, so that a redraw can tell cheaply which arrows moved.
"""


@dataclass(frozen=True)
class _Arrow:
    """What is drawn for a route: the line, its head, its tip, and where it can be clicked."""

    path: QPainterPath
    head: QPolygonF
    tip: QPointF
    shape: QPainterPath
    bounds: QRectF


@lru_cache(maxsize=4096)
def _arrow(route: _Route) -> _Arrow:
    # Kept by route: undoing an edit, or editing back and forth, brings back the same courses,
    # and building paths and their outlines is most of redrawing an arrow.
    path, before_tip, tip = _route_path(route)
    head = _arrow_head(tip, before_tip)
    stroker = QPainterPathStroker()
    stroker.setWidth(HIT_WIDTH)
    shape = stroker.createStroke(path)
    shape.addPolygon(head)
    return _Arrow(path, head, tip, shape, shape.boundingRect().adjusted(-4, -4, 4, 4))


def _route_path(route: _Route) -> tuple[QPainterPath, QPointF, QPointF]:
    """The path of ``route``, the point its head points away from, and its tip."""
    kind, points = route
    port_x, port_y = points[0]
    path = QPainterPath(QPointF(port_x, port_y))
    if kind == "line":
        tip_x, tip_y = points[1]
        path.lineTo(tip_x - (HEAD_LEN - 2), tip_y)
        return path, QPointF(port_x, port_y), QPointF(tip_x, tip_y)
    if kind == "curve":
        entry_x, entry_y = points[1]
        start_x = port_x + 14
        path.lineTo(start_x, port_y)
        bend = (entry_x - start_x) / 2
        end_x = entry_x - (HEAD_LEN - 2)
        path.cubicTo(start_x + bend, port_y, end_x - bend, entry_y, end_x, entry_y)
        return path, QPointF(end_x, entry_y), QPointF(entry_x, entry_y)
    _rounded(path, points[:-1])
    return path, QPointF(*points[-2]), QPointF(*points[-1])


class _BranchEdge(QGraphicsItem):
    def __init__(self, segment: int, branch: _Branch, route: _Route) -> None:
        super().__init__()
        self.segment = segment
        self.selected = False
        self.setZValue(Z_EDGE)
        self._show(branch, route)

    def _show(self, branch: _Branch, route: _Route) -> None:
        self.branch = branch
        self.route = route
        arrow = _arrow(route)
        self.path, self.head, self.tip = arrow.path, arrow.head, arrow.tip
        self._shape, self._bounds = arrow.shape, arrow.bounds
        self.dangling = branch.target is None
        self.setToolTip(plain_tooltip(_branch_tip(branch)))

    def redraw(self, branch: _Branch, route: _Route) -> bool:
        """Show ``branch`` along ``route``; whether anything changed."""
        if branch == self.branch and route == self.route:
            return False
        if route != self.route:
            self.prepareGeometryChange()
        self._show(branch, route)
        self.update()
        return True

    def label_at(self) -> QPointF:
        """Where the branch's label plate starts, just right of the port."""
        x, y = self.route[1][0]
        return QPointF(x + 10, y)

    def colour(self) -> QColor:
        return QColor(DANGLING) if self.dangling else _kind_colour(self.branch.kind)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        width = 3.5 if self.branch.is_default else 2.0
        if self.selected:
            glow = QColor(FOCUS)
            glow.setAlpha(110)
            halo = QPen(glow, width + 6)
            halo.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(halo)
            painter.drawPath(self.path)
        pen = QPen(self.colour(), width)
        if self.dangling:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawPath(self.path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour())
        painter.drawPolygon(self.head)


def _branch_tip(branch: _Branch) -> str:
    kind = {"escalate": "escalates", "de_escalate": "de-escalates"}.get(branch.kind, branch.kind)
    where = (f"to {branch.to}" if branch.target is not None
             else f"to {branch.to}, which is no segment" if branch.to else "with no `to` yet")
    default = "\nDefault: taken when no choice comes in time" if branch.is_default else ""
    return f"{branch.hotkey} · {branch.label} ({kind}), {where}{default}"


class _BranchLabel(QGraphicsItem):
    """The hotkey and label of a branch, on a plate that hides the lines crossing under it."""

    def __init__(self, edge: _BranchEdge) -> None:
        super().__init__()
        self.edge = edge
        self.setZValue(Z_LABEL)
        self.text_font = _font(12)
        self.text = ""
        self.plate = QRectF()
        self.shown: tuple[_Branch, bool] | None = None
        self.redraw()

    def redraw(self) -> bool:
        """Show the edge's branch as it is now, at its port; whether its plate resized."""
        self.setPos(self.edge.label_at())
        branch = self.edge.branch
        # An arrow that only moved keeps its text: measuring text is the slow part here.
        if (branch, self.edge.dangling) == self.shown:
            return False
        self.shown = (branch, self.edge.dangling)
        self.text_font = _font(12, bold=True) if branch.is_default else _font(12)
        # Where a dangling branch points comes first, so that cutting the text short keeps it.
        missing = f"→ {branch.to}?" if branch.to else "no target"
        text = f"{missing} {branch.label}" if self.edge.dangling else branch.label
        metrics = _metrics(12, bold=branch.is_default)
        self.text = metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                       LABEL_MAX_W - PLATE_H - 10)
        width = PLATE_H + 8 + metrics.horizontalAdvance(self.text) + 6
        plate = QRectF(0, -PLATE_H / 2, width, PLATE_H)
        resized = plate != self.plate
        if resized:
            self.prepareGeometryChange()
            self.plate = plate
        self.setToolTip(self.edge.toolTip())
        self.update()
        return resized

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.plate.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = self.edge.colour()
        painter.setPen(QPen(QColor(FOCUS) if self.edge.selected else colour,
                            2.0 if self.edge.selected else 1.0))
        painter.setBrush(QColor(PLATE_FILL))
        painter.drawRoundedRect(self.plate, 4, 4)
        key = QRectF(2, -PLATE_H / 2 + 2, PLATE_H - 4, PLATE_H - 4)
        # The default branch's key is filled: it is the one the run takes on its own.
        painter.setPen(QPen(colour, 1.5))
        painter.setBrush(colour if self.edge.branch.is_default else QBrush())
        painter.drawRoundedRect(key, 3, 3)
        painter.setFont(_font(11, bold=True))
        painter.setPen(QColor(BACKGROUND if self.edge.branch.is_default else TEXT))
        painter.drawText(key, Qt.AlignmentFlag.AlignCenter, self.edge.branch.hotkey[:1])
        painter.setFont(self.text_font)
        painter.setPen(QColor(TEXT))
        painter.drawText(self.plate.adjusted(PLATE_H + 4, 0, 0, 0),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.text)


class _HeadGrip(QGraphicsItem):
    """Where an arrow's head is grabbed to send the branch elsewhere; ringed when selected."""

    def __init__(self, edge: _BranchEdge) -> None:
        super().__init__()
        self.edge = edge
        self.setPos(edge.tip)
        self.setZValue(Z_GRIP)
        self.setToolTip(GRIP_TIP)
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def redraw(self) -> None:
        """Follow the edge's tip."""
        self.setPos(self.edge.tip)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-GRIP_R, -GRIP_R, 2 * GRIP_R, 2 * GRIP_R)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self.edge.selected:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(FOCUS), 2.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(0, 0), GRIP_R - 1, GRIP_R - 1)


@dataclass
class _Drag:
    mode: Literal["draw", "retarget"]
    segment: int
    branch: int
    pressed: QPointF
    started: bool = False


class ScenarioGraphView(QGraphicsView):
    """A scenario's segments as boxes in columns by distance from the start, branches as arrows.

    Draws from the plain data of a scenario file (`show`), valid or not, and says what the
    instructor asks for through its signals; indexes are positions in the file's
    ``segments`` list and in a segment's ``decision.branches`` list.
    """

    segment_selected = Signal(int)
    """A segment was clicked or reached with the keyboard: its index."""
    branch_selected = Signal(int, int)
    """A branch's arrow or label was clicked: its segment's index and its own."""
    branch_drawn = Signal(int, int)
    """A new branch was dragged from one segment onto another: from and to indexes."""
    branch_retargeted = Signal(int, int, int)
    """A branch's head was dragged onto a segment: segment, branch and new target indexes."""
    add_segment_requested = Signal()
    """Empty space was double-clicked."""
    delete_requested = Signal(str, list)
    """Delete was pressed: ``("segment", [i])`` or ``("branch", [i, j])``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor(BACKGROUND))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._segments: list[_Segment] = []
        self._nodes: dict[int, _SegmentNode] = {}
        self._edges: dict[tuple[int, int], _BranchEdge] = {}
        self._labels: dict[tuple[int, int], _BranchLabel] = {}
        self._grips: dict[tuple[int, int], _HeadGrip] = {}
        self._empty: QGraphicsSimpleTextItem | None = None
        self._grid: dict[int, tuple[int, int]] = {}
        self._shape: _Shape | None = None
        self._row_tops: dict[int, float] = {}
        self._row_heights: dict[int, float] = {}
        self._selection: Selection = None
        self._drag: _Drag | None = None
        self._band: QGraphicsPathItem | None = None
        self._hover: _SegmentNode | None = None
        # Fitted until the instructor zooms; resizing the window refits while it is.
        self._fitted = True
        # A child of the view, not of its viewport: the viewport's children scroll with it.
        self._hint = label(HINT, "hint")
        self._hint.setParent(self)
        self._hint.setWordWrap(True)
        self._hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._hint.setStyleSheet(f"background: {BACKGROUND}; color: {MUTED}; padding: 4px;")
        self._place_hint()

    # --- Drawing --------------------------------------------------------------------------

    def show(self, scenario: Mapping[str, Any] | None = None, *,
             problems: Mapping[int, str | Problem] = _NO_PROBLEMS,
             selected: Selection = None) -> None:
        """Draw ``scenario`` (the plain data of a scenario file), valid or not.

        ``problems`` gives a segment's worst lint problem by its index, drawn as a marker
        with the text as its tooltip: a `Problem` that is a warning in amber, anything else
        in red. ``selected`` selects a segment or branch; without it, what was selected
        stays selected if it is still drawn. Called with no scenario, it shows the widget
        as `QWidget.show` does.

        Only what changed since the last call is drawn again: the boxes and arrows stay,
        the layout is worked out again only when the segments, branch targets or start
        changed, and only the arrows whose course changed are routed again.
        """
        if scenario is None:
            super().show()
            return
        self._cancel_drag()
        scene = self.scene()
        self._segments = _read(scenario)
        shape = _shape(self._segments)
        reshaped = shape != self._shape
        if reshaped:
            self._shape = shape
            self._grid = _grid(self._segments)
            self._measure_rows()
        moved = self._place_nodes(problems)
        moved = self._route_branches(reroute=reshaped) or moved
        if not self._segments and self._empty is None:
            self._empty = QGraphicsSimpleTextItem(
                "No segments yet: double-click here to add one")
            self._empty.setFont(_font(15, bold=True))
            self._empty.setBrush(QColor(MUTED))
            scene.addItem(self._empty)
            moved = True
        elif self._segments and self._empty is not None:
            scene.removeItem(self._empty)
            self._empty = None
            moved = True
        # Measuring every item is a good part of a redraw: only when something moved.
        if moved:
            scene.setSceneRect(scene.itemsBoundingRect().adjusted(-MARGIN, -MARGIN, MARGIN,
                                                                  MARGIN))
        wanted = selected if selected is not None else self._selection
        self._set_selection(wanted if self._drawn(wanted) else None)
        if self._fitted:
            self.fit_to_view()

    def _measure_rows(self) -> None:
        """Each row's top and height: the height of its tallest box."""
        heights: dict[int, float] = {}
        for segment in self._segments:
            row = self._grid[segment.index][1]
            heights[row] = max(heights.get(row, 0.0), _node_height(segment))
        tops: dict[int, float] = {}
        y = MARGIN
        for row in sorted(heights):
            tops[row] = y
            y += heights[row] + ROW_GAP
        self._row_tops, self._row_heights = tops, heights

    def _top_left(self, index: int) -> Point:
        column, row = self._grid[index]
        return self._column_left(column), self._row_tops[row]

    def _place_nodes(self, problems: Mapping[int, str | Problem]) -> bool:
        """Make, move or redraw the boxes that changed; whether any was made, moved or went."""
        scene = self.scene()
        moved = False
        made: list[int] = []
        for segment in self._segments:
            top_left = self._top_left(segment.index)
            problem = problems.get(segment.index)
            node = self._nodes.get(segment.index)
            if node is None:
                node = _SegmentNode(segment, top_left, problem)
                scene.addItem(node)
                self._nodes[segment.index] = node
                made.append(segment.index)
                moved = True
            elif node.redraw(segment, top_left, problem):
                moved = True
        for index in [i for i in self._nodes if i >= len(self._segments)]:
            scene.removeItem(self._nodes.pop(index))
            moved = True
        _restack(self._nodes, made)
        return moved

    @staticmethod
    def _column_left(column: int) -> float:
        return MARGIN + column * (NODE_W + COLUMN_GAP)

    def _corridor_y(self, row: int, below: bool) -> float:
        """The middle of the free band between rows, above or below ``row``."""
        top, height = self._row_tops[row], self._row_heights[row]
        return top + height + ROW_GAP / 2 if below else top - ROW_GAP / 2

    def _route_branches(self, *, reroute: bool) -> bool:
        """Make or redraw the arrows that changed; whether any was made, moved or went.

        Unless ``reroute``, the layout is as it was, and so is every arrow's course.
        """
        routes = self._routes() if reroute else {
            name: edge.route for name, edge in self._edges.items()}
        scene = self.scene()
        moved = False
        made: list[tuple[int, int]] = []
        for segment in self._segments:
            for branch in segment.branches:
                name = (segment.index, branch.index)
                route = routes[name]
                edge = self._edges.get(name)
                if edge is None:
                    edge = _BranchEdge(segment.index, branch, route)
                    self._edges[name] = edge
                    self._labels[name] = _BranchLabel(edge)
                    self._grips[name] = _HeadGrip(edge)
                    for item in (edge, self._labels[name], self._grips[name]):
                        scene.addItem(item)
                    made.append(name)
                    moved = True
                    continue
                rerouted = route != edge.route
                if edge.redraw(branch, route):
                    resized = self._labels[name].redraw()
                    self._grips[name].redraw()
                    moved = moved or rerouted or resized
        for name in [name for name in self._edges if name not in routes]:
            for item in (self._edges.pop(name), self._labels.pop(name), self._grips.pop(name)):
                scene.removeItem(item)
            moved = True
        for items in (self._edges, self._labels, self._grips):
            _restack(items, made)
        return moved

    def _routes(self) -> dict[tuple[int, int], _Route]:
        """Every arrow's course, never crossing a box.

        An arrow to the next column is a curve across the gap between them, into the
        target's left side. Any other (back, within a column, over a column) leaves along
        a lane in the gap right of its own column, runs along the band between rows next
        to its target, and comes into the target from above or below. Worked out in plain
        numbers: a change of layout routes every arrow again, and redraws those that moved.
        """
        # Each box's left, top and height, and where its branches leave it.
        boxes: dict[int, tuple[float, float, float]] = {}
        ports: dict[tuple[int, int], Point] = {}
        for segment in self._segments:
            x, y = self._top_left(segment.index)
            height = _node_height(segment)
            boxes[segment.index] = (x, y, height)
            top = 8.0 + (height - 40.0 - max(len(segment.branches), 1) * PORT_STEP) / 2
            for branch in segment.branches:
                ports[segment.index, branch.index] = (
                    x + NODE_W, y + (top + PORT_STEP * (branch.index + 0.5)))
        near: dict[int, list[tuple[float, int, int]]] = {}
        for segment in self._segments:
            column = self._grid[segment.index][0]
            for branch in segment.branches:
                target = branch.target
                if target is not None and self._grid[target][0] == column + 1:
                    port_y = ports[segment.index, branch.index][1]
                    near.setdefault(target, []).append((port_y, segment.index, branch.index))
        entries: dict[tuple[int, int], Point] = {}
        for target, arriving in near.items():
            left, top, height = boxes[target]
            step = min(18.0, (height - 16) / len(arriving))
            first = (top + height / 2) - step * (len(arriving) - 1) / 2
            for k, (_, i, j) in enumerate(sorted(arriving)):
                entries[i, j] = (left, first + k * step)
        lanes: dict[tuple[str, float], int] = {}
        routes: dict[tuple[int, int], _Route] = {}
        for segment in self._segments:
            right = boxes[segment.index][0] + NODE_W
            lead_x = right + 10 + LABEL_MAX_W + 4
            for branch in segment.branches:
                name = (segment.index, branch.index)
                port = ports[name]
                entry = entries.get(name)
                if branch.target is None:
                    routes[name] = ("line", (port, (lead_x + 30, port[1])))
                elif entry is not None:
                    routes[name] = ("curve", (port, entry))
                else:
                    routes[name] = self._corners(segment.index, branch.target, port, lead_x,
                                                 boxes[branch.target], lanes)
        return routes

    def _corners(self, source: int, target: int, port: Point, lead_x: float,
                 box: tuple[float, float, float], lanes: dict[tuple[str, float], int]
                 ) -> _Route:
        """The course of an arrow that goes round the boxes, taking the next free lanes."""
        left, top, height = box
        below = self._grid[source][1] > self._grid[target][1]
        column_key = ("v", lead_x)
        lane_x = lead_x + 8 + LANE_STEP * (lanes.get(column_key, 0) % 6)
        lanes[column_key] = lanes.get(column_key, 0) + 1
        corridor = self._corridor_y(self._grid[target][1], below)
        band_key = ("h", corridor)
        band_y = corridor + LANE_STEP * (lanes.get(band_key, 0) % 5 - 2)
        lanes[band_key] = lanes.get(band_key, 0) + 1
        entry_key = ("bottom" if below else "top", float(target))
        k = lanes.get(entry_key, 0) % 6
        lanes[entry_key] = k + 1
        # Into the top left of centre, into the bottom right of it: two boxes one above the
        # other with arrows both ways would otherwise draw them on one line.
        side = 1 if below else -1
        entry_x = left + NODE_W / 2 + side * (12 + ENTRY_STEP * k)
        tip_y = top + height if below else top
        before = (entry_x, tip_y + (HEAD_LEN - 2) * (1 if below else -1))
        return ("corners", (port, (lane_x, port[1]), (lane_x, band_y), (entry_x, band_y),
                            before, (entry_x, tip_y)))

    # --- What is drawn where (also for tests and for the studio's own overlays) -----------

    def segment_indexes(self) -> list[int]:
        """The indexes of the segments drawn, in the file's order."""
        return sorted(self._nodes)

    def branch_indexes(self) -> list[tuple[int, int]]:
        """The (segment, branch) indexes of the branches drawn, dangling ones included."""
        return sorted(self._edges)

    def dangling_branches(self) -> list[tuple[int, int]]:
        """The branches drawn whose ``to`` is missing or names no segment."""
        return sorted(name for name, edge in self._edges.items() if edge.dangling)

    def segment_rect(self, index: int) -> QRectF:
        """Segment ``index``'s box, in scene coordinates."""
        return self._nodes[index].scene_box()

    def out_handle(self, index: int) -> QPointF:
        """The centre of the handle that new branches are dragged from, in scene coordinates."""
        return self._nodes[index].handle.scenePos()

    def branch_anchor(self, segment: int, branch: int) -> QPointF:
        """A point on a branch's label that selects it when clicked, in scene coordinates."""
        plate = self._labels[segment, branch]
        return plate.mapToScene(plate.plate.center())

    def branch_head(self, segment: int, branch: int) -> QPointF:
        """The tip of a branch's arrow, which is dragged to retarget it, in scene coordinates."""
        return QPointF(self._edges[segment, branch].tip)

    # --- Selection ------------------------------------------------------------------------

    @property
    def selection(self) -> Selection:
        """What is selected now."""
        return self._selection

    def select_segment(self, index: int) -> None:
        """Select segment ``index`` and centre it, without emitting `segment_selected`."""
        if index in self._nodes:
            self._set_selection(index)
            self.centerOn(self._nodes[index].scene_box().center())

    def select_branch(self, segment: int, branch: int) -> None:
        """Select a branch and centre its label, without emitting `branch_selected`."""
        if (segment, branch) in self._edges:
            self._set_selection((segment, branch))
            self.centerOn(self.branch_anchor(segment, branch))

    def clear_selection(self) -> None:
        """Select nothing."""
        self._set_selection(None)

    def _drawn(self, selection: Selection) -> bool:
        if isinstance(selection, tuple):
            return selection in self._edges
        return selection is not None and selection in self._nodes

    def _set_selection(self, selection: Selection) -> None:
        self._selection = selection
        # Only what gains or loses the selection is painted again.
        for i, node in self._nodes.items():
            if node.selected != (selection == i):
                node.selected = selection == i
                node.update()
        for name, edge in self._edges.items():
            if edge.selected != (selection == name):
                edge.selected = selection == name
                for item in (edge, self._labels[name], self._grips[name]):
                    item.update()

    def _pick_segment(self, index: int) -> None:
        self._set_selection(index)
        self.ensureVisible(self._nodes[index].scene_box(), 40, 40)
        self.segment_selected.emit(index)

    def _pick_branch(self, segment: int, branch: int) -> None:
        self._set_selection((segment, branch))
        self.branch_selected.emit(segment, branch)

    # --- Zoom -----------------------------------------------------------------------------

    def fit_to_view(self) -> None:
        """Show the whole scenario, never larger than life; it stays fitted until a zoom."""
        self._fitted = True
        area = self.scene().sceneRect()
        port = self.viewport().rect()
        if area.isEmpty() or port.isEmpty():
            return
        scale = min(port.width() / area.width(), port.height() / area.height(), 1.0)
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(area.center())

    def zoom_by(self, factor: float) -> None:
        """Zoom in (``factor`` > 1) or out, within readable limits."""
        scale = self.transform().m11()
        factor = min(max(scale * factor, ZOOM_MIN), ZOOM_MAX) / scale
        self._fitted = False
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        """Ctrl+wheel zooms under the mouse; the wheel alone scrolls."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP ** (event.angleDelta().y() / 120))
            event.accept()
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        """Keep the hint along the bottom, and the scenario fitted if it was."""
        super().resizeEvent(event)
        self._place_hint()
        if self._fitted:
            self.fit_to_view()

    def _place_hint(self) -> None:
        # Below the drawing, in a margin of its own, so that it never hides a box.
        port = self.viewport().geometry()
        width = max(port.width() - 16, 100)
        height = self._hint.heightForWidth(width)
        if self.viewportMargins().bottom() != height + 4:
            self.setViewportMargins(0, 0, 0, height + 4)
            port = self.viewport().geometry()
        self._hint.setGeometry(port.left() + 8, port.bottom() + 3, width, height)

    # --- Mouse ----------------------------------------------------------------------------

    def _hit(self, at: QPointF) -> QGraphicsItem | None:
        """The topmost item under ``at`` (viewport pixels) that means something to a click."""
        for item in self.items(at.toPoint()):
            if isinstance(item, _ProblemMarker):
                return item.parentItem()
            if isinstance(item, _OutHandle | _HeadGrip | _SegmentNode | _BranchLabel
                          | _BranchEdge):
                return item
        return None

    def _node_at(self, at: QPointF) -> _SegmentNode | None:
        item = self._hit(at)
        if isinstance(item, _OutHandle):
            return item.node
        return item if isinstance(item, _SegmentNode) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Select what is under the mouse, or start dragging a branch; empty space pans."""
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        left = event.button() == Qt.MouseButton.LeftButton
        item = self._hit(event.position()) if left else None
        if item is None:
            if left:
                self.clear_selection()
            super().mousePressEvent(event)
            return
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if isinstance(item, _OutHandle) or (isinstance(item, _SegmentNode) and shift):
            node = item.node if isinstance(item, _OutHandle) else item
            self._drag = _Drag("draw", node.segment.index, -1, event.position())
        elif isinstance(item, _HeadGrip):
            edge = item.edge
            self._drag = _Drag("retarget", edge.segment, edge.branch.index, event.position())
        elif isinstance(item, _SegmentNode):
            self._pick_segment(item.segment.index)
        elif isinstance(item, _BranchLabel | _BranchEdge):
            edge = item.edge if isinstance(item, _BranchLabel) else item
            self._pick_branch(edge.segment, edge.branch.index)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Draw the rubber-band arrow and mark the segment it would land on."""
        drag = self._drag
        if drag is None:
            super().mouseMoveEvent(event)
            return
        if not drag.started:
            moved = (event.position() - drag.pressed).manhattanLength()
            if moved < QApplication.startDragDistance():
                return
            drag.started = True
            self._band = QGraphicsPathItem()
            self._band.setZValue(Z_BAND)
            self._band.setPen(QPen(QColor(FOCUS), 2.5, Qt.PenStyle.DashLine))
            self._band.setBrush(QColor(FOCUS))
            self.scene().addItem(self._band)
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        here = self.mapToScene(event.position().toPoint())
        if drag.mode == "draw":
            origin = self.out_handle(drag.segment)
        else:
            origin = self._nodes[drag.segment].port(drag.branch)
        band = QPainterPath(origin)
        band.lineTo(here)
        band.addPolygon(_arrow_head(here, origin))
        assert self._band is not None
        self._band.setPath(band)
        self._set_hover(self._drop_target(event.position()))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Finish a drag: a new branch, or a branch sent elsewhere, when dropped on a segment."""
        drag = self._drag
        if drag is None:
            super().mouseReleaseEvent(event)
            return
        target = self._drop_target(event.position()) if drag.started else None
        self._cancel_drag()
        if not drag.started:
            if drag.mode == "retarget":
                self._pick_branch(drag.segment, drag.branch)
            else:
                self._pick_segment(drag.segment)
        elif target is not None and drag.mode == "draw":
            self.branch_drawn.emit(drag.segment, target)
        elif target is not None:
            self.branch_retargeted.emit(drag.segment, drag.branch, target)
        event.accept()

    def _drop_target(self, at: QPointF) -> int | None:
        """The segment a drag would land on; never its own segment, nor where it goes now."""
        node = self._node_at(at)
        drag = self._drag
        if node is None or drag is None or node.segment.index == drag.segment:
            return None
        if drag.mode == "retarget":
            current = self._edges[drag.segment, drag.branch].branch.target
            if node.segment.index == current:
                return None
        return node.segment.index

    def _set_hover(self, index: int | None) -> None:
        node = self._nodes.get(index) if index is not None else None
        if node is self._hover:
            return
        for old_or_new, on in ((self._hover, False), (node, True)):
            if old_or_new is not None:
                old_or_new.drop_target = on
                old_or_new.update()
        self._hover = node

    def _cancel_drag(self) -> None:
        self._drag = None
        self._set_hover(None)
        if self._band is not None:
            self.scene().removeItem(self._band)
            self._band = None
        self.viewport().unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Double-click on empty space asks for a new segment."""
        if event.button() == Qt.MouseButton.LeftButton and self._hit(event.position()) is None:
            self.add_segment_requested.emit()
        event.accept()

    # --- Keyboard -------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Arrows move between segments, Delete asks to delete, F fits, Escape cancels."""
        key = event.key()
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._selection is not None:
            selection = self._selection
            if isinstance(selection, tuple):
                self.delete_requested.emit("branch", list(selection))
            else:
                self.delete_requested.emit("segment", [selection])
        elif key == Qt.Key.Key_Escape:
            if self._drag is not None:
                self._cancel_drag()
            else:
                self.clear_selection()
        elif key == Qt.Key.Key_F or (ctrl and key == Qt.Key.Key_0):
            self.fit_to_view()
        elif ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif ctrl and key == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif key in _DIRECTIONS and self._nodes:
            self._move(*_DIRECTIONS[Qt.Key(key)])
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802 - Qt's name
        """Tab and Shift+Tab step through the segments in the file's order, then move on."""
        order = self.segment_indexes()
        if not order:
            return super().focusNextPrevChild(next)
        current = self._selection if isinstance(self._selection, int) else None
        if current is None:
            self._pick_segment(order[0] if next else order[-1])
            return True
        at = order.index(current) + (1 if next else -1)
        if not 0 <= at < len(order):
            return super().focusNextPrevChild(next)
        self._pick_segment(order[at])
        return True

    def _move(self, columns: int, rows: int) -> None:
        """Select the nearest segment that way; from a branch, Left and Right go to its ends."""
        selection = self._selection
        if isinstance(selection, tuple):
            edge = self._edges[selection]
            goal = edge.branch.target if columns > 0 else edge.segment if columns < 0 else None
            if goal is not None:
                self._pick_segment(goal)
            return
        if selection is None:
            self._pick_segment(self.segment_indexes()[0])
            return
        column, row = self._grid[selection]
        if columns:
            found = [(abs(c - column), abs(r - row), i) for i, (c, r) in self._grid.items()
                     if (c - column) * columns > 0]
        else:
            found = [(abs(r - row), 0, i) for i, (c, r) in self._grid.items()
                     if c == column and (r - row) * rows > 0]
        if found:
            self._pick_segment(min(found)[2])


_DIRECTIONS = {Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Left: (-1, 0),
               Qt.Key.Key_Down: (0, 1), Qt.Key.Key_Up: (0, -1)}


def _rounded(path: QPainterPath, points: Sequence[Point]) -> None:
    """Continue ``path`` through ``points`` (the first is where it is), corners rounded."""
    # In plain numbers rather than QLineF: there are hundreds of corners to a redraw.
    radius = 10.0
    for (before_x, before_y), (x, y), (after_x, after_y) in zip(
            points, points[1:], points[2:], strict=False):
        into = math.hypot(before_x - x, before_y - y)
        out = math.hypot(after_x - x, after_y - y)
        cut = min(radius, into / 2, out / 2)
        if cut <= 0:
            path.lineTo(x, y)
            continue
        path.lineTo(x + cut * ((before_x - x) / into), y + cut * ((before_y - y) / into))
        path.quadTo(x, y, x + cut * ((after_x - x) / out), y + cut * ((after_y - y) / out))
    path.lineTo(*points[-1])
