"""Edits of a scenario's YAML tree, each able to undo itself exactly.

Every change the studio makes is built from three steps: set a value at a path, insert an
item into a list, delete a key or an item. Each step remembers what it replaced, so undoing
puts back the very node that was there (its comments and its place among its siblings
too), and an edit undone and redone leaves the same tree. A studio action (add a branch,
rename a segment and every reference to it) is one `Change`: several steps under one name,
undone as one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

Key = str | int
TreePath = tuple[Key, ...]
# A 200-segment scenario has about 20,000 nodes: room for it and many edits' leftovers.
MAX_CACHED_NODES = 200_000


class EditError(ValueError):
    """An edit that does not fit the tree it is applied to (a path that is not there)."""


def node(value: Any) -> Any:
    """``value`` as the round-trip tree holds it: mappings and lists become commented nodes.

    New parts of a file are then written in block style like the rest, and later edits can
    address inside them.
    """
    if isinstance(value, CommentedMap | CommentedSeq):
        return value
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = node(item)
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(node(item) for item in value)
    if type(value) is float and value.is_integer():
        return int(value)  # `out: 3`, as a person writes it, not `out: 3.0`
    return value


def plain(value: Any) -> Any:
    """A copy of part of the tree as plain dicts, lists and scalars (for checks and views)."""
    return PlainCopies().of(value)


class PlainCopies:
    """Plain copies of a tree's nodes, kept between edits and made again only where changed.

    Reading a 200-segment tree back as data takes longer than checking it; after an edit
    only the nodes it touched (`Change.apply`'s ``touched``) are copied again. Copies are
    shared between one reading and the next, so they must be read, never changed.
    """

    def __init__(self) -> None:
        # By node identity; the node is held too, so its id cannot be reused while cached.
        self._copies: dict[int, tuple[Any, Any]] = {}

    def forget(self, nodes: list[Any]) -> None:
        """Copy these nodes again when next read."""
        for changed in nodes:
            self._copies.pop(id(changed), None)
        # Nodes an edit replaced stay cached until then: past the cap, start afresh.
        if len(self._copies) > MAX_CACHED_NODES:
            self._copies.clear()

    def of(self, value: Any) -> Any:
        """The plain copy of ``value``."""
        if isinstance(value, Mapping | list):
            cached = self._copies.get(id(value))
            if cached is not None and cached[0] is value:
                return cached[1]
            copy: Any = ({str(key): self.of(item) for key, item in value.items()}
                         if isinstance(value, Mapping) else [self.of(item) for item in value])
            self._copies[id(value)] = (value, copy)
            return copy
        if isinstance(value, bool) or value is None:
            return value
        # ruamel's scalars are subclasses that carry their formatting; checks want the value.
        for kind in (int, float, str):
            if isinstance(value, kind):
                return kind(value)
        return value


def styled_like(value: Any, siblings: Any) -> Any:
    """``value`` as a node, in flow style (``{a: 1}``) when its siblings are written so.

    A file that lists branches one per line as ``- {id: ..., to: ...}`` keeps doing so
    when the studio adds one.
    """
    made = node(value)
    if isinstance(made, CommentedMap | CommentedSeq) and any(
            type(other) is type(made) and other.fa.flow_style() for other in siblings):
        made.fa.set_flow_style()
    return made


def at(tree: Any, path: TreePath) -> Any:
    """The node at ``path``; EditError naming the first part that is not there."""
    current = tree
    for depth, key in enumerate(path):
        try:
            fits = (isinstance(key, str) if isinstance(current, Mapping)
                    else isinstance(current, list) and isinstance(key, int))
            if not fits:
                raise KeyError(key)
            current = current[key]
        except (KeyError, IndexError):
            raise EditError(f"nothing at {_named(path[:depth + 1])}") from None
    return current


def _named(path: TreePath) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out or "the top"


class Step(ABC):
    """One reversible change of the tree, at ``path``."""

    path: TreePath

    @abstractmethod
    def apply(self, tree: CommentedMap) -> None:
        """Make the change, remembering what it replaces."""

    @abstractmethod
    def revert(self, tree: CommentedMap) -> None:
        """Put back exactly what `apply` replaced."""

    @property
    def container(self) -> TreePath:
        """The path of the mapping or list whose content the step changes."""
        return self.path[:-1]


_ABSENT = object()


@dataclass
class Set(Step):
    """Set the key or list item at ``path`` to ``value`` (a new key goes last, or at ``index``).

    ``like_siblings``: write the value in flow style if the mapping's other values are (a
    variant's people, one per line); off where siblings mean different things.
    """

    path: TreePath
    value: Any
    index: int | None = None
    like_siblings: bool = False
    _old: Any = field(default=_ABSENT, init=False, repr=False)

    def apply(self, tree: CommentedMap) -> None:  # noqa: D102
        parent, key = at(tree, self.path[:-1]), self.path[-1]
        if isinstance(parent, CommentedMap) and isinstance(key, str):
            self._old = parent.get(key, _ABSENT)
            value = (styled_like(self.value, parent.values()) if self.like_siblings
                     else node(self.value))
            if self._old is _ABSENT and self.index is not None:
                parent.insert(min(self.index, len(parent)), key, value)
            else:
                parent[key] = value
        elif isinstance(parent, CommentedSeq) and isinstance(key, int) and key < len(parent):
            self._old = parent[key]
            parent[key] = node(self.value)
        else:
            raise EditError(f"cannot set {_named(self.path)}")

    def revert(self, tree: CommentedMap) -> None:  # noqa: D102
        parent, key = at(tree, self.path[:-1]), self.path[-1]
        if self._old is _ABSENT:
            del parent[key]
        else:
            parent[key] = self._old


@dataclass
class Delete(Step):
    """Delete the key or list item at ``path``; undoing puts it back where it was."""

    path: TreePath
    _old: Any = field(default=None, init=False, repr=False)
    _position: int = field(default=0, init=False, repr=False)
    _comment: Any = field(default=None, init=False, repr=False)

    def apply(self, tree: CommentedMap) -> None:  # noqa: D102
        parent, key = at(tree, self.path[:-1]), self.path[-1]
        self._old = at(tree, self.path)
        self._position = list(parent).index(key) if isinstance(parent, Mapping) else int(key)
        # A list item's comments and the blank lines around it are kept by the list, by
        # index, and dropped with the item: kept here, so that undoing brings them back.
        self._comment = parent.ca.items.get(key) if isinstance(parent, CommentedSeq) else None
        del parent[key]

    def revert(self, tree: CommentedMap) -> None:  # noqa: D102
        parent, key = at(tree, self.path[:-1]), self.path[-1]
        if isinstance(parent, CommentedMap):
            parent.insert(self._position, key, self._old)
        else:
            parent.insert(self._position, self._old)
            if self._comment is not None:
                parent.ca.items[self._position] = self._comment


@dataclass
class Rename(Step):
    """Give the key ``old`` of the mapping at ``path`` the name ``new``, in its place.

    The value is the very node, with its layout and comments; a person renamed keeps the
    one line their demographics were written on.
    """

    path: TreePath
    old: str
    new: str

    @property
    def container(self) -> TreePath:  # noqa: D102
        return self.path

    def apply(self, tree: CommentedMap) -> None:  # noqa: D102
        _rename(at(tree, self.path), self.old, self.new)

    def revert(self, tree: CommentedMap) -> None:  # noqa: D102
        _rename(at(tree, self.path), self.new, self.old)


def _rename(mapping: Any, old: str, new: str) -> None:
    if not isinstance(mapping, CommentedMap) or old not in mapping or new in mapping:
        raise EditError(f"cannot rename `{old}` to `{new}` here")
    position = list(mapping).index(old)
    value = mapping[old]
    comment = mapping.ca.items.pop(old, None)
    del mapping[old]
    mapping.insert(position, new, value)
    if comment is not None:
        mapping.ca.items[new] = comment


@dataclass
class Insert(Step):
    """Insert ``value`` into the list at ``path[:-1]`` before index ``path[-1]`` (-1: last)."""

    path: TreePath
    value: Any
    _position: int = field(default=0, init=False, repr=False)

    def apply(self, tree: CommentedMap) -> None:  # noqa: D102
        items = at(tree, self.path[:-1])
        if not isinstance(items, CommentedSeq) or not isinstance(self.path[-1], int):
            raise EditError(f"{_named(self.path[:-1])} is not a list")
        index = self.path[-1]
        self._position = len(items) if index < 0 or index > len(items) else index
        items.insert(self._position, styled_like(self.value, items))

    def revert(self, tree: CommentedMap) -> None:  # noqa: D102
        del at(tree, self.path[:-1])[self._position]


@dataclass
class Change:
    """One edit as the instructor sees it: its name (for Undo and Redo) and its steps."""

    label: str
    steps: Sequence[Step]

    def apply(self, tree: CommentedMap, touched: list[Any] | None = None) -> None:
        """Make every step in order; if one does not fit, undo those made and re-raise.

        ``touched`` collects every node whose content a step changes (the parent of what
        it sets, inserts or deletes, and that parent's ancestors), as they are when the
        step is made: a later step can move them (a segment deleted shifts the rest).
        """
        done: list[Step] = []
        try:
            for step in self.steps:
                _collect(tree, step, touched)
                step.apply(tree)
                done.append(step)
        except Exception:
            for step in reversed(done):
                step.revert(tree)
            raise

    def revert(self, tree: CommentedMap, touched: list[Any] | None = None) -> None:
        """Undo every step, last first (``touched`` as for `apply`)."""
        for step in reversed(self.steps):
            _collect(tree, step, touched)
            step.revert(tree)


def _collect(tree: CommentedMap, step: Step, touched: list[Any] | None) -> None:
    if touched is None:
        return
    current: Any = tree
    touched.append(current)
    for key in step.container:
        try:
            current = current[key]
        except (KeyError, IndexError, TypeError):
            return  # the step itself will say what is missing
        touched.append(current)
