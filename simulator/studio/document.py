"""A scenario file as the studio edits it: its YAML tree, with the author's layout kept.

Scenario files live in an agency's version control and are read in reviews, so saving one
must change only what was edited: comments, key order, quoting, flow or block style and
indentation all stay as the author wrote them, and a file opened and saved unchanged is the
same bytes. The tree is ruamel.yaml's round-trip model; whatever is saved is checked by the
same loader as `branchpoint validate`, so the studio never writes a file that does not load.
"""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from simulator.documents import DocumentError, Problem
from simulator.documents.loading import MAX_DOCUMENT_BYTES
from simulator.documents.writing import write_whole
from simulator.scenario import LoadedScenario, parse_scenario

# No line is folded on saving: a long description stays on the line its author put it.
NO_FOLDING = 1 << 20


class ScenarioDocument:
    """An open scenario file: ``tree`` to edit, `text` and `save` to write it back.

    ``ScenarioDocument(text, source)`` opens text from elsewhere (a template, a stored
    version); ``source`` names it in errors and is where `save` writes by default.
    """

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self._yaml = YAML()
        self._yaml.preserve_quotes = True
        self._yaml.width = NO_FOLDING
        try:
            # Read twice: once to guess the indentation, once keeping every quote.
            _, indent, sequence_indent = load_yaml_guess_indent(text)
            tree = self._yaml.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise DocumentError(source, [Problem(f"not YAML the studio can edit: "
                                         f"{getattr(exc, 'problem', exc)}", source,
                                         line=line)]) from None
        if not isinstance(tree, CommentedMap):
            raise DocumentError(source, [Problem("a scenario file is a mapping of fields (id, "
                                         "title, segments, ...)", source, line=1)])
        if (shared := _shared_node(tree)) is not None:
            raise DocumentError(source, [Problem(
                f"uses a YAML anchor and alias (`&name` ... `*name`) at {shared}: one part "
                "written once and used twice, so an edit of one would change both; write "
                "the repeated part out in full where it is used", source, field=shared)])
        self.tree: CommentedMap = tree
        # ruamel.yaml guesses how far a sequence's items are indented and where their dash
        # sits within that; a nested mapping is indented by the rest.
        sequence = indent or 2
        offset = sequence_indent or 0
        self._yaml.indent(mapping=max(sequence - offset, 1), sequence=sequence, offset=offset)

    @classmethod
    def open(cls, path: Path) -> ScenarioDocument:
        """The scenario file at ``path``, ready to edit.

        Raises:
            DocumentError: it is not UTF-8 YAML holding a mapping (file and line named).
        """
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_DOCUMENT_BYTES + 1)
            if len(raw) > MAX_DOCUMENT_BYTES:
                raise DocumentError(path, [Problem(
                    f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB, the most a "
                    "scenario file may be; split it into several scenarios", str(path))])
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(path, [Problem(f"cannot be read as UTF-8 text: {exc}",
                                         str(path))]) from None
        return cls(text, str(path))

    def text(self) -> str:
        """The file as it would be saved now."""
        out = io.StringIO()
        self._yaml.dump(self.tree, out)
        return out.getvalue()

    def loaded(self) -> LoadedScenario:
        """The scenario as it stands, validated as `branchpoint validate` would.

        Raises:
            DocumentError: a field is missing or wrong (file, line and field named).
        """
        return parse_scenario(self.text(), self.source)

    def save(self, path: Path | None = None) -> Path:
        """Write the scenario to ``path`` (default: where it came from); the path written.

        It is validated first, and written whole or not at all: a crash or a full disk
        leaves the last saved file as it was.

        Raises:
            DocumentError: it does not validate (nothing is written).
            OSError: the file cannot be written (the old one is untouched).
        """
        target = path or Path(self.source)
        text = self.text()
        parse_scenario(text, str(target))
        write_whole(target, text)
        self.source = str(target)
        return target

    def save_draft(self, path: Path) -> None:
        """Write the scenario as it stands to ``path``, valid or not (work kept, not saved).

        Raises:
            OSError: it cannot be written.
        """
        write_whole(path, self.text())



def _shared_node(tree: CommentedMap) -> str | None:
    """Where a mapping or list appears a second time in the tree (an alias), if anywhere."""
    seen: set[int] = set()
    stack: list[tuple[object, str]] = [(tree, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in seen:
                return where or "the top"
            seen.add(id(node))
            items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
            for key, value in items:
                part = f"[{key}]" if isinstance(key, int) else (f".{key}" if where else str(key))
                stack.append((value, where + part))
    return None
