"""The remote console's window over a real WebSocket, in process: sign in, set up, start,
change over with N, and list the class's runs, all from the keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_console_session import CLASS, PASSWORD

from instructor_console.remote_console import NO_SIGN_IN, RemoteConsoleWindow, Turn
from instructor_console.remote_link import RemoteLink
from simulator.access import AccessLog, Accounts, Role
from simulator.agency import default_profile
from simulator.playback.barcode import write_barcode_clip
from simulator.projector.console_server import ConsoleServer
from simulator.projector.host import ProjectorHost
from simulator.projector.settings import ProjectorSettings
from simulator.protocol import EndRun
from simulator.record import Record
from simulator.runtime import MonotonicClock
from simulator.training.sitting import RunPlan
from simulator.transport import (
    AnswerBody,
    Catalog,
    ClassRequest,
    PairingCode,
    Refused,
    SignedIn,
    Trainees,
    Welcome,
)

pytestmark = pytest.mark.gui


def serve_class(tmp_path, *, accounts: bool):
    """The projector PC's class in this process, serving remote consoles on loopback."""
    folder = tmp_path / "library" / "corner"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(CLASS, encoding="utf-8")
    write_barcode_clip(folder / "one.mp4", clip_number=1, frames=30, width=320, height=180)
    write_barcode_clip(folder / "two.mp4", clip_number=2, frames=30, width=320, height=180)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    if accounts:
        Accounts(record).add("diaz", Role.instructor, PASSWORD, display_name="Sgt. Diaz")
    clock = MonotonicClock()
    server = ConsoleServer(clock, PairingCode(), default_profile())
    host = ProjectorHost(record, tmp_path / "library", default_profile(),
                         ProjectorSettings(audio=False), clock, windowed_size=(320, 180),
                         server=server)
    staged: list[object] = []
    host.run_staged.connect(staged.append)
    port = server.listen(0)
    return host, record, f"ws://127.0.0.1:{port}", staged


@pytest.fixture
def projector_pc(qtbot, tmp_path):
    """The projector PC's class on a record with accounts."""
    host, record, url, staged = serve_class(tmp_path, accounts=True)
    try:
        yield host, record, url, staged
    finally:
        host.close()
        record.close()


def steer(qtbot, window: RemoteConsoleWindow, clock: MonotonicClock, key: Qt.Key) -> None:
    panel = window.live
    qtbot.waitUntil(lambda: panel.state.offer is not None and not panel.state.ended
                    and panel.state.seconds_to_default(clock.now_ns()) is not None,
                    timeout=20000)
    panel.setFocus()
    QTest.keyClick(panel, key)
    qtbot.waitUntil(lambda: panel.over, timeout=20000)


def test_a_class_is_set_up_started_and_changed_over_from_the_remote_window(
        qtbot, projector_pc):
    host, record, url, staged = projector_pc
    server = host.server
    assert server is not None
    clock = MonotonicClock()
    link = RemoteLink(url, str(server.code), name="laptop")
    window = RemoteConsoleWindow(link, clock)
    qtbot.addWidget(window)
    window.show()
    link.open()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.sign_in, timeout=10000)

    window.sign_in.username.setText("diaz")
    window.sign_in.password.setText("not it")
    QTest.keyClick(window.sign_in.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "refused" in window.sign_in.message.text(), timeout=10000)
    assert window.sign_in.password.text() == ""  # never kept in the widget
    window.sign_in.password.setText(PASSWORD)
    QTest.keyClick(window.sign_in.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.setup
                    and window.setup.scenarios.count() == 1, timeout=10000)
    setup = window.setup
    assert setup.instructor.text() == "Sgt. Diaz" and setup.instructor.isReadOnly()
    for name in ("Officer Reyes", "Officer Byrne"):
        setup.new_trainee.setText(name)
        QTest.keyClick(setup.new_trainee, Qt.Key.Key_Return)
    assert window.class_list() == ("Officer Reyes", "Officer Byrne")
    assert not setup.start.isEnabled()  # not before the pre-flight check
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(setup, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(setup.start.isEnabled, timeout=30000)
    assert setup.checks.text().startswith("ready")

    QTest.keyClick(setup, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window._live_page
                    and "Officer Reyes" in window.live.logging.text(), timeout=20000)
    steer(qtbot, window, clock, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: "N: next (Officer Byrne)" in window.after_run.text(),
                    timeout=5000)
    first = window.live.state.run_id

    QTest.keyClick(window, Qt.Key.Key_N)  # the change-over
    qtbot.waitUntil(lambda: window.live.state.run_id not in (None, first)
                    and "Officer Byrne" in window.live.logging.text(), timeout=20000)
    steer(qtbot, window, clock, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: "end of the class list" in window.after_run.text(), timeout=5000)
    # The projector PC's console is told of each run a remote console starts, to show it.
    assert len(staged) == 2

    # In this test the projector's window is on the same desktop and took the focus.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window._runs_page, timeout=10000)
    rows = [window.runs.item(i).text() for i in range(window.runs.count())]
    assert len(rows) == 2 and "Officer Reyes" in rows[0] and "Officer Byrne" in rows[1]
    assert all("corner" in row and "ended" in row for row in rows)
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.setup

    runs = record.runs.summaries()
    assert len(runs) == 2 and len({r.session_id for r in runs}) == 1
    diaz = record.people.find("instructor", "Sgt. Diaz")
    assert record.sittings.instructor(runs[0].session_id) == diaz
    link.close()


def requests_of(link: RemoteLink) -> list[str]:
    """The types of the requests ``link`` is asked to send, from now on."""
    asked: list[str] = []
    request = link.request

    def spy(body, reply=None):
        asked.append(body.type)
        return request(body, reply)

    link.request = spy
    return asked


def test_during_a_live_run_the_window_waits_to_read_the_library_and_joins_the_class(
        qtbot, tmp_path):
    host, record, url, _staged = serve_class(tmp_path, accounts=False)
    try:
        assert host.preflight("corner") == []
        run = host.stage(RunPlan("corner", ("Officer Reyes",), instructor="Sgt. Lee"))
        run.session.start()
        server = host.server
        assert server is not None
        link = RemoteLink(url, str(server.code), name="laptop")
        window = RemoteConsoleWindow(link, MonotonicClock())
        qtbot.addWidget(window)
        asked = requests_of(link)
        link.open()
        qtbot.waitUntil(lambda: window.live.state.run_id is not None, timeout=10000)
        qtbot.wait(300)
        assert "catalog" not in asked and window.pages.currentWidget() is window._live_page
        run.session.send(EndRun(note="done"))
        qtbot.waitUntil(lambda: window.setup.scenarios.count() == 1, timeout=10000)
        assert asked.count("catalog") == 1
        # No accounts: the class's instructor is shown, so a start here continues it.
        qtbot.waitUntil(lambda: window.setup.instructor.text() == "Sgt. Lee", timeout=5000)
        link.close()
    finally:
        host.close()
        record.close()


def test_an_idle_remote_window_locks_itself_and_the_projector_logs_the_end(
        qtbot, projector_pc, monkeypatch):
    from simulator.training.gate import Gate

    monkeypatch.setattr(Gate, "idle_seconds", lambda _self, _agency: 1.0)
    host, record, url, _staged = projector_pc
    server = host.server
    assert server is not None
    link = RemoteLink(url, str(server.code), name="laptop")
    window = RemoteConsoleWindow(link, MonotonicClock())
    qtbot.addWidget(window)
    window.show()
    link.open()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.sign_in, timeout=10000)
    window.sign_in.username.setText("diaz")
    window.sign_in.password.setText(PASSWORD)
    window.sign_in.submit()
    qtbot.waitUntil(lambda: window.setup.scenarios.count() == 1, timeout=10000)
    window._trainees(Trainees(names=["Officer Reyes"]))
    for _ in range(8):  # someone at the laptop: input here is use
        QTest.keyClick(window.setup.search, Qt.Key.Key_Shift)
        qtbot.wait(200)
    assert window.signed_in and window.pages.currentWidget() is window.setup
    # Nobody at the laptop: it locks without waiting for a request, and forgets the class.
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.sign_in, timeout=5000)
    assert window.sign_in.message.text().startswith("Signed out after 0.0166667 minutes "
                                                    "without input")
    assert not window.signed_in and window.setup.trainees.count() == 0
    qtbot.waitUntil(lambda: AccessLog(record).entries()[-1].action == "signed_out",
                    timeout=5000)
    last = AccessLog(record).entries()[-1]
    assert (last.username, last.target) == ("diaz", "remote console laptop")
    assert last.detail["why"] == ("signed out at the remote console after 0.0166667 "
                                  "minutes without input")
    link.close()


class AccountsDesk:
    accounts = True

    def answer(self, request: ClassRequest) -> AnswerBody:
        return Catalog(scenarios=[])

    def used(self) -> None:
        pass

    def closed(self) -> None:
        pass


def test_where_a_password_could_be_read_the_window_asks_for_none(qtbot):
    server = ConsoleServer(MonotonicClock(), PairingCode(), default_profile())
    server.offer_class(lambda _name: AccountsDesk())
    port = server.listen(0, "0.0.0.0")
    link = RemoteLink(f"ws://127.0.0.1:{port}", str(server.code))
    window = RemoteConsoleWindow(link, MonotonicClock())
    qtbot.addWidget(window)
    window.show()
    try:
        link.open()
        qtbot.waitUntil(lambda: window.pages.currentWidget() is window.sign_in, timeout=5000)
        assert window.sign_in.message.text() == NO_SIGN_IN
        assert window.sign_in.password.isHidden() and window.sign_in.username.isHidden()
    finally:
        link.close()
        server.close()


def test_a_request_no_wire_could_carry_is_said_not_raised(qtbot):
    link = RemoteLink("ws://127.0.0.1:9", "K7QM-3XPR")
    window = RemoteConsoleWindow(link, MonotonicClock())
    qtbot.addWidget(window)
    asked = requests_of(link)
    # As a projector PC of another release might send it: no start may carry the name.
    window._trainees(Trainees(names=["Officer\u202eReyes"], instructor="Sgt. Lee"))
    assert window.setup.instructor.text() == "Sgt. Lee"
    window.setup.trainees.item(0).setCheckState(Qt.CheckState.Checked)
    window._start(Turn("corner", None, window.class_list()))
    assert window.setup.checks.text().startswith("not sent: trainees.0: ")
    assert "text-direction" in window.setup.checks.text() and asked == []


def a_class_shown(window: RemoteConsoleWindow, username: str = "diaz") -> None:
    """``username`` signed in on ``window``, with a class set up and a run done."""
    window._signed_in(SignedIn(username=username, role="instructor", name="Sgt. Diaz"))
    window._trainees(Trainees(names=["Officer Reyes", "Officer Byrne"]))
    window.setup.trainees.item(0).setCheckState(Qt.CheckState.Checked)
    window.cleared.add("corner")
    window.last_turn = Turn("corner", None, ("Officer Reyes",))
    window.runs.addItem("09:14  corner (a)  Officer Reyes  ended")


def forgotten(window: RemoteConsoleWindow) -> bool:
    setup = window.setup
    return (setup.trainees.count() == 0 and window.class_list() == ()
            and window.last_turn is None and window.runs.count() == 0
            and not window.cleared and setup.instructor.text() == ""
            and not setup.instructor.isReadOnly() and not window.signed_in)


@pytest.mark.parametrize("how", ["signed_out", "not_signed_in", "lost", "someone_else"])
def test_the_next_sign_in_sees_nothing_of_the_last_one_s_class(qtbot, how):
    link = RemoteLink("ws://127.0.0.1:9", "K7QM-3XPR")
    window = RemoteConsoleWindow(link, MonotonicClock())
    qtbot.addWidget(window)
    a_class_shown(window)
    if how == "lost":
        window._lost()
    elif how == "someone_else":
        window._signed_in(SignedIn(username="okafor", role="instructor", name="Sgt. Okafor"))
        assert window.signed_in and window.setup.instructor.text() == "Sgt. Okafor"
        # The rest as after a sign-out: only the new instructor's name is shown.
        window.signed_in = False
        window.setup.instructor.clear()
        window.setup.instructor.setReadOnly(False)
    else:
        window._answered(Refused(code=how, detail="sign in again"))
        assert window.pages.currentWidget() is window.sign_in
    assert forgotten(window)
    # The same instructor again (a repeated answer, say) keeps the class.
    a_class_shown(window)
    window._signed_in(SignedIn(username="diaz", role="instructor", name="Sgt. Diaz"))
    assert window.class_list() == ("Officer Reyes",) and window.last_turn is not None


def test_a_library_that_was_not_read_is_read_again(qtbot):
    link = RemoteLink("ws://127.0.0.1:9", "K7QM-3XPR")
    window = RemoteConsoleWindow(link, MonotonicClock())
    qtbot.addWidget(window)
    window.show()
    asked = requests_of(link)
    window._class_on = True
    window._load()  # not connected: answered `failed` here, at once
    assert asked == ["catalog", "trainees"] and not window._loaded
    assert "not connected" in window.setup.checks.text()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_F5)
    assert asked.count("catalog") == 2
    window._catalog(Catalog(scenarios=[]))
    assert window._loaded
    window._lost()  # its answers are lost with the connection: read again once paired
    assert not window._loaded


def test_a_welcome_again_keeps_a_refusal_and_a_password_being_typed(qtbot):
    link = RemoteLink("ws://127.0.0.1:9", "K7QM-3XPR")
    window = RemoteConsoleWindow(link, MonotonicClock())
    qtbot.addWidget(window)
    link.features = ("live", "class", "sign_in")
    welcome = Welcome(snapshot=None, features=link.features, accounts=True)
    window._welcomed(welcome)
    form = window.sign_in
    assert window.pages.currentWidget() is form
    assert form.message.text() == "Sign in to set up the class from this PC."
    # The limiter hung up after this answer, and the link paired again at once.
    form.message.setText("refused: wrong user name or password; too many failed sign-ins "
                         "from here; wait 58 s")
    form.password.setText("half-typ")
    window._welcomed(welcome)  # that pairing's welcome; one for each new run is the same
    assert form.message.text().endswith("wait 58 s") and form.password.text() == "half-typ"
    assert window.pages.currentWidget() is form
