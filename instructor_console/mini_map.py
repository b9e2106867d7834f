"""The scenario as a small map: every segment and branch, the path taken, where the run is."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from instructor_console.theme import plain_tooltip
from simulator.scenario import ScenarioOutline

# Branch kinds in the colours of the live panel's buttons.
KIND_COLOURS = {"escalate": "#c0392b", "de_escalate": "#27ae60"}
NEUTRAL = "#5d6d7e"
TAKEN = "#f5c542"
MARGIN = 6.0
# Boxes fill the widget up to these sizes; text stays readable (never below MIN_TEXT_PX).
# A box is tall enough for a title of four short lines.
MAX_NODE_W, MAX_NODE_H, MIN_TEXT_PX, MAX_TEXT_PX = 200.0, 72.0, 11, 14
# The share of a column a box takes: the rest is room for the branch lines between columns.
NODE_SHARE_W, NODE_SHARE_H = 0.84, 0.8
LABEL_FLAGS = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
ELLIPSIS = "…"


@dataclass(frozen=True)
class MapLabel:
    """A segment's label as drawn: ``text`` laid out in ``area`` fills ``rect``.

    ``text`` is ``whole`` unless the map is too small for it, when it is cut short with
    "…" (and ``whole`` is the box's tooltip).
    """

    segment_id: str
    whole: str
    text: str
    area: QRectF
    rect: QRectF


class MiniMap(QWidget):
    """Draws a `ScenarioOutline` to fit; `show_path` marks the path taken and the segment."""

    def __init__(self) -> None:
        super().__init__()
        self.outline: ScenarioOutline | None = None
        self.path: list[str] = []
        self.setMinimumSize(320, 160)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Room for a handful of columns."""
        return QSize(480, 240)

    def set_outline(self, outline: ScenarioOutline | None) -> None:
        """Draw this scenario (None: nothing to draw yet)."""
        self.outline = outline
        self.update()

    def show_path(self, path: list[str]) -> None:
        """Mark the segments played so far, in order; the last is the one on screen."""
        if path != self.path:
            self.path = list(path)
            self.update()

    def boxes(self) -> dict[str, QRectF]:
        """Each segment's box in widget pixels: columns across, rows down, filling the widget.

        Sizes are worked out in pixels rather than by scaling a drawing, so that the
        labels keep a readable size whatever the number of segments.
        """
        assert self.outline is not None
        columns = max(s.column for s in self.outline.segments) + 1
        rows = max(s.row for s in self.outline.segments) + 1
        cell_w = (self.width() - 2 * MARGIN) / columns
        cell_h = (self.height() - 2 * MARGIN) / rows
        node_w = min(MAX_NODE_W, cell_w * NODE_SHARE_W)
        node_h = min(MAX_NODE_H, cell_h * NODE_SHARE_H)
        return {s.id: QRectF(MARGIN + s.column * cell_w + (cell_w - node_w) / 2,
                             MARGIN + s.row * cell_h + (cell_h - node_h) / 2, node_w, node_h)
                for s in self.outline.segments}

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Branches as lines, then segments as boxes; the path in yellow, the current filled."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#0b0e11"))
        if self.outline is None or not self.outline.segments:
            return
        boxes = self.boxes()
        taken = set(zip(self.path, self.path[1:], strict=False))
        for branch in self.outline.branches:
            if branch.source not in boxes or branch.target not in boxes:
                continue
            a, b = boxes[branch.source], boxes[branch.target]
            on_path = (branch.source, branch.target) in taken
            colour = TAKEN if on_path else KIND_COLOURS.get(branch.kind, NEUTRAL)
            pen = QPen(QColor(colour), 3.0 if on_path else 1.5)
            pen.setStyle(Qt.PenStyle.SolidLine if branch.is_default or on_path
                         else Qt.PenStyle.DashLine)
            painter.setPen(pen)
            start = QPointF(a.right(), a.center().y())
            end = QPointF(b.left(), b.center().y())
            if b.left() <= a.left():  # back to an earlier column: go round underneath
                start, end = QPointF(a.center().x(), a.bottom()), QPointF(b.center().x(),
                                                                           b.bottom())
            painter.drawLine(start, end)
        font = self.label_font()
        painter.setFont(font)
        current = self.path[-1] if self.path else None
        labels = {label.segment_id: label for label in self._labels(font)}
        for segment in self.outline.segments:
            box = boxes[segment.id]
            visited = segment.id in self.path
            painter.setPen(QPen(QColor(TAKEN if visited else "#4a5563"), 2.0))
            painter.setBrush(QColor(TAKEN if segment.id == current else
                                    "#3a4552" if visited else "#1b2129"))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor("#111418" if segment.id == current else "#e8e8e8"))
            label = labels[segment.id]
            painter.drawText(label.area.toRect(), LABEL_FLAGS, label.text)
        painter.end()

    def label_font(self) -> QFont:
        """The labels' font: the largest size, within the readable range, at which all fit.

        One size for every box, so that the map reads as one drawing; below the smallest
        readable size, labels are cut short instead.
        """
        assert self.outline is not None
        boxes = self.boxes()
        wanted = [(_area(boxes[s.id]), _whole(s.title, s.outcome)) for s in self.outline.segments]
        font = QFont(self.font())
        for pixels in range(MAX_TEXT_PX, MIN_TEXT_PX, -1):
            font.setPixelSize(pixels)
            metrics = QFontMetrics(font)
            if all(_fits(metrics, area, text) for area, text in wanted):
                return font
        font.setPixelSize(MIN_TEXT_PX)
        return font

    def labels(self) -> list[MapLabel]:
        """Each segment's label as it is drawn, in the outline's order."""
        return self._labels(self.label_font())

    def _labels(self, font: QFont) -> list[MapLabel]:
        assert self.outline is not None
        metrics = QFontMetrics(font)
        boxes = self.boxes()
        found = []
        for segment in self.outline.segments:
            area = _area(boxes[segment.id])
            whole = text = _whole(segment.title, segment.outcome)
            # Character by character rather than word by word: a long first word is cut
            # rather than left out, and the box holds as much as it can.
            kept = len(whole)
            while not _fits(metrics, area, text) and kept > 0:
                kept -= 1
                text = whole[:kept].rstrip() + ELLIPSIS
            found.append(MapLabel(segment.id, whole, text, area, QRectF(
                metrics.boundingRect(area.toRect(), LABEL_FLAGS, text))))
        return found

    def event(self, event: QEvent) -> bool:
        """A label cut short shows whole as the tooltip of its box."""
        if event.type() != QEvent.Type.ToolTip or self.outline is None:
            return super().event(event)
        assert isinstance(event, QHelpEvent)
        boxes = self.boxes()
        under = next((label for label in self.labels()
                      if boxes[label.segment_id].contains(QPointF(event.pos()))), None)
        if under is not None and under.text != under.whole:
            QToolTip.showText(event.globalPos(), plain_tooltip(under.whole), self)
        else:
            QToolTip.hideText()
            event.ignore()
        return True


def _whole(title: str, outcome: str | None) -> str:
    return f"■ {title}" if outcome else title


def _area(box: QRectF) -> QRectF:
    """Where a box's label is laid out: inside its rounded border."""
    return box.adjusted(4, 2, -4, -2)


def _fits(metrics: QFontMetrics, area: QRectF, text: str) -> bool:
    return area.toRect().contains(metrics.boundingRect(area.toRect(), LABEL_FLAGS, text))
