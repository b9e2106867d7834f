"""Scenario YAML read straight into plain data, and lines found only for what is reported.

The documents reader (``simulator.documents``) composes PyYAML's whole node tree to keep
the line of every value. For a scenario near the 4 MiB cap that is about a million Python
objects: seconds of work and over half a gigabyte, to place problems that mostly do not
exist. Here the parser's events are built straight into plain data (no nodes, and the
cycle collector off while a few hundred thousand acyclic objects are made), and a second
pass over the events finds the lines of just the fields a problem names.

A merge key (``<<``) is followed here as PyYAML's documents reader follows it: the merged
mappings' fields come first, and a field given both ways is a duplicate. Anything else
out of the ordinary is left to the documents reader, which reads it or says exactly what
is wrong: a duplicate key, an explicit tag, a key that is a list or mapping, an anchor
given twice or an alias to an unfinished node, a second document. A YAML syntax error and
too many values are reported here, the same way.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from simulator.documents.yaml_nodes import (
    MAX_NODES,
    Location,
    Path_,
    TooLarge,
    load_with_locations,
)

# The same parser as the documents reader: libyaml where PyYAML was built with it.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "null", "bool", "int", "float", "timestamp"))
_COLLECTION_TAGS = {MappingStartEvent: (None, "!", _TAG + "map"),
                    SequenceStartEvent: (None, "!", _TAG + "seq")}
# A scenario nests about eight deep; the documents reader stops near a thousand.
MAX_DEPTH = 100
_NO_KEY = object()
# The key ``<<`` is awaiting its value (a mapping, or a list of them, to merge).
_MERGE = object()
# A list whose items are mappings to merge into the mapping that holds it (`locate`).
_MERGED_LIST = object()


class Unusual(Exception):
    """The text needs the documents reader: it will read it, or say what is wrong."""


class DuplicateKey(Unusual):
    """A mapping repeats a key: `duplicate_keys` says where, without the documents reader."""


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Keep the cycle collector out while plain data is built.

    Every few hundred new containers it would walk all the ones already made, none of
    which can be garbage yet: with a large scenario that is most of the time spent. (It is
    off for the whole process meanwhile; nothing is lost, only collected later.)
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Scalars:
    """Scalar values; a plain one by its text, which a scenario repeats many times over."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.plain: dict[str, Any] = {}

    def value(self, event: ScalarEvent) -> Any:
        tag = event.tag
        if tag is not None and tag != "!":
            raise Unusual(f"explicit tag {tag}")
        text = event.value
        if not event.implicit[0]:
            return text  # quoted, or a block of text: always a string
        try:
            return self.plain[text]
        except KeyError:
            pass
        tag = self.loader.resolve(ScalarNode, text, (True, False))
        if tag == _STR:
            value: Any = text
        elif tag in _SCALAR_TAGS:
            try:
                value = self.loader.yaml_constructors[tag](self.loader, ScalarNode(tag, text))
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                raise Unusual(str(exc)) from None
        else:
            raise Unusual(f"{text!r} reads as {tag}")  # `<<` (merge) or `=` (value)
        self.plain[text] = value
        return value


def _is_merge(event: Any) -> bool:
    """Whether a scalar is the merge key ``<<`` (written plain, without a tag)."""
    return event.value == "<<" and event.tag is None and event.implicit[0]


def _merge_into(merges: list[dict[Any, Any]], value: Any) -> int:
    """Add what ``<<`` gives to ``merges``; the number of collections it counted.

    Those collections are counted as values where they were written, but the documents
    reader walks only their fields: the count is taken back. A list's mappings merge
    last first, as PyYAML's ``flatten_mapping`` does.
    """
    if isinstance(value, dict):
        merges.append(value)
        return 1
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        merges.extend(reversed(value))
        return 1 + len(value)
    raise Unusual("a merge of something other than mappings")


def _merged(merges: list[dict[Any, Any]], explicit: dict[Any, Any]) -> dict[Any, Any]:
    """The merged mappings' fields, then the mapping's own; a field given twice is refused."""
    result: dict[Any, Any] = {}
    for part in (*merges, explicit):
        for key, value in part.items():
            if key in result:
                raise DuplicateKey("a key given again by a merge")
            result[key] = value
    return result


def _key(value: Any) -> Any:
    """A mapping key as the documents reader keeps it."""
    if isinstance(value, dict | list):
        raise Unusual("a key that is a mapping or a list")
    if value is not None and not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def load_plain(text: str) -> Any:
    """The data of a YAML document, as ``simulator.documents`` would read it.

    Raises:
        Unusual: the documents reader must read it (see the module's docstring).
        yaml.MarkedYAMLError: not valid YAML, as the documents reader would find it.
        TooLarge: the document expands to more values than any real document needs.
    """
    loader = _Loader(text)
    try:
        with no_cycle_collection():
            return _build(loader)
    finally:
        loader.dispose()


def _build(loader: Any) -> Any:
    get = loader.get_event
    scalars = _Scalars(loader)
    plain = scalars.plain
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    # The innermost open collection, the key awaiting its value (a mapping's), its anchor
    # and the count of values before it; the enclosing ones wait in ``outer``.
    container: Any = None
    is_list = False
    key: Any = _NO_KEY
    anchor: str | None = None
    before = 0
    merges: list[dict[Any, Any]] | None = None
    outer: list[tuple[Any, bool, Any, str | None, int, list[dict[Any, Any]] | None]] = []
    count = 0
    root: Any = None
    get()  # the stream's start
    if type(get()) is StreamEndEvent:
        raise Unusual("an empty document")
    while True:
        event = get()
        kind = type(event)
        size = 1
        if kind is ScalarEvent:
            # Most scalars are plain text seen before: looked up here, without a call.
            value = plain.get(event.value, _NO_KEY) if event.implicit[0] else _NO_KEY
            if value is _NO_KEY or event.tag is not None:
                if (key is _NO_KEY and container is not None and not is_list
                        and event.anchor is None and _is_merge(event)):
                    key = _MERGE
                    continue
                value = scalars.value(event)
            if event.anchor is not None:
                if event.anchor in anchors or event.anchor in open_anchors:
                    raise Unusual("an anchor given twice")
                anchors[event.anchor] = (value, 1)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.tag not in _COLLECTION_TAGS[kind]:
                raise Unusual(f"explicit tag {event.tag}")
            if container is not None and not is_list and key is _NO_KEY:
                raise Unusual("a key that is a mapping or a list")
            if len(outer) >= MAX_DEPTH:
                raise Unusual("nested too deeply")
            if event.anchor is not None:
                if event.anchor in anchors or event.anchor in open_anchors:
                    raise Unusual("an anchor given twice")
                open_anchors.add(event.anchor)
            outer.append((container, is_list, key, anchor, before, merges))
            is_list = kind is SequenceStartEvent
            container, key, anchor, before = [] if is_list else {}, _NO_KEY, event.anchor, count
            merges = None
            count += 1
            if count > MAX_NODES:
                raise TooLarge(f"document expands to more than {MAX_NODES:,} values")
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = container if merges is None else _merged(merges, container)
            if anchor is not None:
                open_anchors.discard(anchor)
                anchors[anchor] = (value, count - before)
            container, is_list, key, anchor, before, merges = outer.pop()
            size = 0  # counted when it opened
        elif kind is AliasEvent:
            if event.anchor not in anchors:
                raise Unusual("an alias to an unknown or unfinished anchor")
            value, size = anchors[event.anchor]
        elif kind is DocumentEndEvent:
            break
        else:
            raise Unusual(f"unexpected {kind.__name__}")
        if container is None:
            root = value
        elif is_list:
            container.append(value)
        elif key is _NO_KEY:
            # Keys are not values: the documents reader counts only what they hold.
            key = value if type(value) is str else _key(value)
            if key in container:
                raise DuplicateKey("a duplicate key")
            continue
        elif key is _MERGE:
            if merges is None:
                merges = []
            count -= _merge_into(merges, value)
            key = _NO_KEY
        else:
            container[key] = value
            key = _NO_KEY
        count += size
        if count > MAX_NODES:
            raise TooLarge(f"document expands to more than {MAX_NODES:,} values")
    if type(get()) is not StreamEndEvent:
        raise Unusual("more than one document")
    return root


def locate(text: str, paths: Collection[Path_]) -> dict[Path_, Location]:
    """The 1-based line and column of each of ``paths``, and of every path leading to one.

    A field in a mapping is where its key is written; an item of a list is where the item
    starts (as ``simulator.documents`` places them). Paths not in the document are left
    out.

    Raises:
        Unusual: an alias or a key that is not a plain value lies on the way; the
            documents reader must place them.
        yaml.YAMLError: not valid YAML.
    """
    wanted = {path[:end] for path in paths for end in range(len(path) + 1)}
    if not wanted:
        return {}
    found: dict[Path_, Location] = {}
    _locate_into(found, text, wanted)
    return found


def _locate_into(found: dict[Path_, Location], text: str, wanted: set[Path_]) -> None:
    """`locate`, adding to ``found`` as it goes: what it holds stays if the text fails."""
    loader = _Loader(text)
    try:
        with no_cycle_collection():
            _locate(loader, wanted, found)
    finally:
        loader.dispose()


def _locate(loader: Any, wanted: set[Path_], found: dict[Path_, Location]) -> None:
    get = loader.get_event
    scalars = _Scalars(loader)
    # Each open collection on the way to a wanted path: [its path, next index, or the key
    # whose value comes next (None while a key is awaited) for a mapping].
    stack: list[list[Any]] = []
    skipping = 0  # depth inside a collection no wanted path goes through
    get()
    if type(get()) is StreamEndEvent:
        return
    while True:
        event = get()
        kind = type(event)
        if skipping:
            if kind is MappingStartEvent or kind is SequenceStartEvent:
                skipping += 1
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                skipping -= 1
            continue
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            continue
        if kind is DocumentEndEvent or kind is StreamEndEvent:
            return
        mark = event.start_mark
        if not stack:
            path: Path_ = ()
        else:
            top = stack[-1]
            if top[1] is _MERGE or top[1] is _MERGED_LIST:
                # A merged mapping's fields are its holder's, where they are written.
                if kind is MappingStartEvent:
                    stack.append([top[0], None])
                elif top[1] is _MERGE and kind is SequenceStartEvent:
                    stack.append([top[0], _MERGED_LIST])
                else:
                    raise Unusual("a merge of an alias")
                if top[1] is _MERGE:
                    top[1] = None
                continue
            if top[1] is None:  # a mapping awaiting a key: this is it
                if kind is not ScalarEvent:
                    raise Unusual("a key that is not a plain value")
                if event.anchor is None and _is_merge(event):
                    top[1] = _MERGE
                    continue
                key = str(_key(scalars.value(event)))
                top[1] = key
                here = (*top[0], key)
                if here in wanted:
                    found[here] = (mark.line + 1, mark.column + 1)
                continue
            if isinstance(top[1], int):
                path = (*top[0], top[1])
                top[1] += 1
            else:
                path = (*top[0], top[1])
                top[1] = None
        if path in wanted:
            if kind is AliasEvent:
                raise Unusual("an alias on the way to a reported field")
            found.setdefault(path, (mark.line + 1, mark.column + 1))
            if kind is MappingStartEvent:
                stack.append([path, None])
            elif kind is SequenceStartEvent:
                stack.append([path, 0])
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            skipping = 1


def duplicate_keys(text: str) -> list[tuple[Path_, Location, Location]]:
    """Every key a mapping repeats: its path, where it was before, and where again.

    As ``simulator.documents`` finds them (its DuplicateKeys), with "before" the latest
    earlier place of the key. Raises what `load_plain` raises, and Unusual for an alias
    or a merge key, which only the documents reader follows.
    """
    loader = _Loader(text)
    try:
        with no_cycle_collection():
            return _duplicates(loader)
    finally:
        loader.dispose()


def _duplicates(loader: Any) -> list[tuple[Path_, Location, Location]]:
    get = loader.get_event
    scalars = _Scalars(loader)
    found: list[tuple[Path_, Location, Location]] = []
    # Each open collection: [its path, the next index (a list) or the key whose value
    # comes next (a mapping; None while a key is awaited), the keys so far, where each
    # key's text was last seen].
    stack: list[list[Any]] = []
    count = 0
    get()
    if type(get()) is StreamEndEvent:
        return found
    while True:
        event = get()
        kind = type(event)
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            continue
        if kind is DocumentEndEvent:
            return found
        if kind is AliasEvent:
            raise Unusual("an alias")
        path: Path_ = ()
        if stack:
            top = stack[-1]
            if top[1] is None:  # a mapping awaiting a key: this is it
                if kind is not ScalarEvent:
                    raise Unusual("a key that is not a plain value")
                key = _key(scalars.value(event))
                mark = event.start_mark
                here = (mark.line + 1, mark.column + 1)
                if key in top[2]:
                    # Where the key's text was last; for a key equal to another written
                    # otherwise (1 and true), where that one was.
                    first = top[3].get(str(key)) or top[2][key]
                    found.append(((*top[0], str(key)), first, here))
                top[2][key] = here
                top[3][str(key)] = here
                top[1] = str(key)
                continue
            path = (*top[0], top[1])
            top[1] = top[1] + 1 if isinstance(top[1], int) else None
        count += 1
        if count > MAX_NODES:
            raise TooLarge(f"document expands to more than {MAX_NODES:,} values")
        if kind is MappingStartEvent:
            stack.append([path, None, {}, {}])
        elif kind is SequenceStartEvent:
            stack.append([path, 0, None, None])
        elif kind is ScalarEvent:
            scalars.value(event)  # a tag or a value only the documents reader reads


def locations_of(text: str, paths: Collection[Path_]) -> dict[Path_, Location]:
    """`locate`, or where it cannot place them, the documents reader's map of every path.

    When the text is not valid YAML, the places found before the error.
    """
    wanted = {path[:end] for path in paths for end in range(len(path) + 1)}
    found: dict[Path_, Location] = {}
    if not wanted:
        return found
    try:
        _locate_into(found, text, wanted)
        return found
    except Unusual:
        pass
    except yaml.YAMLError:
        return found
    try:
        with no_cycle_collection():
            return load_with_locations(text)[1]
    except (yaml.YAMLError, ValueError, RecursionError):
        return {}


class _Open:
    """A collection `list_length` has open: what it knows of it so far."""

    __slots__ = ("anchor", "expects_key", "is_list", "items", "key", "length", "merged")

    def __init__(self, is_list: bool, anchor: str | None) -> None:
        self.is_list = is_list
        self.anchor = anchor
        self.items = 0  # a list's
        self.key: str | None = None  # a mapping's key awaiting its value, if it is text
        self.expects_key = not is_list
        self.length: int | None = None  # the field's list, given here
        self.merged: int | None = None  # the field's list, from mappings merged in

    def result(self) -> int | None:
        """A mapping's field's length; a list's, the longest its mappings give."""
        return self.length if self.length is not None else self.merged


def list_length(text: str, field: str) -> int | None:
    """How many items the top-level mapping's ``field`` list has, building nothing.

    Read from the parser's events, for a size cap that must hold before the documents
    reader composes every node: the list may be written there, be an alias, or come from
    a merge key (``<<``), and the longest counts where it is given more than once. None
    if there is no such list, or the text fails before it is known.
    """
    loader = _Loader(text)
    root: list[_Open] = []
    try:
        _count_items(loader, field, root)
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return root[0].result() if root else None


def _count_items(loader: Any, field: str, root: list[_Open]) -> None:
    get = loader.get_event
    lists: dict[str, int] = {}  # an anchored list's items
    fields: dict[str, int | None] = {}  # what an anchored collection gives to a merge
    stack: list[_Open] = []
    get()
    if type(get()) is StreamEndEvent:
        return
    while True:
        event = get()
        kind = type(event)
        if kind is DocumentEndEvent:
            return
        if kind is MappingStartEvent or kind is SequenceStartEvent:
            opened = _Open(kind is SequenceStartEvent, event.anchor)
            if not stack:
                root.append(opened)
            stack.append(opened)
            continue
        length: int | None = None
        gives: int | None = None
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            done = stack.pop()
            length, gives = (done.items if done.is_list else None), done.result()
            if done.anchor is not None:
                lists[done.anchor] = done.items
                fields[done.anchor] = gives
            if not stack:
                return
        elif kind is AliasEvent:
            length, gives = lists.get(event.anchor), fields.get(event.anchor)
        if not stack:
            return  # a document that is a single value
        holder = stack[-1]
        if holder.is_list:
            holder.items += 1
            holder.merged = _longest(holder.merged, gives)
        elif holder.expects_key:
            holder.key = (("<<" if _is_merge(event) else event.value)
                          if kind is ScalarEvent else None)
            holder.expects_key = False
        else:
            if holder.key == field:
                holder.length = _longest(holder.length, length)
            elif holder.key == "<<":
                holder.merged = _longest(holder.merged, gives)
            holder.expects_key = True


def _longest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
