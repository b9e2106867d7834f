"""The console's look: dark, large type, strong colours only where they mean something.

Sizes are in points, so Qt scales them on high-DPI screens.
"""

from PySide6.QtWidgets import QLabel

DARK = """
QWidget { background: #111418; color: #e8e8e8; font-size: 15pt; }
QPushButton { background: #232a33; border: 2px solid #3a4552; border-radius: 8px;
              padding: 12px; font-size: 18pt; text-align: left; }
QPushButton:focus { border-color: #f5c542; }
QPushButton[kind="escalate"] { border-color: #c0392b; }
QPushButton[kind="de_escalate"] { border-color: #27ae60; }
QPushButton[default="true"] { background: #2e3a48; }
QLineEdit, QComboBox, QListWidget { background: #1b2129; border: 1px solid #3a4552;
              padding: 4px; }
QListWidget::item:selected { background: #3a4552; color: #ffffff; }
QLabel#countdown { font-size: 30pt; font-weight: bold; color: #f5c542; }
QLabel#segment { font-size: 22pt; font-weight: bold; }
QLabel#heading { font-size: 12pt; color: #9aa5b1; text-transform: uppercase; }
QLabel#status, QLabel#hint, QLabel#logging { color: #9aa5b1; font-size: 12pt; }
QLabel#warning { color: #ff8a7a; font-size: 14pt; }
QLabel#cues { font-family: monospace; font-size: 12pt; }
QLabel#preview { background: #000000; color: #5d6d7e; }
QLabel#pairing { font-size: 18pt; font-weight: bold; color: #f5c542; }
"""


def label(text: str, style: str) -> QLabel:
    """A label styled by the theme's ``QLabel#<style>`` rule."""
    widget = QLabel(text)
    widget.setObjectName(style)
    return widget
