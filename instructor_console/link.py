"""How the console reaches a run: commands out, events in, on Qt's event loop.

`LocalLink` joins a console to a run in the same process (the projector PC). A network
link for a console on another PC offers the same two things, so the console cannot tell
them apart.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, Signal, SignalInstance

from simulator.protocol import Command, Event


class RunSession(Protocol):
    """A run in this process as a console sees it: `happened` carries each stored event."""

    @property
    def happened(self) -> SignalInstance:
        """Emitted with each event once it is stored."""
        ...

    def send(self, command: Command) -> None:
        """Hand ``command`` to the run."""
        ...


class LocalLink(QObject):
    """A console and a run in one process: `received` carries each event once it is stored."""

    received = Signal(object)

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self._session = session
        session.happened.connect(self._relay)

    def send(self, command: Command) -> None:
        """Hand ``command`` to the run; what it did comes back as events."""
        self._session.send(command)

    def _relay(self, event: Event) -> None:
        self.received.emit(event)
