"""The scenario being edited: its document, undo and redo, and lint after every edit.

The studio's pages never change the tree themselves: they ask the editor to apply a
`Change` (built by `simulator.studio.changes`), so that every edit can be undone, every
page is told, and the problems list is always that of the scenario as it stands now.
Checking is the same as `branchpoint validate`: the format first, then lint against the
agency's vocabularies, then (when the studio knows the clips) against the footage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.agency import AgencyProfile
from simulator.documents import Problem
from simulator.documents.loading import problem_from
from simulator.names import name_problem
from simulator.scenario import Scenario, lint
from simulator.scenario.lint import MediaCheck
from simulator.scenario.loader import document_path
from simulator.studio.document import ScenarioDocument
from simulator.studio.edits import Change, PlainCopies

Listener = Callable[[], None]
# How lint sees the clips of the scenario as it stands now: given the scenario and where
# its file is (relative clip paths are read from there).
ClipsFor = Callable[[Scenario, str], MediaCheck]


@dataclass(frozen=True)
class Checked:
    """The scenario as it stands: its plain data, its model when valid, its problems."""

    data: dict[str, Any]
    scenario: Scenario | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the scenario from being saved or played."""
        return [p for p in self.problems if p.severity == "error"]


class ScenarioEditor:
    """One open scenario: apply, undo and redo changes, and see what is wrong after each."""

    def __init__(self, document: ScenarioDocument, profile: AgencyProfile, *,
                 clips: ClipsFor | None = None, unsaved: bool = False) -> None:
        self.document = document
        self.profile = profile
        self.clips = clips
        self._undo: list[Change] = []
        self._redo: list[Change] = []
        # ``unsaved``: the text is not the file's (a draft brought back after a crash).
        self._saved_depth: int | None = None if unsaved else 0
        self._listeners: list[Listener] = []
        self._copies = PlainCopies()
        self.checked = self._check()

    # -- editing ---------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        """Make ``change``, keep it for Undo, and check the scenario again.

        A change with nothing to do (a field set to what it was) is not kept: Undo never
        undoes nothing.

        Raises:
            EditError: the change does not fit the tree (nothing is changed).
        """
        if not change.steps:
            return
        touched: list[Any] = []
        change.apply(self.document.tree, touched)
        self._copies.forget(touched)
        if self._saved_depth is not None and self._saved_depth > len(self._undo):
            self._saved_depth = None  # the saved state was undone and is now out of reach
        self._undo.append(change)
        self._redo.clear()
        self._changed()

    def undo(self) -> str | None:
        """Undo the last change; its label, or None when there is nothing to undo."""
        if not self._undo:
            return None
        change = self._undo.pop()
        touched: list[Any] = []
        change.revert(self.document.tree, touched)
        self._copies.forget(touched)
        self._redo.append(change)
        self._changed()
        return change.label

    def redo(self) -> str | None:
        """Make the last undone change again; its label, or None when there is none."""
        if not self._redo:
            return None
        change = self._redo.pop()
        touched: list[Any] = []
        change.apply(self.document.tree, touched)
        self._copies.forget(touched)
        self._undo.append(change)
        self._changed()
        return change.label

    @property
    def undo_label(self) -> str | None:
        """What Undo would undo."""
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        """What Redo would make again."""
        return self._redo[-1].label if self._redo else None

    @property
    def modified(self) -> bool:
        """Whether the scenario differs from the file as last opened or saved."""
        return self._saved_depth != len(self._undo)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` after every change, undo and redo (the problems checked)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener`` (a page closing)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def recheck(self) -> None:
        """Check again without an edit: a take was brought in, a clip file changed."""
        self._changed()

    # -- saving ----------------------------------------------------------------------------

    def save(self, path: Path | None = None) -> Path:
        """Write the scenario (see `ScenarioDocument.save`); the path written.

        Raises:
            DocumentError: it does not validate (nothing is written).
            OSError: the file cannot be written (the old one is untouched).
        """
        written = self.document.save(path)
        self._saved_depth = len(self._undo)
        self._changed()
        return written

    # -- checking --------------------------------------------------------------------------

    def _changed(self) -> None:
        self.checked = self._check()
        for listener in list(self._listeners):
            listener()

    def _check(self) -> Checked:
        data = self._copies.of(self.document.tree)
        source = self.document.source
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            return Checked(data, None, tuple(_format_problem(error, data, source)
                                             for error in exc.errors()))
        media = self.clips(scenario, source) if self.clips is not None else None
        problems = list(lint(scenario, self.profile, source=source, media=media).problems)
        titled = [("title", scenario.title)] + [
            (f"segments[{i}].title", segment.title) for i, segment in enumerate(scenario.segments)]
        problems += [Problem(why, source, field=field, code="unsafe-name")
                     for field, title in titled if (why := name_problem(title)) is not None]
        return Checked(data, scenario, tuple(problems))


def _format_problem(error: Any, data: dict[str, Any], source: str) -> Problem:
    loc = tuple(error["loc"])
    path = document_path(data, loc)
    if error["type"] == "missing" and loc:
        path = (*path, loc[-1])
    problem = problem_from(error, Scenario, {}, source, path=path)
    # pydantic's prefix means nothing to an instructor reading the problems list.
    return replace(problem, message=problem.message.removeprefix("Value error, "))
