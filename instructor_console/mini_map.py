"""The scenario as a small map: every segment and branch, the path taken, where the run is."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from simulator.scenario import ScenarioOutline

# Branch kinds in the colours of the live panel's buttons.
KIND_COLOURS = {"escalate": "#c0392b", "de_escalate": "#27ae60"}
NEUTRAL = "#5d6d7e"
TAKEN = "#f5c542"
NODE_W, NODE_H, GAP_X, GAP_Y = 120.0, 34.0, 46.0, 14.0


class MiniMap(QWidget):
    """Draws a `ScenarioOutline` scaled to fit; `show_path` marks the path and the segment."""

    def __init__(self) -> None:
        super().__init__()
        self.outline: ScenarioOutline | None = None
        self.path: list[str] = []
        self.setMinimumSize(320, 180)

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

    def _boxes(self) -> dict[str, QRectF]:
        assert self.outline is not None
        return {s.id: QRectF(s.column * (NODE_W + GAP_X), s.row * (NODE_H + GAP_Y), NODE_W,
                             NODE_H) for s in self.outline.segments}

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Nodes as boxes, branches as lines; the path taken in yellow, the current filled."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#0b0e11"))
        if self.outline is None or not self.outline.segments:
            return
        boxes = self._boxes()
        bounds = QRectF()
        for box in boxes.values():
            bounds = bounds.united(box)
        margin = 8.0
        scale = min((self.width() - 2 * margin) / bounds.width(),
                     (self.height() - 2 * margin) / bounds.height(), 1.6)
        painter.translate(margin, margin)
        painter.scale(scale, scale)
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
            painter.drawLine(QPointF(a.right(), a.center().y()),
                             QPointF(b.left(), b.center().y()))
        font = QFont(self.font())
        font.setPixelSize(12)
        painter.setFont(font)
        current = self.path[-1] if self.path else None
        for segment in self.outline.segments:
            box = boxes[segment.id]
            visited = segment.id in self.path
            fill = QColor(TAKEN if segment.id == current else
                          "#3a4552" if visited else "#1b2129")
            painter.setPen(QPen(QColor(TAKEN if visited else "#4a5563"), 2.0))
            painter.setBrush(fill)
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor("#111418" if segment.id == current else "#e8e8e8"))
            label = segment.title if len(segment.title) <= 18 else segment.title[:17] + "…"
            if segment.outcome:
                label = f"■ {label}"
            painter.drawText(box.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignCenter, label)
        painter.end()
