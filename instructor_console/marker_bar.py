"""A run's timeline as a bar: segments as bands, a tick per marker, a click to seek there."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from simulator.review.timeline import Timeline

# Marker kinds worth a tick, with their colour and their row (0 at the top).
TICKS = {"cue": ("#e67e22", 0), "recording": ("#ff7eb6", 0), "input": ("#9b59b6", 1),
         "decision": ("#3498db", 1), "heard": ("#2ecc71", 1), "choice": ("#ecf0f1", 2),
         "default": ("#7f8c8d", 2), "jump": ("#ecf0f1", 2), "flag": ("#e74c3c", 3),
         "retraction": ("#e74c3c", 3), "refusal": ("#f1c40f", 3),
         "media_failed": ("#f1c40f", 3)}
ROWS = 4
MARGIN = 8.0
# What each colour of tick means, top row first, for the legend under the bar.
LEGEND = (("#e67e22", "cue"), ("#ff7eb6", "trainee recording started or stopped"),
          ("#3498db", "decision"), ("#9b59b6", "trainee input"),
          ("#2ecc71", "phrase heard"),
          ("#ecf0f1", "branch chosen or jump"), ("#7f8c8d", "default branch"),
          ("#e74c3c", "flag or retraction"), ("#f1c40f", "refused or media failure"))


def legend_html() -> str:
    """The ticks' legend as rich text: a coloured block and its meaning for each colour.

    Every word in it is fixed here, never a name from the record.
    """
    def unbroken(text: str) -> str:  # an entry breaks only between entries
        return text.replace(" ", "&nbsp;")

    entries = [f'<span style="color:{colour}">&#9608;</span>&nbsp;{unbroken(meaning)}'
               for colour, meaning in LEGEND]
    entries += [unbroken("thin tick: retracted"), unbroken("shaded: paused")]
    return "&nbsp;&nbsp; ".join(entries)


class MarkerBar(QWidget):
    """Emits `seek_requested` with the moment (s) under a click."""

    seek_requested = Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self.timeline: Timeline | None = None
        self.position = 0.0
        self.setMinimumHeight(70)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Wide and low, under the picture."""
        return QSize(800, 80)

    def set_timeline(self, timeline: Timeline | None) -> None:
        """Draw this run."""
        self.timeline = timeline
        self.position = 0.0
        self.update()

    def set_position(self, at_s: float) -> None:
        """Move the playhead."""
        self.position = at_s
        self.update()

    def x_of(self, at_s: float) -> float:
        """Where ``at_s`` is drawn."""
        duration = self.timeline.duration_s if self.timeline else 0.0
        return MARGIN + (self.width() - 2 * MARGIN) * (at_s / duration if duration else 0.0)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Seek to the moment under the pointer."""
        if self.timeline is None or self.timeline.duration_s <= 0:
            return
        share = (event.position().x() - MARGIN) / max(1.0, self.width() - 2 * MARGIN)
        self.seek_requested.emit(min(max(share, 0.0), 1.0) * self.timeline.duration_s)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Bands, ticks, pauses and the playhead."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#0b0e11"))
        if self.timeline is None:
            return
        row_h = (self.height() - 2 * MARGIN) / ROWS
        for i, shot in enumerate(self.timeline.shots):
            band = QRectF(QPointF(self.x_of(shot.start_s), MARGIN),
                          QPointF(self.x_of(shot.end_s), self.height() - MARGIN))
            painter.fillRect(band, QColor("#1f2a36" if i % 2 else "#26323f"))
            for start, end in shot.pauses:
                painter.fillRect(QRectF(QPointF(self.x_of(start), MARGIN),
                                        QPointF(self.x_of(end), self.height() - MARGIN)),
                                 QColor(255, 255, 255, 30))
        for marker in self.timeline.markers:
            tick = TICKS.get(marker.kind)
            if tick is None:
                continue
            colour, row = tick
            x = self.x_of(marker.at_s)
            painter.setPen(QPen(QColor(colour), 3.0 if not marker.retracted else 1.0))
            painter.drawLine(QPointF(x, MARGIN + row * row_h + 2),
                             QPointF(x, MARGIN + (row + 1) * row_h - 2))
        painter.setPen(QPen(QColor("#f5c542"), 2.0))
        x = self.x_of(self.position)
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()
