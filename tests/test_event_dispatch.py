"""Every reader of events goes through one exhaustive dispatch, and the type check enforces it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from simulator.protocol import Event
from simulator.protocol.dispatch import dispatch

ROOT = Path(__file__).resolve().parents[1]
EVENT_TYPES = typing.get_args(typing.get_args(Event)[0])
# Where the events are read: the live state, the text description, the timeline, the
# exports and the trial table. Each must stop type-checking when an event type is added
# without a handler.
READERS = {
    "instructor_console/live_state.py", "simulator/review/describe.py",
    "simulator/review/timeline.py", "simulator/review/xapi.py", "simulator/review/tables.py",
    "simulator/audit/trials.py",
}


class _Names:
    """Answers every handler method with its own name."""

    def __getattr__(self, name: str) -> typing.Callable[[Event], str]:
        return lambda event: name


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_each_event_goes_to_the_method_named_as_its_type(event_type):
    event = event_type.model_construct()
    assert dispatch(event, _Names()) == event.type


def _replace_once(path: Path, old: str, new: str) -> None:
    # Exactly once: if the code these edits rely on has changed, say so rather than test
    # something else.
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name} no longer has {old!r}; update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.slow
def test_an_event_type_added_without_handling_fails_the_type_check(tmp_path):
    """A copy of the code gains two event types: ``Unhandled`` only joins the union, and
    ``Handled`` also gets its case in `dispatch` and its method in `EventHandler`.

    The type check must then fail at the ``assert_never`` for the first, in every reader
    for the second, and nowhere else.
    """
    for package in ("simulator", "instructor_console", "media_index"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    events = tmp_path / "simulator/protocol/events.py"
    _replace_once(events, "\nEvent = Annotated[", '''
class Unhandled(EventBase):
    type: Literal["unhandled"] = "unhandled"


class Handled(EventBase):
    type: Literal["handled"] = "handled"


Event = Annotated[''')
    _replace_once(events, "| RunEnded,", "| RunEnded | Unhandled | Handled,")
    dispatcher = tmp_path / "simulator/protocol/dispatch.py"
    _replace_once(dispatcher, "from simulator.protocol.events import (\n",
                  "from simulator.protocol.events import (\n    Handled,\n")
    _replace_once(dispatcher, "\n\ndef dispatch(", '''
    def handled(self, event: Handled) -> R_co:
        """A new event."""


def dispatch(''')
    _replace_once(dispatcher, "        case _:\n",
                  "        case Handled():\n            return handler.handled(event)\n"
                  "        case _:\n")

    readers = sorted({str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py")
                      if re.search(r"^class \w+\(EventHandler\[", p.read_text(encoding="utf-8"),
                                   re.MULTILINE)})
    assert set(readers) >= READERS
    checked = ["simulator/protocol/dispatch.py", *readers]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mypy_cache"),
         "--no-error-summary", "--hide-error-context", *checked],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)

    # Only what is said of these files: the rest is the whole type check's business.
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        where, error, message = line.partition(": error: ")
        path = where.split(":", 1)[0]
        if error and path in checked:
            errors.setdefault(path, []).append(message)
    assert errors.pop("simulator/protocol/dispatch.py", None) == [
        'Argument 1 to "assert_never" has incompatible type "Unhandled"; expected "Never"  '
        "[arg-type]"], result.stdout
    for reader in readers:
        (message,) = errors.pop(reader, ["no error"])
        assert re.fullmatch(r'Cannot instantiate abstract class "\w+" with abstract attribute '
                            r'"handled"  \[abstract\]', message), (reader, result.stdout)
    assert not errors, result.stdout
