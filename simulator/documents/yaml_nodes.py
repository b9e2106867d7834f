"""YAML to plain Python while remembering the line of every value.

PyYAML's composed node tree knows where each value came from; ``yaml.safe_load`` throws
that away. Walking the nodes ourselves keeps a map from field path to line, and lets us
bound how much an alias-laden document may expand to.
"""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]
Location = tuple[int, int]

# A hand-written scenario of a thousand segments is about 60k nodes; far beyond that a
# document is either generated wrongly or hostile (an alias "billion laughs" bomb).
MAX_NODES = 500_000

# libyaml's parser is about five times faster than the pure-Python one and keeps the same
# marks; PyYAML wheels ship it, but a source build may not.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TooLarge(ValueError):
    """The document expands to more values than any real document needs."""


class _Walker:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.locations: dict[Path_, Location] = {}
        self.duplicates: list[tuple[Path_, Location, Location]] = []
        self.count = 0

    def walk(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise TooLarge(f"document expands to more than {MAX_NODES:,} values")
        self.locations.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    key = str(key)
                here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in result:
                    # YAML says the last one wins; in a hand-written file it is a mistake.
                    self.duplicates.append(((*path, str(key)),
                                            self.locations[(*path, str(key))], here))
                self.locations[(*path, str(key))] = here
                result[key] = self.walk(value_node, (*path, str(key)))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


class DuplicateKeys(ValueError):
    """A mapping names the same key twice: ``duplicates`` says where, first and again."""

    def __init__(self, duplicates: list[tuple[Path_, Location, Location]]) -> None:
        super().__init__(f"{len(duplicates)} duplicate keys")
        self.duplicates = duplicates


def load_with_locations(text: str) -> tuple[Any, dict[Path_, Location]]:
    """Parse one YAML document; return its data and the 1-based line/column of each path.

    Raises:
        DuplicateKeys: a mapping repeats a key.
        TooLarge: the document expands to more values than any real one needs.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        walker = _Walker(loader)
        data = walker.walk(node, ())
    finally:
        loader.dispose()
    if walker.duplicates:
        raise DuplicateKeys(walker.duplicates)
    return data, walker.locations
