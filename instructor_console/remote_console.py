"""The whole class from a second PC: sign in, set up, steer each run live, change over.

Everything goes to the projector PC as requests over the `RemoteLink`, and the projector
PC's application layer answers them with its own access checks: this window decides
nothing the local console would not. Set-up lists the projector PC's library and the
trainees its record knows; the ticked trainees are the class, in list order, and each run
takes the next group of them (one officer by default). After a run, N starts the next
group on the same scenario and variant; Esc goes back to set-up; Ctrl+L lists the class's
runs. A projector PC that offers live control only (an older release, or a projector
started without a class) gets the live panel alone, and the window says why. Where a
password could be read on the way (plain ``ws://`` on a network), the sign-in page says
so instead of asking for one. During a live run nothing asks the projector PC to read its
library: that waits for the run's end (F5 reads it again). After the agency's idle time
with no input here, never during a live run, the window locks as the projector PC's console
does; on any sign-out it forgets the class it showed, so whoever signs in next sees only
what the projector PC sends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from instructor_console.class_setup import (
    READY,
    add_trainee,
    fill_variants,
    not_ready,
    scenario_details,
    scenario_item,
    ticked,
    typed_name_problem,
)
from instructor_console.live_panel import LivePanel
from instructor_console.remote_link import RemoteLink
from instructor_console.sign_in import SignInForm
from instructor_console.theme import DARK, DropDown, label
from simulator.names import inert
from simulator.ports import Clock
from simulator.roster import next_group
from simulator.transport import (
    AnswerBody,
    Catalog,
    CatalogItem,
    CatalogRequest,
    ClassEnded,
    ClassRequest,
    ClassRuns,
    ClassRunsRequest,
    EndClassRequest,
    Preflight,
    PreflightRequest,
    Refused,
    SignedIn,
    SignIn,
    SignOut,
    Snapshot,
    Started,
    StartRequest,
    Trainees,
    TraineesRequest,
    Welcome,
)
from simulator.transport.wire import MAX_ID, MAX_PASSWORD
from simulator.wording import counted

NO_SIGN_IN = ("Signing in from this PC is not possible on this connection: the password "
              "would cross the network in clear text. Connect with wss:// (the projector PC "
              "started without --no-tls), or set up the class at the projector PC. Live "
              "control works here as it is.")
# What counts as someone at this PC, for the idle sign-out.
_INPUT = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                    QEvent.Type.Wheel})


@dataclass(frozen=True)
class Turn:
    """A run started from here: its scenario and variant, and whose turn it was."""

    scenario_id: str
    variant_id: str | None
    trainees: tuple[str, ...]


class SetupPage(QWidget):
    """The class's set-up: scenario, variant, trainees, pre-flight, start."""

    def __init__(self) -> None:
        super().__init__()
        self.search = QLineEdit()
        self.search.setPlaceholderText("search scenarios (Ctrl+F)")
        self.scenarios = QListWidget()
        self.details = label("", "status")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.variant = DropDown()
        self.trainees = QListWidget()
        self.new_trainee = QLineEdit()
        self.new_trainee.setPlaceholderText("add a trainee (Ctrl+T): type a name, Enter")
        self.instructor = QLineEdit()
        self.instructor.setPlaceholderText("instructor's name")
        self.per_run = QSpinBox()
        self.per_run.setRange(1, 6)
        self.preflight = QPushButton("Pre-flight check  (Ctrl+P)")
        self.start = QPushButton("Start  (Ctrl+Return)")
        self.start.setEnabled(False)
        self.runs = QPushButton("Class runs  (Ctrl+L)")
        self.end_class = QPushButton("End the class")
        self.checks = label("", "status")
        self.checks.setWordWrap(True)
        self.checks.setTextFormat(Qt.TextFormat.PlainText)

        left = QVBoxLayout()
        left.addWidget(label("Scenario (on the projector PC; F5 reads it again)", "heading"))
        left.addWidget(self.search)
        left.addWidget(self.scenarios, stretch=2)
        left.addWidget(self.details, stretch=1)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.addRow("Variant", self.variant)
        form.addRow("Instructor", self.instructor)
        form.addRow("Officers per run", self.per_run)
        right = QVBoxLayout()
        heading = label("The class: Space ticks; each run takes the next ticked", "heading")
        heading.setWordWrap(True)
        right.addWidget(heading)
        right.addWidget(self.trainees, stretch=1)
        right.addWidget(self.new_trainee)
        right.addLayout(form)
        right.addWidget(self.preflight)
        right.addWidget(self.checks)
        right.addWidget(self.start)
        buttons = QHBoxLayout()
        buttons.addWidget(self.runs)
        buttons.addWidget(self.end_class)
        right.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addLayout(left, stretch=2)
        layout.addLayout(right, stretch=1)


class RemoteConsoleWindow(QMainWindow):
    """Set-up and live control of the projector PC's class, from another PC."""

    def __init__(self, link: RemoteLink, clock: Clock) -> None:
        super().__init__()
        self.setStyleSheet(DARK)
        self.link = link
        self.entries: list[CatalogItem] = []
        self.cleared: set[str] = set()
        self.last_turn: Turn | None = None
        self.signed_in = False
        # Who signed in last, so that someone else signing in starts from nothing.
        self._username: str | None = None
        # The sign-in page asks with a message of its own (a refusal, say) since signing out.
        self._asking = False
        self._class_on = False
        self._loaded = False
        # The agency's idle time, from the sign-in's answer; the window locks after it.
        self._idle_seconds: float | None = None
        self._last_input = time.monotonic()
        self._idle = QTimer(self)
        self._idle.timeout.connect(self._check_idle)

        self.sign_in = SignInForm("Remote console: sign in")
        self.sign_in.submitted.connect(self._submit_sign_in)
        self.setup = setup = SetupPage()
        setup.search.textChanged.connect(self._refilter)
        setup.scenarios.currentItemChanged.connect(self._picked)
        setup.new_trainee.returnPressed.connect(self._add_typed_trainee)
        setup.preflight.clicked.connect(self.run_preflight)
        setup.start.clicked.connect(self.start)
        setup.runs.clicked.connect(self.show_runs)
        setup.end_class.clicked.connect(self.end_class)
        self.live = LivePanel(link, clock)
        self.after_run = label("", "status")
        live_page = QWidget()
        live_column = QVBoxLayout(live_page)
        live_column.addWidget(self.live, stretch=1)
        live_column.addWidget(self.after_run)
        self._live_page = live_page
        self.runs = QListWidget()
        runs_page = QWidget()
        runs_column = QVBoxLayout(runs_page)
        runs_column.addWidget(label("This class's runs (Esc: back)", "heading"))
        runs_column.addWidget(self.runs)
        self._runs_page = runs_page
        self.pages = QStackedWidget()
        for page in (self.sign_in, setup, live_page, runs_page):
            self.pages.addWidget(page)
        self.pages.setCurrentWidget(live_page)
        self.setCentralWidget(self.pages)

        link.welcomed.connect(self._welcomed)
        link.restored.connect(self._restored)
        link.received.connect(lambda _event: self._after_event())
        link.status.connect(self.statusBar().showMessage)
        link.lost.connect(self._lost)
        for keys, slot in (("Ctrl+F", setup.search.setFocus),
                           ("Ctrl+T", setup.new_trainee.setFocus),
                           ("Ctrl+P", self.run_preflight), ("Ctrl+Return", self.start),
                           ("Ctrl+L", self.show_runs), ("F5", self.reload)):
            QShortcut(QKeySequence(keys), self, slot)
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)

    # -- pairing and signing in --------------------------------------------------------------

    def _welcomed(self, welcome: Welcome) -> None:
        self._class_on = "class" in welcome.features
        live = welcome.snapshot is not None and not _over(welcome.snapshot)
        if not self._class_on or live:
            # A run on the projector is watched first; set-up can wait for its end.
            self.pages.setCurrentWidget(self._live_page)
        if not self._class_on:
            return
        if welcome.accounts and not self.signed_in:
            if not self.link.may_sign_in:
                self._asking = False
                self.sign_in.unavailable(NO_SIGN_IN)
                self._show_sign_in()
            elif self._asking:
                # A welcome again (a new run, a reconnect after the sign-in limiter hung up):
                # what the page says, such as that lockout, and a password being typed stay.
                self._show_sign_in()
            else:
                self._ask_sign_in("Sign in to set up the class from this PC.")
            return
        if not live and not self._loaded:
            # During a run, reading the library would stall the projector: after it.
            self._load()
        if not live and self.pages.currentWidget() is self._live_page \
                and self.last_turn is None:
            self.pages.setCurrentWidget(self.setup)

    def _lost(self) -> None:
        self._loaded = False  # read again once paired
        # The projector PC forgets who signed in on a connection when it drops: so does this
        # window, with what that sign-in was shown.
        if self.signed_in:
            self._signed_out()

    def _signed_out(self) -> None:
        self.signed_in = False
        self._idle.stop()
        self.forget_class()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Stop watching this PC's input: a closed window must not be asked about events."""
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        super().closeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Note any input on this PC for the idle sign-out."""
        if event.type() in _INPUT:
            self._last_input = time.monotonic()
        return super().eventFilter(watched, event)

    @property
    def _run_live(self) -> bool:
        return self.live.state.run_id is not None and not self.live.over

    def _check_idle(self) -> None:
        if self._run_live:
            # The instructor is watching the trainee: the idle time starts after the run.
            self._last_input = time.monotonic()
            return
        idle_seconds = self._idle_seconds
        if not self.signed_in or idle_seconds is None \
                or time.monotonic() - self._last_input < idle_seconds:
            return
        # Locked here at once, as the projector PC's console locks; the projector PC is
        # told so that its log has the end when it happened.
        self._signed_out()
        minutes = idle_seconds / 60
        self._ask_sign_in(f"Signed out after {minutes:g} minute{'' if minutes == 1 else 's'} "
                          "without input. Sign in again to go on.")
        self.link.request(SignOut())

    def forget_class(self) -> None:
        """Forget what the last sign-in was shown and chose: the trainees, the class, its runs.

        For whoever signs in next, who may be someone else: they see only what the projector
        PC sends them. The library is not anyone's, but it is read again for them.
        """
        self.setup.trainees.clear()
        self.runs.clear()
        self.cleared.clear()
        self.last_turn = None
        self._loaded = False
        self.setup.instructor.clear()
        self.setup.instructor.setReadOnly(False)
        self.after_run.setText("")
        self._picked()

    def _ask_sign_in(self, why: str) -> None:
        self._asking = True
        self.sign_in.ask(why)
        self._show_sign_in()

    def _show_sign_in(self) -> None:
        # A live run stays in view; the sign-in page waits for its end.
        if self.pages.currentWidget() is not self._live_page or not self._run_live:
            self.pages.setCurrentWidget(self.sign_in)

    def _submit_sign_in(self, username: str, password: str) -> None:
        # The form has already emptied the password field: it is in no widget once sent.
        if not username or not password:
            self.sign_in.message.setText("type your user name and password")
            return
        if len(username) > MAX_ID or len(password) > MAX_PASSWORD:
            self.sign_in.message.setText("that user name or password is longer than any "
                                         "account's; type it again")
            return
        self.sign_in.message.setText("signing in…")
        self._ask(lambda: SignIn(username=username, password=password), self._signed_in,
                  self.sign_in.message)

    def _signed_in(self, answer: AnswerBody) -> None:
        if not isinstance(answer, SignedIn):
            self.sign_in.message.setText(_refusal(answer))
            return
        if answer.username != self._username:
            self.forget_class()
        self._username = answer.username
        self.signed_in = True
        self._asking = False
        self._idle_seconds = answer.idle_seconds
        if answer.idle_seconds is not None:
            self._last_input = time.monotonic()
            self._idle.start(max(100, min(5000, int(answer.idle_seconds * 100))))
        self.setup.instructor.setText(answer.name or "")
        self.setup.instructor.setReadOnly(True)
        self.statusBar().showMessage(f"signed in: {answer.username} ({answer.role})")
        self.pages.setCurrentWidget(self.setup)
        self._load()

    def _ask(self, build: Callable[[], ClassRequest], reply: Callable[[AnswerBody], None],
             said: QLabel | None = None) -> None:
        """Send the request ``build`` makes; one the wire would refuse is said in ``said``."""
        try:
            request = build()
        except ValidationError as exc:
            # A name the projector PC sent, or one typed here, that no request may carry.
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "request"
            (said or self.setup.checks).setText(f"not sent: {inert(where)}: "
                                                f"{inert(error['msg'])}")
            return
        self.link.request(request, reply)

    def _answered(self, answer: AnswerBody) -> bool:
        """Whether ``answer`` is not a refusal; a refusal is shown, and may ask for a sign-in."""
        if not isinstance(answer, Refused):
            return True
        if answer.code in ("not_signed_in", "signed_out"):
            self._signed_out()
            self._ask_sign_in(answer.detail)
        else:
            self.setup.checks.setText(_refusal(answer))
        return False

    # -- set-up -------------------------------------------------------------------------------

    def _load(self) -> None:
        self._loaded = True
        self.setup.checks.setText("reading the projector PC's library…")
        self._ask(CatalogRequest, self._catalog)
        self._ask(TraineesRequest, self._trainees)

    def reload(self) -> None:
        """Read the projector PC's library and trainees again (F5), unless a run is live."""
        if self._class_on and not self._run_live \
                and (self.signed_in or not self.link.accounts):
            self._load()

    def _catalog(self, answer: AnswerBody) -> None:
        # Not read (busy, failed, a dropped connection): read again after the run, on the
        # next welcome, or with F5.
        self._loaded = isinstance(answer, Catalog)
        if not self._answered(answer):
            return
        assert isinstance(answer, Catalog)
        self.entries = answer.scenarios
        self.setup.checks.setText(f"{counted(len(self.entries), 'scenario')} on the "
                                  "projector PC")
        self._refilter()

    def _trainees(self, answer: AnswerBody) -> None:
        if self._answered(answer):
            assert isinstance(answer, Trainees)
            for name in answer.names:
                add_trainee(self.setup.trainees, name, checked=False)
            # The class's instructor, so that a start here continues their sitting.
            if answer.instructor and not self.signed_in \
                    and not self.setup.instructor.text().strip():
                self.setup.instructor.setText(answer.instructor)

    def _refilter(self) -> None:
        words = self.setup.search.text().casefold().split()
        current = self.scenario_id
        scenarios = self.setup.scenarios
        scenarios.blockSignals(True)
        scenarios.clear()
        for entry in self.entries:
            text = " ".join((entry.scenario_id, entry.title, entry.summary,
                             *entry.focus_areas, *entry.pledge_areas)).casefold()
            if not all(word in text for word in words):
                continue
            status = (f"CANNOT RUN: {counted(len(entry.errors), 'error')}" if entry.errors
                      else "lints clean")
            item = scenario_item(entry.title, entry.scenario_id, len(entry.variants), status)
            scenarios.addItem(item)
            if entry.scenario_id == current:
                scenarios.setCurrentItem(item)
        if scenarios.currentItem() is None and scenarios.count():
            scenarios.setCurrentRow(0)
        scenarios.blockSignals(False)
        self._picked()

    @property
    def scenario_id(self) -> str | None:
        """The scenario picked in the list."""
        item = self.setup.scenarios.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _picked(self) -> None:
        entry = next((e for e in self.entries if e.scenario_id == self.scenario_id), None)
        variant = self.setup.variant
        if entry is None:
            variant.clear()
            self.setup.details.setText("")
            return
        fill_variants(variant, [(v.id, v.description) for v in entry.variants],
                      variant.currentData())
        self.setup.details.setText(scenario_details(entry.summary, entry.focus_areas,
                                                    entry.pledge_areas, entry.errors,
                                                    entry.warnings))
        self.setup.start.setEnabled(entry.scenario_id in self.cleared)

    def _add_typed_trainee(self) -> None:
        name = self.setup.new_trainee.text().strip()
        if not name:
            return
        if (problem := typed_name_problem(name)) is not None:
            self.setup.checks.setText(f"not added: {problem}")
            return
        add_trainee(self.setup.trainees, name, checked=True)
        self.setup.new_trainee.clear()

    def class_list(self) -> tuple[str, ...]:
        """The ticked trainees, in list order: the class, in the order they take turns."""
        return ticked(self.setup.trainees)

    def run_preflight(self) -> None:
        """Have the projector PC check the picked scenario; Start is enabled when it passes."""
        scenario = self.scenario_id
        if scenario is None:
            self.setup.checks.setText("pick a scenario first")
            return
        self.setup.checks.setText("checking on the projector PC…")
        self._ask(lambda: PreflightRequest(scenario_id=scenario), self._preflight)

    def _preflight(self, answer: AnswerBody) -> None:
        if not self._answered(answer):
            return
        assert isinstance(answer, Preflight)
        if answer.problems:
            self.cleared.discard(answer.scenario_id)
            self.setup.checks.setText(not_ready(answer.problems))
        else:
            self.cleared.add(answer.scenario_id)
            self.setup.checks.setText(READY)
        self._picked()

    def start(self) -> None:
        """Start the picked scenario for the first group of the class."""
        scenario = self.scenario_id
        group = self.class_list()[:self.setup.per_run.value()]
        if scenario is None or not group:
            self.setup.checks.setText("pick a scenario and tick at least one trainee")
            return
        self._start(Turn(scenario, self.setup.variant.currentData(), group))

    def _start(self, turn: Turn) -> None:
        instructor = self.setup.instructor.text().strip()
        if instructor and (problem := typed_name_problem(instructor)) is not None:
            self.setup.checks.setText(f"instructor's name: {problem}")
            return
        self.setup.checks.setText(f"starting for {', '.join(turn.trainees)}…")
        self._ask(lambda: StartRequest(
            scenario_id=turn.scenario_id, trainees=list(turn.trainees),
            variant_id=turn.variant_id,
            instructor=None if self.signed_in else instructor or None),
            lambda answer: self._started(turn, answer))

    def _started(self, turn: Turn, answer: AnswerBody) -> None:
        if not self._answered(answer):
            if self.pages.currentWidget() is not self.sign_in:
                self.pages.setCurrentWidget(self.setup)
            return
        assert isinstance(answer, Started)
        self.last_turn = turn
        self.after_run.setText("")
        self.pages.setCurrentWidget(self._live_page)
        self.live.setFocus()

    def following(self) -> Turn | None:
        """The next group of the class after the last run's, on the same scenario."""
        last = self.last_turn
        if last is None:
            return None
        group = next_group(self.class_list(), last.trainees)
        return Turn(last.scenario_id, last.variant_id, group) if group else None

    def next_trainee(self) -> bool:
        """Change over: the same scenario for the next of the class, at once."""
        following = self.following()
        if following is None or not self.live.over:
            return False
        self._start(following)
        return True

    # -- live and after ----------------------------------------------------------------------

    def _restored(self, snapshot: Snapshot) -> None:
        if not _over(snapshot):
            self.pages.setCurrentWidget(self._live_page)
        self._draw_after_run()

    def _after_event(self) -> None:
        self._draw_after_run()
        if self.live.over and self._class_on and not self._loaded \
                and (self.signed_in or not self.link.accounts):
            # Held back while the run was live (`_welcomed`).
            self._load()

    def _draw_after_run(self) -> None:
        if not self.live.over or not self._class_on:
            self.after_run.setText("")
            return
        following = self.following()
        after = (f"N: next ({', '.join(following.trainees)})    " if following
                 else "end of the class list    " if self.last_turn else "")
        self.after_run.setText(after + "Esc: back to set-up    Ctrl+L: the class's runs")

    def show_runs(self) -> None:
        """List the class's runs, as the projector PC's record has them."""
        if self._class_on:
            self._ask(ClassRunsRequest, self._runs)

    def _runs(self, answer: AnswerBody) -> None:
        if not self._answered(answer):
            return
        assert isinstance(answer, ClassRuns)
        self.runs.clear()
        for run in answer.runs:
            how = f"{run.status}: {run.outcome}" if run.outcome else run.status
            self.runs.addItem(f"{run.started_utc:%H:%M}  {run.scenario_id} ({run.variant_id})"
                              f"  {', '.join(run.trainees)}  {how}")
        if not answer.runs:
            self.runs.addItem("no runs in this class yet")
        self.pages.setCurrentWidget(self._runs_page)
        self.runs.setFocus()

    def end_class(self) -> None:
        """Close the class's record session on the projector PC; the next run opens one."""
        self._ask(EndClassRequest, self._class_ended)

    def _class_ended(self, answer: AnswerBody) -> None:
        if self._answered(answer):
            assert isinstance(answer, ClassEnded)
            self.last_turn = None
            self.setup.checks.setText("class ended; the next run starts a new one")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """After a run: N for the next of the class, Esc for set-up (keys the panel left)."""
        page = self.pages.currentWidget()
        if page is self._live_page and self.live.over and event.key() == Qt.Key.Key_N:
            self.next_trainee()
        elif event.key() == Qt.Key.Key_Escape and self._class_on and (
                page is self._runs_page or (page is self._live_page and self.live.over)):
            self.pages.setCurrentWidget(self.setup if self.signed_in or not self.link.accounts
                                        else self.sign_in)
        else:
            super().keyPressEvent(event)


def _over(snapshot: Snapshot) -> bool:
    """Whether the run of ``snapshot`` has ended or stopped on a fault."""
    return snapshot.fault is not None or any(e.type == "run_ended" for e in snapshot.events)


def _refusal(answer: AnswerBody) -> str:
    return f"refused: {answer.detail}" if isinstance(answer, Refused) else ""
