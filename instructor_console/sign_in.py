"""Signing in at the console, and the lock that signs an idle console out.

The console opens on this page when the record has accounts, and returns to it after the
agency's idle time with nobody at the keyboard: never during a live run, because the
instructor is then watching the trainee, not the screen. A locked console shows nothing of
the record behind it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout, QWidget

from instructor_console.theme import label
from simulator.access import Permission
from simulator.training import AccessDenied, Gate, SignInError


class SignInPanel(QWidget):
    """User name and password; `signed_in` carries an account allowed to run a class."""

    signed_in = Signal(object)

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self._gate = gate
        self.username = QLineEdit()
        self.username.setPlaceholderText("user name")
        self.password = QLineEdit()
        self.password.setPlaceholderText("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self.submit)
        self.username.returnPressed.connect(self.password.setFocus)
        button = QPushButton("Sign in  (Enter)")
        button.clicked.connect(self.submit)
        self.message = label("", "warning")
        self.message.setWordWrap(True)
        # Room for three lines from the start: a wrapped label does not grow its box later.
        self.message.setMinimumHeight(3 * self.message.fontMetrics().lineSpacing())
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop)
        form = QVBoxLayout()
        form.addWidget(label("Branchpoint console: sign in", "segment"))
        form.addWidget(self.username)
        form.addWidget(self.password)
        form.addWidget(button)
        form.addWidget(self.message)
        box = QWidget()
        box.setLayout(form)
        box.setFixedWidth(560)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(box, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def ask(self, why: str) -> None:
        """Clear the password and say why signing in is needed."""
        self.password.clear()
        self.message.setText(why)
        (self.password if self.username.text() else self.username).setFocus()

    def submit(self) -> None:
        """Check the name and password; emit `signed_in`, or say what is wrong."""
        username = self.username.text().strip()
        try:
            account = self._gate.sign_in_here(username, self.password.text(), Permission.run)
        except (SignInError, AccessDenied) as exc:
            self.ask(str(exc))
            return
        self.password.clear()
        self.message.setText("")
        self.signed_in.emit(account)
