"""Reading scenario files and the scenario library."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simulator.documents import DocumentError, Problem, load_document, parse_document
from simulator.documents.loading import (
    MAX_DOCUMENT_BYTES,
    check_version,
    duplicate_key_problems,
    problem_from,
    yaml_problem,
)
from simulator.documents.yaml_nodes import Path_, TooLarge
from simulator.names import name_problem
from simulator.paths import standins_dir
from simulator.scenario.fast_yaml import (
    DuplicateKey,
    Unusual,
    duplicate_keys,
    list_length,
    load_plain,
    locations_of,
    no_cycle_collection,
)
from simulator.scenario.lint import LintReport
from simulator.scenario.media_roots import media_roots, media_roots_path
from simulator.scenario.model import (
    MEDIA_REF,
    SCENARIO_MIN_SCHEMA_VERSION,
    SCENARIO_SCHEMA_VERSION,
    Scenario,
    absolute_reference,
    content_hash,
)

SCENARIO_FILE = "scenario.yaml"
# A filmed scenario has tens of segments; a generated one a few thousand. Past this a
# file is refused before it is validated, naming the count and the fix.
MAX_SEGMENTS = 10_000
# A variant's clip given as ``media:<clip id or content hash>`` names a clip of the media
# index instead of a file path.


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with the exact text it came from and that text's hash."""

    scenario: Scenario
    text: str
    content_hash: str
    source: str

    @property
    def directory(self) -> Path:
        """The folder of the scenario file."""
        return Path(self.source).parent

    def clip_path(self, variant_id: str, clip_id: str) -> Path | None:
        """The file a variant plays for ``clip_id``, where the scenario alone can say.

        A relative path is looked up beside the scenario first (an agency's own footage),
        then among the generated stand-ins for this scenario; an absolute path is taken
        as it is if it lies under one of this PC's media roots. None if the variant gives
        no file for the clip, names an indexed clip (``media:<id or content hash>``, which
        only the media index can resolve), or names a file that is really elsewhere: a
        symbolic link out of the scenario's folder or out of the media roots is refused
        like a path that leads out of them.
        """
        reference = self.scenario.variant(variant_id).clips.get(clip_id)
        if reference is None or reference.startswith(MEDIA_REF):
            return None
        if absolute_reference(reference):
            try:
                roots = media_roots()
            except DocumentError:
                # Loading a scenario file reports the broken list; nothing plays meanwhile.
                return None
            return Path(reference) if _under_a_root(Path(reference), roots) else None
        for folder in (self.directory, standins_dir() / self.scenario.id):
            candidate = folder / reference
            if candidate.is_file():
                return candidate if _inside(candidate, folder) else None
        return self.directory / reference


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, links followed, is in ``folder``."""
    resolved, base = _resolved(path), _resolved(folder)
    return resolved is not None and base is not None and resolved.is_relative_to(base)


def _resolved(path: Path) -> Path | None:
    """``path`` with links followed; None if the system cannot resolve it."""
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError):
        # A loop of links or a NUL byte: such a path is nowhere a clip may be.
        return None


def _under_a_root(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether ``path`` is absolute on this PC and, links followed, under one of ``roots``."""
    return path.is_absolute() and any(_inside(path, root) for root in roots)


def _refuse_clips_outside_media_roots(loaded: LoadedScenario) -> None:
    """Raise DocumentError, a problem for each absolute clip path no media root admits."""
    absolute = [(i, clip_id, reference)
                for i, variant in enumerate(loaded.scenario.variants)
                for clip_id, reference in sorted(variant.clips.items())
                if absolute_reference(reference)]
    if not absolute:
        return
    roots = media_roots()
    listed = media_roots_path()
    named = ", ".join(str(root) for root in roots)
    problems = []
    for i, clip_id, reference in absolute:
        path = Path(reference)
        if _under_a_root(path, roots):
            continue
        target = _resolved(path)
        if not roots:
            why = (f"`{reference}` is an absolute path outside the scenario's folder, and this "
                   f"PC has no media roots ({listed} lists none)")
        elif target is not None and os.path.normcase(target) != os.path.normcase(
                os.path.normpath(path)):
            why = (f"`{reference}` is a link to {target}, outside every media root in "
                   f"{listed} ({named})")
        else:
            why = (f"`{reference}` is an absolute path outside the scenario's folder, and it is "
                   f"under none of the media roots in {listed} ({named})")
        problems.append(Problem(
            f"{why}; move the clip under the scenario's folder and name it from there, or add "
            "a media root holding it", loaded.source, field=f"variants[{i}].clips.{clip_id}",
            code="clip-outside-media-roots"))
    if problems:
        raise DocumentError(loaded.source,
                            list(LintReport(tuple(problems)).located(loaded.text).problems))


def _refuse_unsafe_titles(loaded: LoadedScenario) -> None:
    """Raise DocumentError for each title holding a character no name may hold.

    Titles are shown at the terminal, on the console and in reports, like people's names.
    Checked where a scenario file comes in, not in the model: a version already stored in
    a record must still open for review.
    """
    titled = [("title", loaded.scenario.title)] + [
        (i, segment.title) for i, segment in enumerate(loaded.scenario.segments)]
    problems = [Problem(problem, loaded.source,
                        field=at if isinstance(at, str) else f"segments[{at}].title")
                for at, title in titled if (problem := name_problem(title)) is not None]
    if problems:
        raise DocumentError(loaded.source,
                            list(LintReport(tuple(problems)).located(loaded.text).problems))


def _read_by_documents(text: str, source: str) -> Scenario:
    """The documents reader's verdict: for what the fast reader leaves to it."""
    with no_cycle_collection():
        return parse_document(text, Scenario, source=source, kind="scenario",
                              current=SCENARIO_SCHEMA_VERSION,
                              minimum=SCENARIO_MIN_SCHEMA_VERSION)


def _validated(text: str, source: str, *, capped: bool) -> Scenario:
    """Scenario YAML as a model, or DocumentError naming every problem's line and field.

    The plain data is read without locations (`fast_yaml`); lines are looked up only for
    the problems found. What the fast reader does not take goes to the documents reader,
    which gives the same verdict the slow way. ``capped``: refuse more than
    `MAX_SEGMENTS` segments (a file coming in; not a version already in a record), before
    anything else is checked and before the documents reader reads anything.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        return _read_by_documents(text, source)
    try:
        data = load_plain(text)
    except (Unusual, yaml.YAMLError, ValueError, RecursionError) as exc:
        # The documents reader keeps every value's line: twice the memory of plain data,
        # and more the more segments. Their count comes first, from the parser's events.
        if capped:
            _refuse_too_many_segments(list_length(text, "segments"), text, source)
        if isinstance(exc, DuplicateKey):
            _refuse_duplicate_keys(text, source)
        elif isinstance(exc, yaml.MarkedYAMLError):
            raise DocumentError(source, [yaml_problem(exc, source)]) from None
        elif isinstance(exc, TooLarge):
            raise DocumentError(source, [Problem(str(exc), source, code="too-large")]) from None
        return _read_by_documents(text, source)
    if not isinstance(data, dict):
        return _read_by_documents(text, source)  # which says what a scenario is instead
    segments = data.get("segments")
    if capped and isinstance(segments, list):
        _refuse_too_many_segments(len(segments), text, source)
    version = data.get("schema_version")
    if (not isinstance(version, int) or isinstance(version, bool)
            or not SCENARIO_MIN_SCHEMA_VERSION <= version <= SCENARIO_SCHEMA_VERSION):
        # No version this Branchpoint reads: said as for any document.
        check_version(data, locations_of(text, [("schema_version",)]), source=source,
                       kind="scenario", current=SCENARIO_SCHEMA_VERSION,
                       minimum=SCENARIO_MIN_SCHEMA_VERSION)
        return _read_by_documents(text, source)
    try:
        # Tens of thousands of models, none of them garbage yet: no cycle collection.
        with no_cycle_collection():
            return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        locations = locations_of(text, [document_path(data, tuple(e["loc"])) for e in errors])
        raise DocumentError(source, [problem_from(error, Scenario, locations, source)
                                     for error in errors]) from None


def _refuse_duplicate_keys(text: str, source: str) -> None:
    """Raise DocumentError naming each repeated key, as the documents reader does.

    Returns if the text is unusual in some other way too: the documents reader says.
    """
    try:
        repeated = duplicate_keys(text)
    except yaml.MarkedYAMLError as exc:
        raise DocumentError(source, [yaml_problem(exc, source)]) from None
    except TooLarge as exc:
        raise DocumentError(source, [Problem(str(exc), source, code="too-large")]) from None
    except (Unusual, yaml.YAMLError, ValueError):
        return
    if not repeated:
        return
    raise DocumentError(source, duplicate_key_problems(repeated, source))


def document_path(data: Any, loc: tuple[str | int, ...]) -> Path_:
    """The part of a validation error's location that is in the document ``data``.

    Union members and validators add parts of their own (``function-after[...]``); they
    are skipped, and the path goes on below them.
    """
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
            path.append(str(part))
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            path.append(part)
    return tuple(path)


def _refuse_too_many_segments(count: int | None, text: str, source: str) -> None:
    """Raise DocumentError when ``count``, the file's segments, is over `MAX_SEGMENTS`."""
    if count is not None and count > MAX_SEGMENTS:
        line, column = locations_of(text, [("segments",)]).get(("segments",), (None, None))
        raise DocumentError(source, [Problem(
            f"{count:,} segments; a scenario holds at most {MAX_SEGMENTS:,}. Split it "
            "into several scenarios (one per part of the encounter), or check the tool that "
            "wrote it", source, field="segments", line=line, column=column,
            code="too-many-segments")])


def parse_scenario(text: str, source: str = "<scenario>") -> LoadedScenario:
    """Validate scenario YAML held in a string (tests, the database, the network).

    Not held to `MAX_SEGMENTS`: a version already stored in a record must still open.
    """
    scenario = _validated(text, source, capped=False)
    return LoadedScenario(scenario, text, content_hash(text), source)


def _read_text(path: Path) -> str | None:
    """The file's text, if it is a regular file of UTF-8 within the size cap.

    None otherwise: `load_document` then says exactly what is wrong with it.
    """
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def load_scenario(path: Path) -> LoadedScenario:
    """Read and validate a scenario file, or a folder holding ``scenario.yaml``.

    At most `MAX_DOCUMENT_BYTES` (4 MiB) and `MAX_SEGMENTS` segments: within both, a
    file validates in seconds (docs/scenario-format.md, "Limits").

    Beyond the format, a clip given by absolute path must lie under one of this PC's media
    roots (``media-roots.yaml`` in the data folder). Text from elsewhere (``parse_scenario``:
    a version stored in the record may have been played on another PC) is not held to
    this PC's roots, but ``clip_path`` never finds a clip outside them.
    """
    if path.is_dir():
        path = path / SCENARIO_FILE
    text = _read_text(path)
    if text is None:
        # Missing, a folder, over the cap or not UTF-8: the documents reader says which.
        with no_cycle_collection():
            scenario, text = load_document(path, Scenario, kind="scenario",
                                           current=SCENARIO_SCHEMA_VERSION,
                                           minimum=SCENARIO_MIN_SCHEMA_VERSION)
    else:
        scenario = _validated(text, str(path), capped=True)
    loaded = LoadedScenario(scenario, text, content_hash(text), str(path))
    _refuse_unsafe_titles(loaded)
    _refuse_clips_outside_media_roots(loaded)
    return loaded


class ScenarioLibrary:
    """The scenarios under one folder, each in ``<id>/scenario.yaml``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def paths(self) -> list[Path]:
        """Every scenario file in the library, in name order."""
        return sorted(self.root.glob(f"*/{SCENARIO_FILE}"))

    def load(self, scenario_id: str) -> LoadedScenario:
        """The scenario with this id; its folder must carry the same name."""
        path = self.root / scenario_id / SCENARIO_FILE
        if not path.is_file():
            known = ", ".join(p.parent.name for p in self.paths()) or "none"
            raise DocumentError(str(path), [Problem(
                f"no scenario `{scenario_id}` in the library at {self.root}; known: {known}",
                str(path), code="not-found")])
        loaded = load_scenario(path)
        if loaded.scenario.id != scenario_id:
            raise DocumentError(str(path), [Problem(
                f"the file says `id: {loaded.scenario.id}` but lives in folder `{scenario_id}`; "
                "rename one so they match", str(path), field="id", code="id-mismatch")])
        return loaded


def bundled_library() -> Path:
    """The scenarios shipped with Branchpoint (the source tree's or the installed copy)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "scenarios", here.parents[1] / "bundled_scenarios"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "scenarios"
