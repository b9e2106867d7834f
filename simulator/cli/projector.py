"""``branchpoint project`` and ``branchpoint projector ...``: the trainee's screen.

Qt and the players are imported inside the commands, so the rest of the CLI starts
quickly and runs on machines without a display or libvlc.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from simulator.cli.common import EXIT_PROBLEMS, err, fail, print_problems
from simulator.documents import DocumentError

if TYPE_CHECKING:
    from simulator.ports import Clock
    from simulator.projector.settings import ProjectorSettings
    from simulator.projector.window import ProjectorWindow

projector_app = typer.Typer(help="The projector: screens, test pattern, lag calibration.",
                            no_args_is_help=True)

BackendOption = Annotated[str | None, typer.Option(
    "--backend", help="Player: pyav (frame-exact, the default) or vlc.")]
ScreenOption = Annotated[str | None, typer.Option(
    "--screen", help="Projector screen, by number (1-based) or name; default: the last.")]
WindowedOption = Annotated[str | None, typer.Option(
    "--windowed", help="Play in a window of this size (e.g. 1280x720) instead of full screen.")]


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``1280x720`` as numbers; exits with a clear message if malformed."""
    if text is None:
        return None
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        fail(f"--windowed {text!r}: give WIDTHxHEIGHT, e.g. 1280x720")
    if not (160 <= width <= 7680 and 90 <= height <= 4320):
        fail(f"--windowed {text!r}: between 160x90 and 7680x4320")
    return width, height


def load_projector_settings() -> ProjectorSettings:
    """The installation's settings, or exit naming the file and what is wrong in it."""
    from simulator.projector.settings import load_settings

    try:
        return load_settings()
    except DocumentError as exc:
        print_problems(exc.problems)
        raise typer.Exit(EXIT_PROBLEMS) from None


@projector_app.command("screens")
def screens() -> None:
    """List the screens Qt sees, numbered as --screen takes them."""
    from PySide6.QtGui import QGuiApplication

    from simulator.projector.app import qt_application

    qt_application()
    for number, screen in enumerate(QGuiApplication.screens(), start=1):
        size = screen.size()
        err.print(f"{number}: {escape(screen.name())} {size.width()}x{size.height()} "
                  f"@ {screen.refreshRate():.0f} Hz {escape(screen.manufacturer())} "
                  f"{escape(screen.model())}")


@projector_app.command("devices")
def devices() -> None:
    """List picture decoding and presenting, cameras, microphones, serial and HID devices."""
    from simulator.devices.camera import list_cameras
    from simulator.devices.triggers import list_hid_devices, list_serial_ports
    from simulator.names import inert
    from simulator.playback.gl_picture import check_gpu
    from simulator.playback.hardware import AUTO, choose
    from simulator.projector.app import qt_application
    from simulator.recording.sound import MicrophoneError, list_microphones

    err.print(f"video (decoding: auto): {escape(choose(AUTO).describe())}")
    qt_application()
    err.print(f"picture (presenter: auto): {escape(check_gpu().describe())}")
    cameras = list_cameras()
    err.print("cameras (camera.source):" if cameras else "cameras: none found")
    for camera in cameras:
        err.print(f"  {camera.index}: {camera.width}x{camera.height} @ {camera.fps:g} fps "
                  f"({escape(camera.backend)})")
    try:
        microphones = list_microphones()
    except MicrophoneError as exc:
        err.print(f"microphones: {escape(str(exc))}")
    else:
        err.print("microphones (recording.microphone.device):" if microphones
                  else "microphones: none found")
        for microphone in microphones:
            err.print(f"  {microphone.index}: {escape(microphone.name)}, "
                      f"{microphone.channels} channel(s) at {microphone.default_rate} Hz "
                      f"({escape(microphone.host_api)})")
    ports = list_serial_ports()
    err.print("serial ports (triggers: kind serial, port):" if ports
              else "serial ports: none found")
    for port in ports:
        err.print(f"  {escape(inert(port))}")
    hids = list_hid_devices()
    err.print("USB HID devices (triggers: kind hid):" if hids else "USB HID devices: none found")
    for hid in hids:
        err.print(f"  vendor_id 0x{hid.vendor_id:04x} product_id 0x{hid.product_id:04x} "
                  f"{escape(inert(hid.manufacturer or ''))} {escape(inert(hid.product or ''))}")


@projector_app.command("test-pattern")
def test_pattern(
    screen: ScreenOption = None,
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="How long to show it.")]
    = 60.0,
) -> None:
    """Show the calibration pattern full screen, to focus and square the projector."""
    from simulator.projector.app import qt_application, wait
    from simulator.runtime import MonotonicClock

    qt_application()
    settings = load_projector_settings()
    window = _window_or_fail(MonotonicClock(), settings, screen)
    window.show_test_pattern(f"screen {screen or settings.screen or 'last'}")
    wait(seconds, until=lambda: not window.isVisible())
    window.close()


@projector_app.command("calibrate")
def calibrate(
    screen: ScreenOption = None,
    flashes: Annotated[int, typer.Option("--flashes", min=5, max=200)] = 20,
    sensor_latency_ms: Annotated[float, typer.Option(
        "--sensor-latency-ms", min=0, help="The light sensor's own latency, subtracted.")] = 0.0,
) -> None:
    """Measure the screen's lag with a light sensor on the flashing square, and store it."""
    from simulator.projector.app import qt_application, wait
    from simulator.projector.calibration import LagCalibration
    from simulator.projector.settings import save_settings
    from simulator.runtime import MonotonicClock

    qt_application()
    settings = load_projector_settings()
    clock = MonotonicClock()
    window = _window_or_fail(clock, settings, screen)
    measured: list[float | None] = []
    calibration = LagCalibration(window, clock, flashes=flashes,
                                 sensor_latency_ms=sensor_latency_ms)
    calibration.finished.connect(measured.append)
    calibration.start()
    wait(flashes * 1.0 + 5, until=lambda: bool(measured))
    window.close()
    if not measured or measured[0] is None:
        fail(f"only {len(calibration.lags_ms)} answers from the sensor; check that it sends a "
             "key or click when the square flashes, then run calibrate again", EXIT_PROBLEMS)
    lag = measured[0]
    if not 0 <= lag <= 500:
        fail(f"measured {lag:.1f} ms, outside 0-500 ms: check --sensor-latency-ms (it is "
             "subtracted) and that the sensor answers the flashing square, then run calibrate "
             "again; nothing was stored", EXIT_PROBLEMS)
    settings.display_lag_ms = lag
    path = save_settings(settings)
    err.print(f"screen lag {measured[0]:.1f} ms (median of {len(calibration.lags_ms)}); "
              f"stored in {escape(str(path))}")


def _window_or_fail(clock: Clock, settings: ProjectorSettings, screen: str | None
                    ) -> ProjectorWindow:
    from simulator.playback import PlayerUnavailable
    from simulator.projector.app import new_window

    try:
        return new_window(clock, settings, list, screen=screen)
    except ValueError as exc:
        fail(f"--screen: {exc}")
    except PlayerUnavailable as exc:  # `presenter: gpu` on a PC without OpenGL
        fail(str(exc))


def window_size_or_none(windowed: str | None, offscreen: bool) -> tuple[int, int] | None:
    """The window size to use: as asked, or 1280x720 where nothing can be full screen."""
    size = parse_size(windowed)
    return size if size is not None or not offscreen else (1280, 720)


def snapshots_folder(path: Path | None) -> Path | None:
    """Where projector snapshots go, created if asked for."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    return path
