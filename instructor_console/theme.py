"""The console's look: dark, large type, strong colours only where they mean something.

Sizes are in points, so Qt scales them on high-DPI screens.
"""

from pathlib import Path

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QHelpEvent, QPaintEvent
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QListView,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolTip,
)

DARK = """
QWidget { background: #111418; color: #e8e8e8; font-size: 15pt; }
QPushButton { background: #232a33; border: 2px solid #3a4552; border-radius: 8px;
              padding: 12px; font-size: 18pt; text-align: left; }
QPushButton:focus { border-color: #f5c542; }
QPushButton[kind="escalate"] { border-color: #c0392b; }
QPushButton[kind="de_escalate"] { border-color: #27ae60; }
QPushButton[default="true"] { background: #2e3a48; }
QPushButton[compact="true"] { padding: 8px; font-size: 15pt; }
QLineEdit, QComboBox, QListWidget { background: #1b2129; border: 1px solid #3a4552;
              padding: 4px; }
/* A rule for every item, not only the selected one: Qt lays out the items a rule covers on
   its own, and the check box of a selected item would otherwise overlap its text. */
QListWidget::item { padding: 0px; }
QListWidget::item:selected { background: #3a4552; color: #ffffff; }
QLabel#countdown { font-size: 30pt; font-weight: bold; color: #f5c542; }
QLabel#segment { font-size: 22pt; font-weight: bold; }
QLabel#heading { font-size: 12pt; color: #9aa5b1; text-transform: uppercase; }
QLabel#status, QLabel#hint, QLabel#logging { color: #9aa5b1; font-size: 12pt; }
QLabel#warning { color: #ff8a7a; font-size: 14pt; }
QLabel#cues { font-family: monospace; font-size: 12pt; }
QLabel#preview { background: #000000; color: #5d6d7e; }
QLabel#pairing { font-size: 18pt; font-weight: bold; color: #f5c542; }
/* Qt draws an empty check box or radio button dark on the dark background, all but
   invisible; this border stands out from it by over 3:1, as WCAG 2.1 asks of what
   identifies a control. */
QCheckBox::indicator, QAbstractItemView::indicator { width: 18px; height: 18px;
              border: 2px solid #9aa5b1; border-radius: 3px; background: #1b2129; }
QCheckBox::indicator:checked, QAbstractItemView::indicator:checked { background: #f5c542;
              border-color: #f5c542; image: url("CHECK_MARK"); }
QCheckBox::indicator:focus { border-color: #f5c542; }
QCheckBox::indicator:checked:focus { border-color: #ffffff; }
QCheckBox::indicator:disabled { border-color: #5d6d7e; }
QRadioButton::indicator { width: 16px; height: 16px; border: 2px solid #9aa5b1;
              border-radius: 10px; background: #1b2129; }
QRadioButton::indicator:checked { border-color: #f5c542; background: qradialgradient(
              cx: 0.5, cy: 0.5, radius: 0.5, fx: 0.5, fy: 0.5, stop: 0 #f5c542,
              stop: 0.55 #f5c542, stop: 0.65 #1b2129); }
QRadioButton::indicator:focus { border-color: #f5c542; }
""".replace("CHECK_MARK", (Path(__file__).parent / "check.svg").as_posix())


def label(text: str, style: str) -> QLabel:
    """A label styled by the theme's ``QLabel#<style>`` rule, showing its text as plain text.

    Labels show names from the record and from rosters, which may look like markup; a label
    meant for rich text says so itself.
    """
    widget = QLabel(text)
    widget.setTextFormat(Qt.TextFormat.PlainText)
    widget.setObjectName(style)
    return widget


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip shows it, character for character.

    Qt takes a tooltip that looks like markup for rich text; what comes from a file or a
    person (a title, a name) is escaped so it never is.
    """
    return GuiQt.convertFromPlainText(text) if GuiQt.mightBeRichText(text) else text


class DropDown(QComboBox):
    """A drop-down that shows its choices whole, within the screen.

    Closed, a choice too long for the box is cut short with "…", and its tooltip shows it
    whole. Open, the list is as wide as its longest choice, up to the screen's width, and
    wraps a choice wider still onto more lines. The box itself asks for room for
    ``minimum_chars`` characters only, so that long choices never widen the window.
    """

    def __init__(self, minimum_chars: int = 8) -> None:
        super().__init__()
        self.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(minimum_chars)
        choices = QListView()
        choices.setWordWrap(True)
        choices.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setView(choices)

    def shown_text(self) -> str:
        """The current choice as the closed box shows it."""
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideRight,
                                             self._field().width())

    def _field(self) -> QRect:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        return self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """The box as the style draws it, with the current choice cut to fit."""
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def event(self, event: QEvent) -> bool:
        """Over a choice cut short, the tooltip shows it whole."""
        if event.type() == QEvent.Type.ToolTip and self.shown_text() != self.currentText():
            assert isinstance(event, QHelpEvent)
            QToolTip.showText(event.globalPos(), plain_tooltip(self.currentText()), self)
            return True
        return super().event(event)
