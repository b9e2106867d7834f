"""Range triggers: serial presses through a real pseudo-terminal, HID presses through a fake."""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import hid
import pytest
import serial
from serial.tools.list_ports import comports

from simulator.devices.settings import HidTriggerSettings, SerialTriggerSettings
from simulator.devices.triggers import (
    HidapiBackend,
    HidDeviceInfo,
    HidTrigger,
    LearnCancelled,
    SerialTrigger,
    TriggerError,
    _PressMatcher,
    learn_hid,
    learn_serial,
    list_hid_devices,
    list_serial_ports,
)
from simulator.inputs import DeviceInput
from simulator.runtime import ManualClock

needs_pty = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


class Pty:
    """A pseudo-terminal: the test writes at the master, the trigger opens the slave's name."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        self.name = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close_master(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def close(self) -> None:
        self.close_master()
        os.close(self._slave)


@pytest.fixture
def pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


def inputs() -> tuple[queue.Queue[DeviceInput], list[str]]:
    return queue.Queue(), []


def next_input(received: queue.Queue[DeviceInput]) -> DeviceInput:
    return received.get(timeout=2)


def no_more(received: queue.Queue[DeviceInput]) -> None:
    with pytest.raises(queue.Empty):
        received.get(timeout=0.2)


def test_a_press_is_found_however_the_stream_cuts_it_and_stamped_at_its_first_byte() -> None:
    matcher = _PressMatcher(b"P1\n")
    assert matcher.feed(b"noiseP", 100) == []
    assert matcher.feed(b"1", 200) == []
    assert matcher.feed(b"\nxxP1\nP1\n", 300) == [100, 300, 300]
    assert matcher.feed(b"P1", 400) == []
    assert matcher.feed(b"P1\n", 500) == [500]  # a broken-off press is not completed by another


@needs_pty
def test_serial_presses_are_stamped_on_arrival_split_or_bunched(pty: Pty) -> None:
    clock = ManualClock()
    received, errors = inputs()
    trigger = SerialTrigger("pedal", SerialTriggerSettings(port=pty.name, press="50310a",
                                                           action="cew"),
                            clock, received.put, on_error=errors.append)
    trigger.start()
    try:
        clock.advance(1)
        pty.write(b"P1\n")
        press = next_input(received)
        assert press == DeviceInput(device="pedal", kind="tool", input_ns=clock.now_ns(),
                                    action="cew", key=None)

        pty.write(b"P")
        time.sleep(0.05)
        pty.write(b"1\n")
        assert next_input(received).device == "pedal"

        pty.write(b"\x00\xffP1\nzzP1\n")
        assert next_input(received).action == "cew"
        assert next_input(received).action == "cew"
        no_more(received)
    finally:
        trigger.stop()
    assert not trigger.running
    assert errors == []


@needs_pty
def test_a_trigger_for_no_force_option_is_a_key(pty: Pty) -> None:
    received, _ = inputs()
    trigger = SerialTrigger("button", SerialTriggerSettings(port=pty.name, press="31"),
                            ManualClock(), received.put)
    trigger.start()
    try:
        pty.write(b"1")
        assert next_input(received).kind == "key"
    finally:
        trigger.stop()


@needs_pty
def test_a_port_that_goes_away_is_said_once_and_the_trigger_stops_cleanly(pty: Pty) -> None:
    received, errors = inputs()
    said = threading.Event()

    def on_error(message: str) -> None:
        errors.append(message)
        said.set()

    trigger = SerialTrigger("pedal", SerialTriggerSettings(port=pty.name, press="31"),
                            ManualClock(), received.put, on_error=on_error, retry_s=0.05)
    trigger.start()
    pty.close_master()
    assert said.wait(2)
    time.sleep(0.3)  # several reopening attempts
    began = time.monotonic()
    trigger.stop()
    assert time.monotonic() - began < 1
    assert not trigger.running
    assert len(errors) == 1
    assert "pedal" in errors[0] and pty.name in errors[0] and "check its cable" in errors[0]
    trigger.stop()  # again: nothing


def test_a_port_that_is_not_there_is_refused_at_start() -> None:
    trigger = SerialTrigger("pedal", SerialTriggerSettings(port="/dev/no-such-port-here",
                                                           press="31"),
                            ManualClock(), lambda seen: None)
    with pytest.raises(TriggerError, match="no-such-port-here could not be opened"):
        trigger.start()
    # A device's trouble is an OSError, as pyserial's and hidapi's own are.
    with pytest.raises(OSError, match="could not be opened"):
        trigger.start()


def test_a_press_that_is_not_hex_is_refused() -> None:
    with pytest.raises(TriggerError, match="learn it again"):
        SerialTrigger("pedal", SerialTriggerSettings(port="COM3", press="zz"), ManualClock(),
                      lambda seen: None)


@needs_pty
def test_learning_a_serial_press_ignores_what_came_before(pty: Pty) -> None:
    pty.write(b"garbage on the line\r\n")
    with ThreadPoolExecutor(1) as pool:
        learning = pool.submit(learn_serial, pty.name, 9600, 3.0, settle_s=0.05)
        time.sleep(0.3)
        pty.write(b"1\r\n")
        assert learning.result(timeout=3) == "310d0a"


@needs_pty
def test_learning_a_serial_press_times_out_or_is_cancelled(pty: Pty) -> None:
    with pytest.raises(TriggerError, match="no press came"):
        learn_serial(pty.name, 9600, 0.2, settle_s=0.0)
    began = time.monotonic()
    with pytest.raises(LearnCancelled):
        learn_serial(pty.name, 9600, 10.0, lambda: time.monotonic() - began > 0.1)
    assert time.monotonic() - began < 1


def test_ports_and_hid_devices_are_listed_whatever_the_machine_has() -> None:
    # Whatever this machine has, the lists are pyserial's and hidapi's own, described.
    assert list_serial_ports() == sorted(port.device for port in comports())
    devices = list_hid_devices()  # the real hidapi backend
    found = hid.enumerate()
    assert [(d.vendor_id, d.product_id, d.path) for d in devices] == [
        (f["vendor_id"], f["product_id"], bytes(f["path"])) for f in found]
    assert all(0 <= d.vendor_id <= 0xFFFF and 0 <= d.product_id <= 0xFFFF for d in devices)
    assert all(isinstance(d.product, str) and isinstance(d.manufacturer, str)
               for d in devices)


@needs_pty
def test_learning_a_serial_press_throws_away_a_burst_going_on_when_settling_ends(
        pty: Pty) -> None:
    with ThreadPoolExecutor(1) as pool:
        learning = pool.submit(learn_serial, pty.name, 9600, 5.0, settle_s=0.2)
        time.sleep(0.1)
        # Noise from before the end of settling to after it, with no gap a press could end.
        for _ in range(12):
            pty.write(b"~")
            time.sleep(0.02)
        time.sleep(0.3)
        pty.write(b"1\r\n")
        assert learning.result(timeout=5) == "310d0a"


def test_learning_a_serial_press_on_a_port_that_fails_at_once_is_a_trigger_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def reset_input_buffer(self) -> None:
            raise serial.SerialException("device reports readiness to read but returned "
                                         "no data")

    monkeypatch.setattr(serial, "Serial", Failing)
    with pytest.raises(TriggerError, match="COM9 could not be read"):
        learn_serial("COM9", 9600, 1.0)


@needs_pty
def test_a_sink_that_fails_is_said_and_the_port_is_kept(pty: Pty) -> None:
    received, errors = inputs()
    calls = 0

    def sink(seen: DeviceInput) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("the run's queue is closed")
        received.put(seen)

    trigger = SerialTrigger("pedal", SerialTriggerSettings(port=pty.name, press="31"),
                            ManualClock(), sink, on_error=errors.append, retry_s=0.05)
    trigger.start()
    try:
        pty.write(b"1")
        deadline = time.monotonic() + 2
        while not errors and time.monotonic() < deadline:
            time.sleep(0.01)
        pty.write(b"1")  # the trigger reads on
        assert next_input(received).device == "pedal"
    finally:
        trigger.stop()
    assert len(errors) == 1
    assert "could not be delivered" in errors[0] and "the run's queue is closed" in errors[0]
    assert "stopped answering" not in errors[0]


class FakeHandle:
    """Hands out the reports a test queues, as hidapi would, waiting up to the timeout."""

    def __init__(self, reports: queue.Queue[bytes | Exception]) -> None:
        self._reports = reports
        self.closed = False

    def read(self, size: int, timeout_ms: int) -> bytes:
        try:
            report = self._reports.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            return b""
        if isinstance(report, Exception):
            raise report
        return report[:size]

    def close(self) -> None:
        self.closed = True


class FakeBackend:
    def __init__(self) -> None:
        self.reports: queue.Queue[bytes | Exception] = queue.Queue()
        self.opened: list[tuple[int, int, str | None]] = []
        self.handles: list[FakeHandle] = []

    def enumerate(self) -> list[HidDeviceInfo]:
        return [HidDeviceInfo(0x1234, 0x0001, "A1", "Foot pedal", "Range Co", b"/dev/hid0")]

    def open(self, vendor_id: int, product_id: int, serial_number: str | None) -> FakeHandle:
        self.opened.append((vendor_id, product_id, serial_number))
        handle = FakeHandle(self.reports)
        self.handles.append(handle)
        return handle


PEDAL = HidTriggerSettings(vendor_id=0x1234, product_id=0x0001, serial_number="A1", byte=1,
                           mask=0x04, action="firearm")


def test_a_hid_press_is_its_bit_going_from_clear_to_set_and_a_held_button_is_one() -> None:
    backend = FakeBackend()
    clock = ManualClock()
    received, errors = inputs()
    trigger = HidTrigger("pedal", PEDAL, clock, received.put, backend, on_error=errors.append)
    trigger.start()
    try:
        assert backend.opened == [(0x1234, 0x0001, "A1")]
        backend.reports.put(bytes([0, 0x00]))
        backend.reports.put(bytes([0x80, 0x01]))  # other bits: no press
        no_more(received)
        clock.advance(2)
        backend.reports.put(bytes([0, 0x05]))
        assert next_input(received) == DeviceInput(device="pedal", kind="tool",
                                                   input_ns=clock.now_ns(), action="firearm")
        backend.reports.put(bytes([0, 0x04]))  # still held
        backend.reports.put(bytes([0, 0x0c]))
        no_more(received)
        backend.reports.put(bytes([0, 0x00]))
        backend.reports.put(bytes([0]))  # too short to hold the byte: let go
        backend.reports.put(bytes([0, 0x04]))
        assert next_input(received).device == "pedal"
        no_more(received)
    finally:
        trigger.stop()
    assert backend.handles[-1].closed
    assert errors == []


def test_a_hid_device_that_fails_is_said_and_reopened() -> None:
    backend = FakeBackend()
    received, errors = inputs()
    trigger = HidTrigger("pedal", PEDAL, ManualClock(), received.put, backend,
                         on_error=errors.append, retry_s=0.05)
    trigger.start()
    try:
        backend.reports.put(OSError("read error"))
        backend.reports.put(bytes([0, 0x04]))
        assert next_input(received).device == "pedal"
    finally:
        trigger.stop()
    assert len(backend.opened) == 2
    assert backend.handles[0].closed
    assert len(errors) == 1 and "read error" in errors[0]


def test_a_hid_device_back_after_failing_is_said_to_be_back() -> None:
    backend = FakeBackend()
    received, errors = inputs()
    back = threading.Event()
    trigger = HidTrigger("pedal", PEDAL, ManualClock(), received.put, backend,
                         on_error=errors.append, on_recovered=back.set, retry_s=0.05)
    trigger.start()
    try:
        assert not back.wait(0.2)  # opening at start is no recovery
        backend.reports.put(OSError("read error"))
        assert back.wait(2)
    finally:
        trigger.stop()
    assert len(errors) == 1


def test_a_hid_sink_that_fails_goes_to_on_undelivered_and_the_device_is_kept() -> None:
    backend = FakeBackend()
    errors: list[str] = []
    undelivered: list[str] = []
    received: queue.Queue[DeviceInput] = queue.Queue()

    def sink(seen: DeviceInput) -> None:
        if received.qsize() == 0 and not undelivered:
            raise ValueError("no run")
        received.put(seen)

    trigger = HidTrigger("pedal", PEDAL, ManualClock(), sink, backend,
                         on_error=errors.append, on_undelivered=undelivered.append,
                         retry_s=0.05)
    trigger.start()
    try:
        backend.reports.put(bytes([0, 0x04]))
        backend.reports.put(bytes([0, 0x00]))
        backend.reports.put(bytes([0, 0x04]))
        assert next_input(received).device == "pedal"
    finally:
        trigger.stop()
    assert len(backend.opened) == 1  # never reopened
    assert errors == []
    assert len(undelivered) == 1 and "could not be delivered" in undelivered[0]


def test_a_hid_device_that_cannot_be_opened_is_refused_at_start() -> None:
    class Absent(FakeBackend):
        def open(self, vendor_id: int, product_id: int,
                 serial_number: str | None) -> FakeHandle:
            raise OSError("open failed")

    trigger = HidTrigger("pedal", PEDAL, ManualClock(), lambda seen: None, Absent())
    with pytest.raises(TriggerError, match="1234:0001 could not be opened"):
        trigger.start()
    assert list_hid_devices(Absent())[0].product == "Foot pedal"


def test_learning_a_hid_press_finds_the_bit_that_is_set_and_let_go() -> None:
    backend = FakeBackend()
    # While untouched, bit 0 of byte 1 flickers (an axis): it is noise, not the button.
    backend.reports.put(bytes([0, 0x10, 0]))
    backend.reports.put(bytes([0, 0x11, 0]))
    with ThreadPoolExecutor(1) as pool:
        learning = pool.submit(learn_hid, backend, 0x1234, 0x0001, "A1", 3.0,
                               settle_s=0.1)
        time.sleep(0.2)
        backend.reports.put(bytes([0, 0x10, 0x02]))
        backend.reports.put(bytes([0, 0x11, 0x02]))  # held
        backend.reports.put(bytes([0, 0x11, 0x00]))  # let go
        assert learning.result(timeout=3) == (2, 0x02)
    assert backend.handles[0].closed


def test_learning_a_hid_press_from_a_device_silent_while_idle() -> None:
    backend = FakeBackend()
    with ThreadPoolExecutor(1) as pool:
        learning = pool.submit(learn_hid, backend, 0x1234, 0x0001, None, 3.0, settle_s=0.05)
        time.sleep(0.1)
        backend.reports.put(bytes([1, 0x40]))
        backend.reports.put(bytes([0, 0x00]))
        assert learning.result(timeout=3) == (0, 0x01)


def test_learning_a_hid_press_let_go_in_a_report_too_short_to_hold_its_byte() -> None:
    backend = FakeBackend()
    with ThreadPoolExecutor(1) as pool:
        learning = pool.submit(learn_hid, backend, 0x1234, 0x0001, None, 3.0, settle_s=0.05)
        time.sleep(0.1)
        backend.reports.put(bytes([0, 0, 0x02]))
        backend.reports.put(bytes([0]))  # a short report: the byte is clear, as a trigger reads
        assert learning.result(timeout=3) == (2, 0x02)


def test_learning_a_hid_press_times_out_or_is_cancelled() -> None:
    backend = FakeBackend()
    with pytest.raises(TriggerError, match="no press came"):
        learn_hid(backend, 0x1234, 0x0001, None, 0.2, settle_s=0.0)
    backend.reports.put(bytes([0, 0x04]))
    with pytest.raises(TriggerError, match="not let go"):
        learn_hid(backend, 0x1234, 0x0001, None, 0.2, settle_s=0.0)
    with pytest.raises(LearnCancelled):
        learn_hid(backend, 0x1234, 0x0001, None, 10.0, lambda: True)
    assert all(handle.closed for handle in backend.handles)


def test_the_hidapi_backend_reads_bytes_and_describes_devices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts: list[int] = []

    class Device:
        def open(self, vendor_id: int, product_id: int, serial_number: str | None) -> None:
            self.opened = (vendor_id, product_id, serial_number)

        def read(self, size: int, timeout_ms: int) -> list[int]:
            timeouts.append(timeout_ms)
            return [0, 4, 255][:size]

        def close(self) -> None:
            pass

    monkeypatch.setattr(hid, "device", Device)
    monkeypatch.setattr(hid, "enumerate", lambda: [{
        "path": b"1-2:1.0", "vendor_id": 0x1234, "product_id": 1, "serial_number": "",
        "release_number": 1, "manufacturer_string": "Range Co", "product_string": None,
        "usage_page": 1, "usage": 4, "interface_number": 0}])
    backend = HidapiBackend()
    handle = backend.open(0x1234, 1, None)
    assert handle.read(64, 0) == bytes([0, 4, 255])
    assert timeouts == [1]  # never 0: hidapi would then wait for ever
    assert backend.enumerate() == [HidDeviceInfo(0x1234, 1, None, "", "Range Co", b"1-2:1.0")]
