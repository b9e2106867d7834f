"""Load a versioned YAML document into a pydantic model, or say exactly why not."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml
from pydantic import BaseModel, ValidationError

from simulator.documents.errors import DocumentError, Problem
from simulator.documents.yaml_nodes import (
    DuplicateKeys,
    Location,
    Path_,
    TooLarge,
    load_with_locations,
)

M = TypeVar("M", bound=BaseModel)

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


def load_document(
    path: Path, model: type[M], *, kind: str, current: int, minimum: int
) -> tuple[M, str]:
    """Read ``path`` and validate it as ``model``; return the model and the file's text.

    Raises:
        DocumentError: with one problem per thing wrong, each naming file, line and field.
    """
    source = str(path)
    try:
        if path.exists() and not path.is_file():
            raise DocumentError(source, [Problem(
                f"not a regular file; give the path of a {kind} YAML file", source, code="io")])
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                source,
                [
                    Problem(
                        f"file is {size:,} bytes; a {kind} is at most "
                        f"{MAX_DOCUMENT_BYTES:,} bytes. Is this the right file?",
                        source,
                        code="too-large",
                    )
                ],
            )
        with path.open("rb") as handle:
            # The size can change between stat and read; never take more than the limit.
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise DocumentError(source, [Problem(
                f"a {kind} is at most {MAX_DOCUMENT_BYTES:,} bytes", source, code="too-large")])
    except OSError as exc:
        raise DocumentError(
            source, [Problem(f"cannot read the file: {exc.strerror or exc}", source, code="io")]
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            source,
            [
                Problem(
                    f"not UTF-8 text (byte {exc.start}); save the {kind} as UTF-8",
                    source,
                    code="encoding",
                )
            ],
        ) from exc
    return parse_document(text, model, source=source, kind=kind, current=current,
                          minimum=minimum), text


def parse_document(
    text: str, model: type[M], *, source: str, kind: str, current: int, minimum: int
) -> M:
    """Validate YAML ``text`` as ``model``; ``source`` names it in every problem."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            source, [Problem(f"a {kind} is at most {MAX_DOCUMENT_BYTES:,} bytes", source,
                             code="too-large")]
        )
    try:
        data, locations = load_with_locations(text)
    except yaml.MarkedYAMLError as exc:
        raise DocumentError(source, [yaml_problem(exc, source)]) from None
    except yaml.YAMLError as exc:
        raise DocumentError(source, [Problem(f"not valid YAML: {exc}", source,
                                             code="yaml")]) from None
    except DuplicateKeys as exc:
        raise DocumentError(source, duplicate_key_problems(exc.duplicates, source)) from None
    except (TooLarge, RecursionError) as exc:
        message = str(exc) if isinstance(exc, TooLarge) else "document nests too deeply"
        raise DocumentError(source, [Problem(message, source, code="too-large")]) from None
    if not isinstance(data, dict):
        raise DocumentError(
            source,
            [Problem(f"a {kind} must be a YAML mapping of fields (`id: ...`, `title: ...`), "
                     f"not {_kind_of(data)}", source, line=1, code="shape")],
        )
    check_version(data, locations, source=source, kind=kind, current=current, minimum=minimum)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [problem_from(error, model, locations, source) for error in exc.errors()]
        raise DocumentError(source, problems) from None


def yaml_problem(exc: yaml.MarkedYAMLError, source: str) -> Problem:
    """What is not valid YAML, placed at the line and column the parser stopped."""
    mark = exc.problem_mark or exc.context_mark
    message = f"not valid YAML: {exc.problem or exc.context}"
    if exc.problem and exc.context and exc.context_mark:
        message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
    return Problem(message, source, line=mark.line + 1 if mark else None,
                   column=mark.column + 1 if mark else None, code="yaml")


def duplicate_key_problems(duplicates: Iterable[tuple[Path_, Location, Location]],
                           source: str) -> list[Problem]:
    """A problem for each repeated key: its path, where it was before, and where again."""
    return [Problem(f"`{path[-1]}` is given twice here (first at line {first[0]}); keep one",
                    source, field=dotted(path), line=again[0], column=again[1],
                    code="duplicate-key")
            for path, first, again in duplicates]


def check_version(
    data: dict[Any, Any],
    locations: Mapping[Path_, Location],
    *,
    source: str,
    kind: str,
    current: int,
    minimum: int,
) -> None:
    """Raise DocumentError unless ``data`` has a ``schema_version`` this Branchpoint reads.

    ``locations`` places the field (``("schema_version",)``); it may hold only that path.
    """
    version = data.get("schema_version")
    line = locations.get(("schema_version",), (1, 1))[0]
    if version is None:
        raise DocumentError(source, [Problem(
            f"missing `schema_version`; add `schema_version: {current}` at the top of the {kind}",
            source, field="schema_version", line=1, code="version")])
    if not isinstance(version, int) or isinstance(version, bool):
        raise DocumentError(source, [Problem(
            f"`schema_version` must be a whole number such as {current}, not {version!r}",
            source, field="schema_version", line=line, code="version")])
    if version > current:
        raise DocumentError(source, [Problem(
            f"this {kind} uses schema {version}, newer than this Branchpoint reads (up to "
            f"{current}); update Branchpoint to open it", source, field="schema_version",
            line=line, code="version")])
    if version < minimum:
        raise DocumentError(source, [Problem(
            f"this {kind} uses schema {version}, older than this Branchpoint reads (from "
            f"{minimum}); convert it as docs/scenario-format.md describes under 'Schema history'",
            source, field="schema_version", line=line, code="version")])


def problem_from(
    error: Any, model: type[BaseModel], locations: dict[Path_, Location], source: str,
    *, path: Path_ | None = None,
) -> Problem:
    """A pydantic validation error as a problem, at the field's place in the document.

    ``locations`` needs the error's path and the paths leading to it; the nearest one
    found places the problem. ``path``: the error's field in the document, when the caller
    knows it already (from the data validated, with no text to locate it in).
    """
    loc: tuple[str | int, ...] = tuple(error["loc"])
    # Union members and tagged unions add their type name to the location; drop those parts
    # that are not in the document so that the field reads as the author wrote it.
    doc_loc = path if path is not None else _document_path(loc, locations)
    line, column = _nearest_location(doc_loc, locations)
    message = str(error["msg"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, doc_loc[:-1])
        message = f"unknown field `{doc_loc[-1]}`"
        if allowed:
            message += f"; fields allowed here: {', '.join(allowed)}"
        if " " in str(doc_loc[-1]):
            message += (". If this is the rest of a text cut at a comma inside {...}, "
                        "put the whole text in quotes")
    elif kind == "missing":
        message = f"required field `{doc_loc[-1]}` is missing"
    elif "input" in error and kind not in {"missing"} and not isinstance(
        error["input"], dict | list
    ):
        message += f" (got {error['input']!r})"
    return Problem(message, source, field=dotted(doc_loc), line=line, column=column,
                   code=str(kind))


def _document_path(loc: tuple[str | int, ...], locations: dict[Path_, Location]) -> Path_:
    path: list[str | int] = []
    for part in loc:
        candidate = (*path, part)
        if candidate in locations or isinstance(part, int) or not path or (
            tuple(path) in locations and not _looks_like_type_tag(part)
        ):
            path.append(part)
    return tuple(path)


def _looks_like_type_tag(part: str | int) -> bool:
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part.startswith(
        "function-"))


def _nearest_location(
    path: Path_, locations: dict[Path_, Location]
) -> tuple[int | None, int | None]:
    for end in range(len(path), -1, -1):
        found = locations.get(tuple(path[:end]))
        if found:
            return found
    return None, None


def dotted(path: Path_) -> str:
    """A path as a problem names its field: ``segments[3].decision.default``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], path: Path_) -> list[str]:
    """The field names the author may write at ``path``, for the hint on an unknown field."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                field = next((f for f in current.model_fields.values() if f.alias == part), None)
            if field is None:
                return []
            current = field.annotation
        else:
            # list[X], tuple[X, ...] and dict[str, X]: the item type is the last real argument.
            args = [a for a in typing.get_args(current) if a is not Ellipsis]
            current = args[-1] if args else None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else members[0]
        else:
            return annotation


def _kind_of(value: Any) -> str:
    if value is None:
        return "an empty file"
    if isinstance(value, list):
        return "a list"
    return f"a single value ({type(value).__name__})"
