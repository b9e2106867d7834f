"""The instructor console on the projector PC: set-up, then live control, run after run.

After a run ends, N starts the next trainee (or group, for a multi-officer session) of the
imported roster on the same scenario: the pre-flight check has passed, and the variant is
rotated again if the instructor left it automatic, or stays the one they chose. Esc goes
back to set-up, and F3 opens review mode (with the run just ended) for the debrief.

The keyboard is the console's for as long as it is open. When a run starts it takes the
focus back from the projector window, and takes it back again whenever the projector gets
it; a key pressed on the projector anyway is handled here, unless projector.yaml binds it
to a trainee device. With one screen, set-up warns that the projector would cover the
console and offers a windowed projector or a console kept on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence, QShortcut, QWindow
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from instructor_console.link import LocalLink
from instructor_console.live_panel import LivePanel
from instructor_console.one_screen import ON_TOP, WINDOWED, OneScreenChoice, windowed_projector_size
from instructor_console.projector_pc import ConsoleHost, OnProjector, Staged, UnboundKeyPress
from instructor_console.range_setup_window import RangeSetupWindow
from instructor_console.review_panel import ReviewPanel
from instructor_console.setup_panel import SetupPanel
from instructor_console.sign_in import SignInPanel
from instructor_console.studio.window import StudioWindow
from instructor_console.theme import DARK, label
from simulator.access import Account, Permission
from simulator.agency import AgencyProfile
from simulator.documents import DocumentError
from simulator.playback import PlayerUnavailable
from simulator.ports import Clock, Player
from simulator.protocol import EndRun
from simulator.review.rubric import Rubric
from simulator.runtime import ScenarioRun
from simulator.training import AccessDenied, Auditing, RecordError, Reviewing, SignedOut
from simulator.training.authoring import Authoring
from simulator.training.sitting import RunPlan

# What counts as someone at the console, for the idle sign-out.
_INPUT = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                    QEvent.Type.Wheel})


class ConsoleWindow(QMainWindow):
    """Set-up and live control for one class on this PC's projector.

    On a record with accounts the console opens on its sign-in page (unless ``account`` has
    signed in already) and signs out after the agency's idle time, never during a live run.
    """

    def __init__(self, host: ConsoleHost, profile: AgencyProfile, clock: Clock,
                 rubric: tuple[Rubric, str], *, account: Account | None = None,
                 idle_seconds: float | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Branchpoint console")
        self.setStyleSheet(DARK)
        self.host = host
        self._profile = profile
        self._clock = clock
        self.setup = SetupPanel(host, profile)
        self.setup.start_requested.connect(self.start)
        self._code_shown = label("", "status")
        if host.server is not None:
            # Also in the status bar during a run, when a laptop reconnects: this is the
            # operator's screen.
            self.statusBar().addPermanentWidget(self._code_shown)
            self._show_code()
        self.live: LivePanel | None = None
        self.after_run = label("", "status")
        self._live_page = QWidget()
        self._live_layout = QVBoxLayout(self._live_page)
        self._live_layout.addWidget(self.after_run)
        self.review = ReviewPanel(Reviewing(host.gate), Auditing(host.gate), profile, rubric,
                                  host.projector_surface, agency=host.agency)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.setup)
        self.pages.addWidget(self._live_page)
        self.pages.addWidget(self.review)
        QShortcut(QKeySequence("F3"), self, self.open_review)
        QShortcut(QKeySequence("F7"), self, self.open_studio)
        self.studio: StudioWindow | None = None
        QShortcut(QKeySequence("F8"), self, self.open_range_setup)
        self.range_window: RangeSetupWindow | None = None
        # A projector in a window from the command line is not covering anything.
        self._asked_size = host.windowed_size
        self.one_screen = OneScreenChoice()
        central = QWidget()
        column = QVBoxLayout(central)
        column.addWidget(self.one_screen)
        column.addWidget(self.pages, stretch=1)
        self.setCentralWidget(central)
        self.pages.currentChanged.connect(self._show_one_screen)
        app = QApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.screenAdded.connect(self._show_one_screen)
        app.screenRemoved.connect(self._show_one_screen)
        self.setup.projector_screen.currentIndexChanged.connect(self._show_one_screen)
        app.focusWindowChanged.connect(self._focus_moved)
        self._show_one_screen()
        self.last_plan: RunPlan | None = None
        host.run_ended.connect(self._run_ended)
        # A run a remote console starts is shown here live too: this is the operator's screen.
        host.run_will_stage.connect(self._projector_needed)
        host.run_staged.connect(self._show_staged)
        host.preview_ended.connect(self._preview_ended)
        host.device_trouble.connect(self._device_trouble)
        host.unbound_key.connect(self._key_from_projector)

        self.guarded = host.gate.guarded
        self.sign_in = SignInPanel(host.gate)
        self.sign_in.signed_in.connect(self._signed_in)
        self.pages.addWidget(self.sign_in)
        self.account: Account | None = None
        self._unlocked_page: QWidget = self.setup
        self._idle_seconds = (idle_seconds if idle_seconds is not None
                              else host.gate.idle_seconds(host.agency_id))
        self._last_input = time.monotonic()
        if account is not None:
            self._use(account)
        elif self.guarded:
            self.lock("Sign in to run a class.")
        else:
            # A record without accounts: everyone may run a class, as before accounts.
            self.setup.forget_class()
        if self.guarded:
            app = QApplication.instance()
            assert app is not None
            app.installEventFilter(self)
            self._idle = QTimer(self)
            self._idle.timeout.connect(self._check_idle)
            self._idle.start(max(100, min(5000, int(self._idle_seconds * 100))))

    # -- signing in and out -------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        """Whether the console shows only its sign-in page."""
        return self.pages.currentWidget() is self.sign_in

    @property
    def run_live(self) -> bool:
        """Whether a run is on the projector, not yet over."""
        return self.live is not None and not self.live.over

    def lock(self, why: str) -> None:
        """Hide everything behind the sign-in page (the run on the projector, if any, goes on).

        The studio goes too, its unsaved work kept as a draft, and the range's set-up with
        its unsaved edits: the next person to sign in must not carry on as the last.
        """
        self._shut_studio()
        self._shut_range_setup()
        if not self.locked:
            self._unlocked_page = self.pages.currentWidget() or self.setup
        self.review.close_run()
        self.pages.setCurrentWidget(self.sign_in)
        self.sign_in.ask(why)

    def _signed_in(self, account: Account) -> None:
        self._use(account)
        self._last_input = time.monotonic()
        self.pages.setCurrentWidget(self._unlocked_page)

    def _use(self, account: Account) -> None:
        # First: what follows lists and starts as this account.
        self.host.gate.account = account
        if self.account is None or account.id != self.account.id:
            # Someone new: nothing of the last class carries over. An instructor is offered
            # the trainees of their own sittings.
            # Signing in is never possible during a run (see `_show_staged`), so nothing
            # live is dropped here. The last class's sitting stays open: the next run by
            # another instructor opens one of their own, and a laptop running the class
            # goes on with it.
            if self.account is not None and self.host.server is not None \
                    and not self.host.server.signed_in_consoles:
                # The last instructor's laptop, paired on their code, goes with them.
                self.host.server.new_code()
                self._show_code()
            self.last_plan = None
            self.after_run.setText("")
            self._drop_live()
            self._unlocked_page = self.setup
            self.setup.forget_class(own_only=not account.may(Permission.coordinate),
                                    listed=account.may(Permission.run))
        self.account = account
        self.setup.sign_in_as(account)
        self.review.set_account(account)
        self.review.may_go_on = self.still_signed_in
        self.statusBar().showMessage(f"signed in: {account.username} ({account.role})")

    def _show_code(self) -> None:
        if self.host.server is not None:
            code = f"Remote console code: {self.host.server.code}"
            self.setup.pairing.setText(code)
            self._code_shown.setText(code)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Take a trainee device's key to the run; note any input for the idle sign-out."""
        if (watched is self.windowHandle() and isinstance(event, QKeyEvent)
                and event.type() == QEvent.Type.KeyPress and self.host.trainee_key(event)):
            return True
        if event.type() in _INPUT:
            self._last_input = time.monotonic()
        return super().eventFilter(watched, event)

    def still_signed_in(self) -> bool:
        """Whether the signed-in account may go on; if not, sign it out and say why.

        Asked before every use case and between runs: an administrator may have disabled
        the account, or guesses at its password locked it, since it signed in here. A live
        run is not cut short: its records go on, and the console signs out once it is over.
        """
        if self.account is None or self.locked:
            return not self.locked
        gate = self.host.gate
        if not gate.still_signed_in():
            if not self.run_live:
                self.lock(f"Signed out: {gate.why_signed_out or 'sign in again'}.")
            return False
        current = gate.account
        assert current is not None
        if (current.role, current.person_id) != (self.account.role, self.account.person_id):
            self._use(current)  # a role changed since: its permissions now
        return True

    def _check_idle(self) -> None:
        if self.run_live:
            # The instructor is watching the trainee: the idle time starts after the run.
            self._last_input = time.monotonic()
            return
        if self.locked or not self.still_signed_in():
            return
        idle = time.monotonic() - self._last_input
        if idle >= self._idle_seconds:
            self.host.gate.idle_sign_out(idle)
            minutes = self._idle_seconds / 60
            self.lock(f"Signed out after {minutes:g} minute{'' if minutes == 1 else 's'} "
                      "without input. Sign in again to go on.")

    # -- one screen, one keyboard --------------------------------------------------------------

    def _one_screen(self) -> bool:
        """Whether the projector, full screen, would cover the console.

        So it would on a PC with one screen, and on one with several where the projector
        screen chosen is the console's own.
        """
        if self._asked_size is not None:
            return False
        try:
            projector = self.host.projector_screen()
        except ValueError:
            return len(QGuiApplication.screens()) == 1
        return len(QGuiApplication.screens()) == 1 or projector == self.screen()

    def _show_one_screen(self) -> None:
        self.one_screen.setVisible(self._one_screen()
                                   and self.pages.currentWidget() is self.setup)

    def _arrange_for_one_screen(self) -> None:
        way = self.one_screen.choice if self._one_screen() else None
        self.host.windowed_size = (windowed_projector_size(self.screen()) if way == WINDOWED
                                   else self._asked_size)
        on_top = way == ON_TOP
        if bool(self.windowFlags() & Qt.WindowType.WindowStaysOnTopHint) != on_top:
            self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, on_top)
            self.show()  # a change of window flags hides the window

    def take_focus(self) -> None:
        """Raise the console and make it the active window: the keys belong here."""
        self.raise_()
        # On every platform this asks the window system through QWindow.requestActivate.
        self.activateWindow()
        if self.host.windowed_size is not None:
            # A projector in a window stays in sight; being raised gives it no keys.
            self.host.raise_projector()

    def _focus_moved(self, window: QWindow | None) -> None:
        if self.isVisible() and self.host.is_projector(window):
            # Later, once Qt has finished handing the focus over.
            QTimer.singleShot(0, self.take_focus)

    def _key_from_projector(self, key: UnboundKeyPress) -> None:
        if not self.isVisible():
            return
        self.take_focus()
        QApplication.sendEvent(self.focusWidget() or self, key.event())

    def start(self, plan: RunPlan) -> bool:
        """Put ``plan`` on the projector and switch to live control; False if refused."""
        if not self.still_signed_in():
            return False
        try:
            staged = self.host.stage(plan)
        except (ValueError, PlayerUnavailable, RecordError, AccessDenied, SignedOut) as exc:
            self.setup.checks.setText(f"not started: {exc}")
            self.pages.setCurrentWidget(self.setup)
            return False
        self._show_staged(staged)
        staged.session.start()
        return True

    def _show_staged(self, staged: Staged) -> None:
        """Live control of a run just staged, here or by a remote console (not started yet)."""
        # A class run has the PC to itself: no previews or shot detection beside it, and
        # the camera is the run's.
        self._shut_studio()
        self._shut_range_setup()
        self._show_live(staged)
        self.last_plan = staged.plan
        if self.locked:
            # A remote instructor's run. Checking a password takes the projector's thread
            # for a noticeable moment, so nobody signs in here until the run is over.
            self.sign_in.form.unavailable("A remote console is running a class on the "
                                          "projector. Sign in here once this run is over.")
            return
        self._go_live()

    def _show_live(self, staged: OnProjector) -> None:
        """A new live panel for a run on the projector, in place of the last one."""
        self._drop_live()
        self.live = LivePanel(LocalLink(staged.session), self._clock, self._profile,
                              staged.outline)
        self.live.names = staged.names
        staged.preview.frame.connect(self.live.show_preview)
        staged.session.faulted.connect(self.live.show_fault)
        self._live_layout.insertWidget(0, self.live, stretch=1)
        self.after_run.setText("")

    def _drop_live(self) -> None:
        if self.live is not None:
            self._live_layout.removeWidget(self.live)
            self.live.deleteLater()
            self.live = None

    def _go_live(self) -> None:
        """Show the live panel, with the keys: the projector may have just come up over it."""
        assert self.live is not None
        self.pages.setCurrentWidget(self._live_page)
        self.take_focus()
        self.live.setFocus()
        handle = self.windowHandle()
        if handle is not None:
            # Every key pressed here passes through the window first, whichever widget
            # has the focus; installing the same filter again changes nothing.
            handle.installEventFilter(self)

    def _projector_needed(self) -> None:
        # A run is about to take the projector, started here or from a remote console.
        self.review.close_run()
        self._arrange_for_one_screen()

    def open_review(self) -> bool:
        """Review mode, on the run just ended if there is one; not while a run is live."""
        if self.run_live or self.locked or not self.still_signed_in():
            return False
        self.review.refresh()
        if self.live is not None and self.live.state.run_id:
            self.review.open_run(self.live.state.run_id)
        self.pages.setCurrentWidget(self.review)
        self.review.setFocus()
        return True

    def open_studio(self) -> StudioWindow | None:
        """The scenario studio over this class's library, in a window of its own.

        Not during a live run: its previews and shot detection would take the projector's
        share of this PC.
        """
        if self.locked or not self.still_signed_in():
            return None
        if self.run_live:
            self.statusBar().showMessage("The studio opens between runs.", 5000)
            return None
        if self.studio is not None:
            self.studio.raise_()
            self.studio.activateWindow()
            return self.studio
        try:
            authoring = Authoring(self.host.gate, self.host.library, self._profile)
            editor = authoring.new("blank", scenario_id=authoring.unused_id(),
                                   title="New scenario")
        except (AccessDenied, SignedOut, DocumentError) as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return None
        self.studio = StudioWindow(authoring, editor, projector=self._preview_on_projector)
        self.studio.closed.connect(self._studio_closed)
        self.studio.show()
        return self.studio

    def _preview_on_projector(self, build: Callable[[Clock, Player], ScenarioRun]) -> None:
        """The studio's preview on the projector, steered here as a run is, never recorded.

        ``build`` makes the run on the projector's clock and player. ValueError when it
        may not play now (nobody signed in here, a run or a preview on the projector).
        """
        if self.locked or not self.still_signed_in():
            raise ValueError("nobody is signed in at the console; sign in there first")
        staged = self.host.stage_preview(partial(build, self._clock))
        # Not `_show_staged`: there is no plan, so nothing to change over to afterwards.
        # The range's set-up goes as for a run: its pattern must not cover the preview.
        self._shut_range_setup()
        self._show_live(staged)
        self._go_live()
        staged.session.start()

    def _device_trouble(self, message: str) -> None:
        # Said where the instructor looks, whatever page is up; the run goes on without the
        # device, and the next pre-flight names it again until it works.
        self.statusBar().showMessage(f"RANGE DEVICE: {message}", 30000)

    def _preview_ended(self, fault: str) -> None:
        # Nothing to review and nobody to change over to (the class's last plan stays):
        # without its panel, F3 and N cannot take the preview for a run of the class.
        self._drop_live()
        if self.locked:
            self._unlocked_page = self.setup
        else:
            self.pages.setCurrentWidget(self.setup)
        how = f"stopped: {fault}" if fault else "over"
        self.statusBar().showMessage(f"The studio's preview is {how}; nothing was recorded. "
                                     "F7: back to the studio.", 10000)

    def _shut_studio(self) -> None:
        if self.studio is not None:
            draft = self.studio.shut()
            if draft is not None:
                self.statusBar().showMessage(f"The studio's unsaved work is kept as a draft "
                                             f"({draft}).", 10000)

    def _studio_closed(self) -> None:
        if self.studio is not None:
            # Its pages, editor and takes go now, not when the console closes.
            self.studio.deleteLater()
        self.studio = None
        # New and changed scenarios show in set-up at once.
        self.setup.load_catalog()

    def open_range_setup(self) -> RangeSetupWindow | None:
        """The range's camera, calibration, weapons and triggers, in a window of its own.

        Not during a live run, nor a preview: the camera is theirs then.
        """
        if self.locked or not self.still_signed_in():
            return None
        if self.run_live:
            self.statusBar().showMessage("The range is set up between runs.", 5000)
            return None
        if self.range_window is not None:
            self.range_window.raise_()
            self.range_window.activateWindow()
            return self.range_window
        try:
            setup = self.host.range_setup()
        except (AccessDenied, SignedOut, DocumentError, ValueError) as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return None
        self.range_window = RangeSetupWindow(setup)
        self.range_window.closed.connect(self._range_setup_closed)
        self.range_window.resize(1280, 760)
        self.range_window.show()
        return self.range_window

    def _shut_range_setup(self) -> None:
        if self.range_window is not None:
            self.range_window.shut()

    def _range_setup_closed(self) -> None:
        if self.range_window is not None:
            # Its camera is closed already; its view and threads go now.
            self.range_window.deleteLater()
        self.range_window = None

    def _run_ended(self, _run_id: str) -> None:
        if self.locked:
            self.sign_in.ask("Sign in to run a class.")
        following = self._following()
        if following is not None:
            after = f"N: next ({', '.join(following.trainees)})    "
        elif self.setup.roster:
            after = "end of the roster    "
        else:
            after = "import a roster to change over with one key    "
        self.after_run.setText(after + "F3: review this run    Esc: back to set-up")

    def _following(self) -> RunPlan | None:
        if self.last_plan is None:
            return None
        trainees = self.setup.next_in_class(self.last_plan.trainees)
        return replace(self.last_plan, trainees=trainees) if trainees else None

    def next_trainee(self) -> bool:
        """Change over: the same scenario for the next trainee of the class, at once."""
        following = self._following()
        if following is None:
            return False
        self.setup.tick_only(following.trainees)
        return self.start(following)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """After a run: N for the next trainee, Esc for set-up (keys the live panel left)."""
        if self.locked:
            super().keyPressEvent(event)
            return
        over = self.live is not None and self.live.over
        if over and event.key() == Qt.Key.Key_N:
            self.next_trainee()
        elif event.key() == Qt.Key.Key_Escape and self.pages.currentWidget() is self.review:
            self.review.close_run()
            self.pages.setCurrentWidget(self.setup)
        elif over and event.key() == Qt.Key.Key_Escape:
            self.pages.setCurrentWidget(self.setup)
            self.setup.scenarios.setFocus()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Closing the console ends a live run (recorded as such) and the class."""
        if self.live is not None and not self.live.over:
            self.live.send(EndRun(note="console closed"))
        # Their cameras, threads and drafts go before the projector PC's side closes.
        self._shut_studio()
        self._shut_range_setup()
        self.review.close_run()
        self.host.close()
        super().closeEvent(event)
