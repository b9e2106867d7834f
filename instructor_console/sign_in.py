"""Signing in at the console, and the lock that signs an idle console out.

The console opens on this page when the record has accounts, and returns to it after the
agency's idle time with nobody at the keyboard: never during a live run, because the
instructor is then watching the trainee, not the screen. A locked console shows nothing of
the record behind it.

`SignInForm` is the page itself, with no idea where the name and password go: the console
on the projector PC signs in through its `Gate` (`SignInPanel`), a remote console sends
them to the projector PC.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout, QWidget

from instructor_console.theme import label
from simulator.access import Permission
from simulator.training import AccessDenied, Gate, SignInError


class SignInForm(QWidget):
    """User name, password and a message, in a centred box; `submitted` carries the two.

    The password is cleared from its field as it is submitted.
    """

    submitted = Signal(str, str)

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.username = QLineEdit()
        self.username.setPlaceholderText("user name")
        self.password = QLineEdit()
        self.password.setPlaceholderText("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self.submit)
        self.username.returnPressed.connect(self.password.setFocus)
        self.button = QPushButton("Sign in  (Enter)")
        self.button.clicked.connect(self.submit)
        self.message = label("", "warning")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        # Room for three lines from the start: a wrapped label does not grow its box later.
        self.message.setMinimumHeight(3 * self.message.fontMetrics().lineSpacing())
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop)
        form = QVBoxLayout()
        form.addWidget(label(heading, "segment"))
        form.addWidget(self.username)
        form.addWidget(self.password)
        form.addWidget(self.button)
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
        self._fields(shown=True)
        self.password.clear()
        self.message.setText(why)
        (self.password if self.username.text() else self.username).setFocus()

    def unavailable(self, why: str) -> None:
        """Say why nobody can sign in here, with no field to type a password into."""
        self._fields(shown=False)
        self.password.clear()
        self.message.setText(why)

    def submit(self) -> None:
        """Emit `submitted` with the user name and password; the password field is emptied."""
        if self.password.isHidden():
            return  # `unavailable`: nothing to send
        username, password = self.username.text().strip(), self.password.text()
        self.password.clear()
        self.submitted.emit(username, password)

    def _fields(self, *, shown: bool) -> None:
        for widget in (self.username, self.password, self.button):
            widget.setVisible(shown)


class SignInPanel(QWidget):
    """Sign in at the projector PC; `signed_in` carries an account allowed to run a class."""

    signed_in = Signal(object)

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self._gate = gate
        self.form = SignInForm("Branchpoint console: sign in")
        self.username, self.password, self.message = (self.form.username, self.form.password,
                                                       self.form.message)
        self.form.submitted.connect(self._sign_in)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)

    def ask(self, why: str) -> None:
        """Clear the password and say why signing in is needed."""
        self.form.ask(why)

    def submit(self) -> None:
        """Check the name and password; emit `signed_in`, or say what is wrong."""
        self.form.submit()

    def _sign_in(self, username: str, password: str) -> None:
        try:
            account = self._gate.sign_in_here(username, password, Permission.run)
        except (SignInError, AccessDenied) as exc:
            self.ask(str(exc))
            return
        self.message.setText("")
        self.signed_in.emit(account)
