"""The scenario as a small map: every segment and branch, the path taken, where the run is."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from simulator.scenario import ScenarioOutline

# Branch kinds in the colours of the live panel's buttons.
KIND_COLOURS = {"escalate": "#c0392b", "de_escalate": "#27ae60"}
NEUTRAL = "#5d6d7e"
TAKEN = "#f5c542"
MARGIN = 6.0
# Boxes fill the widget up to these sizes; text stays readable (never below MIN_TEXT_PX).
MAX_NODE_W, MAX_NODE_H, MIN_TEXT_PX, MAX_TEXT_PX = 170.0, 48.0, 11, 14


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
        node_w, node_h = min(MAX_NODE_W, cell_w * 0.8), min(MAX_NODE_H, cell_h * 0.8)
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
        some_box = next(iter(boxes.values()))
        font = QFont(self.font())
        font.setPixelSize(max(MIN_TEXT_PX, min(MAX_TEXT_PX, round(some_box.height() * 0.3))))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        current = self.path[-1] if self.path else None
        for segment in self.outline.segments:
            box = boxes[segment.id]
            visited = segment.id in self.path
            painter.setPen(QPen(QColor(TAKEN if visited else "#4a5563"), 2.0))
            painter.setBrush(QColor(TAKEN if segment.id == current else
                                    "#3a4552" if visited else "#1b2129"))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor("#111418" if segment.id == current else "#e8e8e8"))
            label = f"■ {segment.title}" if segment.outcome else segment.title
            inner = box.adjusted(4, 2, -4, -2)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            if metrics.boundingRect(inner.toRect(), flags, label).height() > inner.height():
                # Two lines do not hold it: one line, cut short, reads better than a clipped
                # second line.
                flags = Qt.AlignmentFlag.AlignCenter
                label = metrics.elidedText(label, Qt.TextElideMode.ElideRight,
                                           round(inner.width()))
            painter.drawText(inner, flags, label)
        painter.end()
