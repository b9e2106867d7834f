"""Reading scenario files and the scenario library."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.documents import DocumentError, Problem, load_document, parse_document
from simulator.paths import standins_dir
from simulator.scenario.model import (
    MEDIA_REF,
    SCENARIO_MIN_SCHEMA_VERSION,
    SCENARIO_SCHEMA_VERSION,
    Scenario,
    content_hash,
)

SCENARIO_FILE = "scenario.yaml"
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

        The path is looked up beside the scenario first (an agency's own footage), then
        among the generated stand-ins for this scenario. None if the variant gives no file
        for the clip, names an indexed clip (``media:<id or content hash>``, which only the
        media index can resolve), or names a file that is really elsewhere: a symbolic
        link out of the scenario's folder is refused like a path that leads out of it.
        """
        relative = self.scenario.variant(variant_id).clips.get(clip_id)
        if relative is None or relative.startswith(MEDIA_REF):
            return None
        for folder in (self.directory, standins_dir() / self.scenario.id):
            candidate = folder / relative
            if candidate.is_file():
                return candidate if _inside(candidate, folder) else None
        return self.directory / relative

def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, links followed, is in ``folder``."""
    return path.resolve().is_relative_to(folder.resolve())


def parse_scenario(text: str, source: str = "<scenario>") -> LoadedScenario:
    """Validate scenario YAML held in a string (tests, the database, the network)."""
    scenario = parse_document(text, Scenario, source=source, kind="scenario",
                              current=SCENARIO_SCHEMA_VERSION, minimum=SCENARIO_MIN_SCHEMA_VERSION)
    return LoadedScenario(scenario, text, content_hash(text), source)


def load_scenario(path: Path) -> LoadedScenario:
    """Read and validate a scenario file, or a folder holding ``scenario.yaml``."""
    if path.is_dir():
        path = path / SCENARIO_FILE
    scenario, text = load_document(path, Scenario, kind="scenario",
                                   current=SCENARIO_SCHEMA_VERSION,
                                   minimum=SCENARIO_MIN_SCHEMA_VERSION)
    return LoadedScenario(scenario, text, content_hash(text), str(path))


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
