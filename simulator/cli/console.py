"""``branchpoint console`` and ``branchpoint remote-console``: the instructor's screens.

Qt and the console are imported inside the commands, so the rest of the CLI starts
quickly and runs on machines without a display.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.markup import escape

from simulator.access import Permission
from simulator.cli.common import (
    USER_ENV,
    DbOption,
    ProfileOption,
    err,
    fail,
    names_or_exit,
    open_record,
    sign_in,
    vocabularies_from,
)
from simulator.cli.projector import (
    BackendOption,
    ScreenOption,
    WindowedOption,
    load_projector_settings,
    window_size_or_none,
)
from simulator.cli.review import rubric_or_exit
from simulator.paths import data_dir
from simulator.scenario import bundled_library
from simulator.training.gate import COMMAND_LINE, Gate

if TYPE_CHECKING:
    from simulator.agency import AgencyProfile
    from simulator.ports import Clock
    from simulator.projector.console_server import ConsoleServer

CODE_ENV = "BRANCHPOINT_PAIRING_CODE"

ListenOption = Annotated[int | None, typer.Option(
    "--listen", min=0, max=65535,
    help="Serve remote consoles on this port (0: any free port); the pairing code is shown "
         "here, never on the projector.")]
# Remote consoles are on other PCs, so every interface by default; the pairing code guards it.
ListenHostOption = Annotated[str, typer.Option(
    "--listen-host", help="Address to serve remote consoles on.")]
TlsCertOption = Annotated[Path | None, typer.Option(
    "--tls-cert", exists=True, dir_okay=False, help="Your own PEM certificate for wss:// "
    "(default: the projector PC's, made on first use); consoles pin its fingerprint.")]
TlsKeyOption = Annotated[Path | None, typer.Option(
    "--tls-key", exists=True, dir_okay=False, help="The certificate's PEM private key.")]
NoTlsOption = Annotated[bool, typer.Option(
    "--no-tls", help="Serve plain ws://: commands and the preview travel unencrypted, so "
    "only on a network nobody else is on.")]


@dataclass(frozen=True)
class Listening:
    """Whether and how remote consoles are served (the ``--listen`` options)."""

    port: int | None
    host: str
    tls_cert: Path | None = None
    tls_key: Path | None = None
    plain: bool = False


def open_console_server(clock: Clock, profile: AgencyProfile,
                        listening: Listening) -> ConsoleServer | None:
    """A listening server for remote consoles, announced on the operator's terminal.

    TLS by default, with the projector PC's own certificate unless one is given.
    """
    cert, key = listening.tls_cert, listening.tls_key
    if listening.port is None:
        if cert or key or listening.plain:
            fail("--tls-cert, --tls-key and --no-tls go with --listen")
        return None
    if (cert is None) != (key is None):
        fail("give both --tls-cert and --tls-key, or neither")
    if listening.plain and cert is not None:
        fail("--no-tls serves without a certificate; leave out --tls-cert and --tls-key")
    from simulator.projector.app import qt_application
    from simulator.projector.console_server import ConsoleServer, TlsFiles, reachable_addresses
    from simulator.transport import PairingCode
    from simulator.transport.certificate import projector_certificate

    # The server answers on Qt's event loop, which needs the application first.
    qt_application()
    tls = None
    if not listening.plain:
        if cert is None or key is None:
            cert, key = projector_certificate(data_dir() / "tls")
        tls = TlsFiles(cert, key)
    try:
        server = ConsoleServer(clock, PairingCode(), profile, tls=tls)
        bound = server.listen(listening.port, listening.host)
    except (OSError, ValueError) as exc:
        fail(f"--listen: {exc}")
    scheme = "wss" if tls else "ws"
    first, *others = reachable_addresses(listening.host)
    # What the instructor copies to the other PC is printed whole on one line: never
    # wrapped, and never with `:ab:`-like runs of the fingerprint turned into emoji.
    say = partial(err.print, soft_wrap=True, emoji=False)
    say(f"remote consoles: {scheme}://{escape(first)}:{bound}  pairing code "
        f"[bold]{server.code}[/]")
    for address in others:
        say(f"            or: {scheme}://{escape(address)}:{bound}")
    if tls is not None:
        say(f"certificate fingerprint (SHA-256): {tls.fingerprint()}")
    else:
        say("[yellow]without TLS[/]: commands and the preview cross the network unencrypted")
    return server


def console(
    library: Annotated[Path | None, typer.Option("--library", help="Scenario library folder "
                                                 "(default: the bundled one).")] = None,
    backend: BackendOption = None,
    screen: ScreenOption = None,
    windowed: WindowedOption = None,
    listen: ListenOption = None,
    listen_host: ListenHostOption = "0.0.0.0",  # noqa: S104 - see ListenHostOption
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    no_tls: NoTlsOption = False,
    rubric: Annotated[Path | None, typer.Option(
        "--rubric", exists=True, dir_okay=False,
        help="Rubric for scoring in review mode (default: the bundled one).")] = None,
    agency: Annotated[str | None, typer.Option(
        "--agency", help="Agency the class and new trainees belong to, on a database several "
        "share (added if new).")] = None,
    db: DbOption = None,
    profile: ProfileOption = None,
) -> None:
    """The instructor console: set up a class, steer runs live, change over, review (F3)."""
    from simulator.projector.app import display_available, qt_application
    from simulator.runtime import MonotonicClock

    names_or_exit("--agency", agency)
    app = qt_application()
    if not display_available():
        fail("the console needs a display (on a server, run it under xvfb-run)")
    record = open_record(db)
    # On a record with accounts the console asks on screen, unless the environment signs in.
    account = (sign_in(record, Permission.run)
               if os.environ.get(USER_ENV) or not Gate(record, None, COMMAND_LINE).guarded
               else None)
    vocabularies = vocabularies_from(profile)
    settings = load_projector_settings()
    clock = MonotonicClock()
    server = open_console_server(clock, vocabularies, Listening(listen, listen_host, tls_cert,
                                                                tls_key, no_tls))

    from instructor_console.console_window import ConsoleWindow
    from simulator.projector.host import ProjectorHost

    host = ProjectorHost(record, library or bundled_library(), vocabularies, settings, clock,
                         backend=cast(Any, backend), screen=screen,
                         windowed_size=window_size_or_none(windowed, offscreen=False),
                         server=server, thumbnails=data_dir() / "thumbnails", agency=agency)
    window = ConsoleWindow(host, vocabularies, clock, rubric_or_exit(rubric), account=account)
    window.setup.load_catalog()
    window.resize(1280, 800)
    window.show()
    app.setQuitOnLastWindowClosed(True)
    app.exec()


def remote_console(
    url: Annotated[str, typer.Argument(help="The projector PC's address, as it shows it "
                                       "(ws://HOST:PORT or wss://HOST:PORT).")],
    fingerprint: Annotated[str | None, typer.Option(
        "--fingerprint", help="For wss://: the certificate fingerprint the projector PC "
        "shows.")] = None,
    name: Annotated[str, typer.Option("--name", help="This console's name, for the log.")]
    = "remote console",
) -> None:
    """The class from another PC: set-up, live control and change-over (asks for the code).

    On a projector PC of an older release, or one started with ``branchpoint project
    --listen``, it steers the live run only, and says so.
    """
    if not url.startswith(("ws://", "wss://")):
        fail(f"{url!r}: give the address as ws://HOST:PORT or wss://HOST:PORT")
    if url.startswith("wss://") and not fingerprint:
        fail("wss:// needs --fingerprint, as shown on the projector PC, so that no other "
             "machine can pose as it")
    code = os.environ.get(CODE_ENV) or typer.prompt("pairing code (shown on the projector PC)")
    from simulator.projector.app import display_available, qt_application
    from simulator.runtime import MonotonicClock

    app = qt_application()
    if not display_available():
        fail("the console needs a display")
    from instructor_console.remote_console import RemoteConsoleWindow
    from instructor_console.remote_link import RemoteLink

    link = RemoteLink(url, code, name=name, fingerprint=fingerprint)
    # The keys follow the projector PC's agency profile, which comes with the snapshot.
    window = RemoteConsoleWindow(link, MonotonicClock())
    window.setWindowTitle(f"Branchpoint remote console: {url}")
    window.resize(1280, 800)
    window.show()
    link.open()
    app.setQuitOnLastWindowClosed(True)
    app.exec()
    link.close()
