"""Range triggers: buttons, pedals and triggers on a serial port or USB HID.

A trigger is an input source of its own: a thread reads the device and stamps each press
on the run's clock the moment it arrives, then hands it on as a `DeviceInput`. What a
press looks like (the bytes a serial device sends, the bit a HID report sets) is learned
once in the console with `learn_serial` and `learn_hid` and kept in the projector settings.

When a device goes away mid-run (a cable pulled), ``on_error`` hears it, and the trigger
keeps trying to reopen it until it is stopped; the run carries on meanwhile. Once it is
back, ``on_recovered`` hears that. A press that cannot be handed on (the sink failed) is
said to ``on_undelivered`` (``on_error`` when there is none), but it is no fault of the
device: it is not reopened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import hid
import serial
import serial.tools.list_ports

from simulator.devices.settings import HidTriggerSettings, SerialTriggerSettings
from simulator.inputs import DeviceInput
from simulator.ports import Clock

log = logging.getLogger(__name__)

# How long a read waits before looking again at whether the trigger is being stopped; it
# bounds how long `stop` takes, not how soon a press is seen (a read returns on arrival).
_POLL_S = 0.1
# A full-speed USB HID report is at most 64 bytes.
_HID_REPORT_SIZE = 64
# The press kept in the settings is at most 64 hex digits.
_PRESS_BYTES_MAX = 32


class TriggerError(OSError):
    """A trigger could not be opened or read, or a press could not be learned."""


class LearnCancelled(TriggerError):
    """Whoever was learning a press cancelled it."""


class TriggerSource(Protocol):
    """A running trigger: it hands its presses to its sink between `start` and `stop`."""

    def start(self) -> None:
        """Open the device and begin reading; raises `TriggerError` when it cannot."""
        ...

    def stop(self) -> None:
        """Stop reading and close the device."""
        ...


def _never() -> bool:
    return False


def _press_input(name: str, action: str | None, input_ns: int) -> DeviceInput:
    # A trigger standing for a force option is a tool; one that stands for nothing is a
    # plain key, whose meaning the scenario gives.
    return DeviceInput(device=name, kind="tool" if action else "key", input_ns=input_ns,
                       action=action, key=None)


class _DeviceReader:
    """A device read on its own thread, reopened after it fails until stopped."""

    def __init__(self, what: str, sink: Callable[[DeviceInput], None],
                 on_error: Callable[[str], None] | None,
                 on_recovered: Callable[[], None] | None, retry_s: float,
                 on_undelivered: Callable[[str], None] | None = None) -> None:
        self._what = what
        self._sink = sink
        self._on_error = on_error
        self._on_undelivered = on_undelivered or on_error
        self._on_recovered = on_recovered
        self._retry_s = retry_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Said once per outage: a device that reopens and fails again at once (a port
        # whose adapter is half gone) must not flood the console.
        self._out = False

    def _open(self) -> None:
        raise NotImplementedError

    def _poll(self) -> None:
        """Wait up to `_POLL_S` for input and handle what came."""
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Open the device and begin reading; raises `TriggerError` when it cannot."""
        if self._thread is not None:
            raise RuntimeError(f"{self._what} is started once")
        self._open()
        self._thread = threading.Thread(target=self._run, name=self._what, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop reading and close the device; again does nothing."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """Whether its thread is still reading (or waiting to reopen the device)."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._poll()
                except (OSError, ValueError) as error:
                    self._close()
                    if not self._out:
                        self._out = True
                        self._report(
                            f"{self._what} stopped answering ({error}): check its cable; "
                            f"trying again every {self._retry_s:g} s, and its presses are "
                            "not seen meanwhile")
                    self._reopen()
                else:
                    self._out = False
        except Exception as error:
            # Whatever else went wrong ends the reading; say so rather than lose the
            # trigger without a word.
            self._report(f"{self._what} stopped ({error!r}); its presses are not seen")
        finally:
            self._close()

    def _reopen(self) -> None:
        while not self._stopping.wait(self._retry_s):
            try:
                self._open()
            except (OSError, ValueError):  # TriggerError among them
                continue
            log.info("%s is back", self._what)
            if self._on_recovered is not None:
                self._on_recovered()
            return

    def _deliver(self, seen: DeviceInput) -> None:
        # The sink's own failure (an OSError or ValueError included) must not pass for the
        # device's: that would close and reopen a port that works, losing presses.
        try:
            self._sink(seen)
        except Exception as error:
            log.exception("%s: a press could not be handed on", self._what)
            if self._on_undelivered is not None:
                self._on_undelivered(f"a press of {self._what} could not be delivered to "
                                     f"the run ({error!r}); the trigger goes on reading")

    def _report(self, message: str) -> None:
        log.warning("%s", message)
        if self._on_error is not None:
            self._on_error(message)


class _PressMatcher:
    """Finds a press's bytes in a stream that may split or bunch them, with their stamps."""

    def __init__(self, press: bytes) -> None:
        self._press = press
        self._tail = b""
        self._tail_ns: list[int] = []

    def feed(self, data: bytes, arrived_ns: int) -> list[int]:
        """The stamps of the presses completed by ``data``: each its first byte's arrival."""
        stream = self._tail + data
        stamps = self._tail_ns + [arrived_ns] * len(data)
        found: list[int] = []
        start = 0
        while (at := stream.find(self._press, start)) >= 0:
            found.append(stamps[at])
            start = at + len(self._press)
        # Keep only what could still begin a press split across reads.
        start = max(start, len(stream) - (len(self._press) - 1))
        self._tail, self._tail_ns = stream[start:], stamps[start:]
        return found


def _press_bytes(name: str, press: str) -> bytes:
    try:
        data = bytes.fromhex(press)
    except ValueError as error:
        raise TriggerError(f"the press learned for trigger {name} ({press!r}) is not "
                           "hexadecimal bytes: learn it again in the console") from error
    if not data:
        raise TriggerError(f"no press is learned for trigger {name}: learn it in the console")
    return data


def _open_serial(port: str, baudrate: int, timeout_s: float) -> serial.Serial:
    try:
        return serial.Serial(port, baudrate, timeout=timeout_s)
    except (OSError, ValueError) as error:
        raise TriggerError(
            f"serial port {port} could not be opened ({error}): check that the device is "
            "plugged in, that no other program has the port open, and the port's name in "
            "the projector settings") from error


class SerialTrigger(_DeviceReader):
    """A button or trigger on a serial port, sending the learned bytes for each press."""

    def __init__(self, name: str, settings: SerialTriggerSettings, clock: Clock,
                 sink: Callable[[DeviceInput], None], *,
                 on_error: Callable[[str], None] | None = None,
                 on_recovered: Callable[[], None] | None = None,
                 on_undelivered: Callable[[str], None] | None = None,
                 retry_s: float = 1.0) -> None:
        super().__init__(f"trigger {name} on {settings.port}", sink, on_error, on_recovered,
                         retry_s, on_undelivered)
        self._name = name
        self._settings = settings
        self._clock = clock
        self._matcher = _PressMatcher(_press_bytes(name, settings.press))
        self._port: serial.Serial | None = None

    def _open(self) -> None:
        port = _open_serial(self._settings.port, self._settings.baudrate, _POLL_S)
        try:
            # Whatever was queued before the run is nobody's press in it.
            port.reset_input_buffer()
        except (OSError, ValueError) as error:
            port.close()
            raise TriggerError(f"{self._what} could not be read ({error})") from error
        self._port = port

    def _poll(self) -> None:
        port = self._port
        if port is None:
            raise OSError("the port is not open")
        first = port.read(1)
        if not first:
            return
        arrived_ns = self._clock.now_ns()
        waiting = port.in_waiting
        data = first + port.read(waiting) if waiting else first
        for input_ns in self._matcher.feed(data, arrived_ns):
            self._deliver(_press_input(self._name, self._settings.action, input_ns))

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except OSError as error:
                log.debug("closing %s: %s", self._what, error)


@dataclass(frozen=True)
class HidDeviceInfo:
    """A USB HID device found on this computer."""

    vendor_id: int
    product_id: int
    serial_number: str | None
    product: str
    manufacturer: str
    path: bytes


class HidHandle(Protocol):
    """An open HID device."""

    def read(self, size: int, timeout_ms: int) -> bytes:
        """The next input report (up to ``size`` bytes), or nothing after ``timeout_ms``."""
        ...

    def close(self) -> None:
        """Let the device go."""
        ...


class HidBackend(Protocol):
    """How HID devices are found and opened: hidapi, or a fake in tests."""

    def enumerate(self) -> list[HidDeviceInfo]:
        """The HID devices plugged in."""
        ...

    def open(self, vendor_id: int, product_id: int, serial_number: str | None) -> HidHandle:
        """Open a device; raises OSError when it cannot."""
        ...


class _HidapiHandle:
    def __init__(self, device: hid.device) -> None:
        self._device = device

    def read(self, size: int, timeout_ms: int) -> bytes:
        # cython-hidapi reads with no timeout at all when given 0, which `stop` could not end.
        return bytes(self._device.read(size, max(1, timeout_ms)))

    def close(self) -> None:
        self._device.close()


class HidapiBackend:
    """HID devices through hidapi (the ``hid`` module of cython-hidapi)."""

    def enumerate(self) -> list[HidDeviceInfo]:
        """The HID devices plugged in."""
        return [HidDeviceInfo(vendor_id=int(found["vendor_id"]),
                              product_id=int(found["product_id"]),
                              serial_number=found.get("serial_number") or None,
                              product=found.get("product_string") or "",
                              manufacturer=found.get("manufacturer_string") or "",
                              path=bytes(found.get("path") or b""))
                for found in hid.enumerate()]

    def open(self, vendor_id: int, product_id: int, serial_number: str | None) -> HidHandle:
        """Open a device; raises OSError when it cannot."""
        device = hid.device()
        device.open(vendor_id, product_id, serial_number)
        return _HidapiHandle(device)


def list_hid_devices(backend: HidBackend | None = None) -> list[HidDeviceInfo]:
    """The USB HID devices plugged in, for the console to offer."""
    return (backend or HidapiBackend()).enumerate()


def list_serial_ports() -> list[str]:
    """The names of the serial ports on this computer (``COM3``, ``/dev/ttyUSB0``)."""
    return sorted(port.device for port in serial.tools.list_ports.comports())


def _open_hid(backend: HidBackend, vendor_id: int, product_id: int,
              serial_number: str | None) -> HidHandle:
    try:
        return backend.open(vendor_id, product_id, serial_number)
    except (OSError, ValueError) as error:
        raise TriggerError(
            f"USB device {vendor_id:04x}:{product_id:04x} could not be opened ({error}): "
            "check that it is plugged in and, on Linux, that this user may read it (a udev "
            "rule)") from error


class HidTrigger(_DeviceReader):
    """A USB HID button, pedal or trigger: a press is its learned bit going from clear to set.

    A button held down is one press; it is pressed again only after it is let go.
    """

    def __init__(self, name: str, settings: HidTriggerSettings, clock: Clock,
                 sink: Callable[[DeviceInput], None], backend: HidBackend | None = None, *,
                 on_error: Callable[[str], None] | None = None,
                 on_recovered: Callable[[], None] | None = None,
                 on_undelivered: Callable[[str], None] | None = None,
                 retry_s: float = 1.0) -> None:
        super().__init__(
            f"trigger {name} (USB {settings.vendor_id:04x}:{settings.product_id:04x})",
            sink, on_error, on_recovered, retry_s, on_undelivered)
        self._name = name
        self._settings = settings
        self._clock = clock
        self._backend = backend or HidapiBackend()
        self._handle: HidHandle | None = None
        self._held = False

    def _open(self) -> None:
        settings = self._settings
        self._handle = _open_hid(self._backend, settings.vendor_id, settings.product_id,
                                 settings.serial_number)
        # A button held while the device was away is not pressed again by coming back.
        self._held = False

    def _poll(self) -> None:
        handle = self._handle
        if handle is None:
            raise OSError("the device is not open")
        report = handle.read(_HID_REPORT_SIZE, round(_POLL_S * 1000))
        if not report:
            return
        arrived_ns = self._clock.now_ns()
        settings = self._settings
        held = settings.byte < len(report) and bool(report[settings.byte] & settings.mask)
        if held and not self._held:
            self._deliver(_press_input(self._name, settings.action, arrived_ns))
        self._held = held

    def _close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except (OSError, ValueError) as error:
                log.debug("closing %s: %s", self._what, error)


def learn_serial(port: str, baudrate: int, timeout_s: float,
                 cancelled: Callable[[], bool] = _never, *, settle_s: float = 0.2) -> str:
    """What one press of the device on ``port`` sends, in hex, for `SerialTriggerSettings`.

    The port is opened and whatever comes in the first ``settle_s`` is thrown away (an
    adapter's noise on opening), and so is the rest of a burst still coming at its end:
    only after the line has been quiet for a few characters' time is a burst taken as the
    press, which a pause of that length ends. Raises `TriggerError` when nothing comes
    within ``timeout_s`` or the device sends more than a press could be, and
    `LearnCancelled` as soon as ``cancelled`` says so (it is asked several times a second).
    """
    # Ten bits a character; three characters' silence ends a burst, and never less than
    # the gap a USB-serial adapter may leave inside one.
    quiet_s = max(0.05, 30 / baudrate)
    deadline = time.monotonic() + timeout_s
    with _open_serial(port, baudrate, quiet_s) as connection:
        try:
            connection.reset_input_buffer()
        except (OSError, ValueError) as error:  # pyserial's SerialException among them
            raise TriggerError(f"serial port {port} could not be read ({error}): check the "
                               "device's cable") from error
        settled = time.monotonic() + settle_s
        # Set by a read that waited a whole quiet spell for nothing, after settling: a burst
        # begun before then is noise even where it goes on past ``settled``.
        listening = False
        press = bytearray()
        while True:
            if cancelled():
                raise LearnCancelled(f"learning the press on {port} was cancelled")
            try:
                chunk = connection.read(max(1, connection.in_waiting))
            except (OSError, ValueError) as error:
                raise TriggerError(f"serial port {port} stopped answering ({error}): "
                                   "check the device's cable") from error
            if not listening:
                listening = not chunk and time.monotonic() >= settled
                if not listening and time.monotonic() > deadline:
                    raise TriggerError(
                        f"the device on {port} never fell quiet within {timeout_s:g} s: "
                        "check the baud rate, and that it is a button")
                continue
            press += chunk
            if len(press) > _PRESS_BYTES_MAX:
                raise TriggerError(
                    f"the device on {port} sent more than {_PRESS_BYTES_MAX} bytes at once, "
                    "more than a button press: check the baud rate, and that it is a button")
            if press and not chunk:
                return press.hex()
            if not press and time.monotonic() > deadline:
                raise TriggerError(
                    f"no press came from {port} within {timeout_s:g} s: check the port and "
                    "the baud rate, then press the button once the dialog is open")


def learn_hid(backend: HidBackend, vendor_id: int, product_id: int,
              serial_number: str | None, timeout_s: float,
              cancelled: Callable[[], bool] = _never, *,
              settle_s: float = 0.3) -> tuple[int, int]:
    """The report byte and bit mask of a press of the device's button, for `HidTriggerSettings`.

    For ``settle_s`` the device is watched untouched: its last report is the idle one, and
    bits that change meanwhile (a stick's axis, a counter) are noise to ignore. The press
    is the first report setting other bits, in the lowest byte that has any; it is learned
    once those bits are clear again (the button let go). A device that reports only on
    change sends nothing while idle, and then everything is clear. A button that clears a
    bit when pressed cannot be learned: a press is a bit being set. Raises `TriggerError`
    on timeout and `LearnCancelled` as soon as ``cancelled`` says so.
    """
    deadline = time.monotonic() + timeout_s
    settled = time.monotonic() + settle_s
    idle: bytes | None = None
    noise = bytearray(_HID_REPORT_SIZE)
    pressed: tuple[int, int] | None = None
    handle = _open_hid(backend, vendor_id, product_id, serial_number)
    try:
        while True:
            if cancelled():
                raise LearnCancelled(
                    f"learning the press of {vendor_id:04x}:{product_id:04x} was cancelled")
            if time.monotonic() > deadline:
                what = ("the button was pressed but not let go" if pressed else
                        "no press came")
                raise TriggerError(
                    f"{what} within {timeout_s:g} s on USB device "
                    f"{vendor_id:04x}:{product_id:04x}: press and release the button once "
                    "the dialog is open")
            try:
                report = handle.read(_HID_REPORT_SIZE, 50)
            except (OSError, ValueError) as error:
                raise TriggerError(f"USB device {vendor_id:04x}:{product_id:04x} stopped "
                                   f"answering ({error}): check its cable") from error
            if not report:
                continue
            if time.monotonic() < settled:
                if idle is not None:
                    for at, (was, now) in enumerate(zip(idle, report, strict=False)):
                        noise[at] |= was ^ now
                idle = report
                continue
            if pressed is None:
                pressed = _newly_set(idle or bytes(len(report)), report, noise)
            # A report too short to hold the byte has the button let go, as a trigger reads it.
            elif pressed[0] >= len(report) or not report[pressed[0]] & pressed[1]:
                return pressed
    finally:
        handle.close()


def _newly_set(idle: bytes, report: bytes, noise: bytearray) -> tuple[int, int] | None:
    for at, now in enumerate(report):
        was = idle[at] if at < len(idle) else 0
        bits = now & ~was & ~noise[at] & 0xFF
        if bits:
            return at, bits
    return None


__all__ = ["HidBackend", "HidDeviceInfo", "HidHandle", "HidTrigger", "HidapiBackend",
           "LearnCancelled", "SerialTrigger", "TriggerError", "TriggerSource", "learn_hid",
           "learn_serial", "list_hid_devices", "list_serial_ports"]
