"""The scenario studio's use cases: make, open and save scenarios, bring in takes, preview.

An instructor builds scenarios from their agency's own footage here, without writing YAML.
Scenario files hold no personal data, so nothing here writes the access log; the studio is
for those who may run a class, like the library it writes into. A preview plays the
scenario as it stands, from any segment, and is never recorded: no record entry, nothing
counted as anyone's training.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from media_index import MediaIndex
from media_index.scan import Progress
from simulator.access import Permission
from simulator.agency import AgencyProfile
from simulator.documents import DocumentError, Problem
from simulator.media import (
    IndexedClips,
    TagsWritten,
    resolve_clip,
    vocabulary_for,
    write_variant_tags,
)
from simulator.paths import data_dir
from simulator.ports import Clock, JournalEntry, Player
from simulator.protocol.run_state import RunState
from simulator.runtime import ScenarioRun
from simulator.scenario import (
    LoadedScenario,
    Scenario,
    ScenarioLibrary,
    bundled_library,
    parse_scenario,
)
from simulator.scenario.lint import MediaCheck
from simulator.scenario.loader import SCENARIO_FILE
from simulator.scenario.model import MEDIA_REF, Variant, content_hash
from simulator.studio.document import ScenarioDocument
from simulator.studio.editor import ScenarioEditor
from simulator.studio.takes import (
    CutProgress,
    ProposedCut,
    Take,
    bring_in_takes,
    propose_cuts,
    take_of,
)
from simulator.studio.templates import new_scenario
from simulator.training.gate import Gate

# As the format's identifiers: a scenario's folder in the library carries its id.
SCENARIO_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


DRAFT_SUFFIX = ".draft"


def draft_path(scenario_file: Path) -> Path:
    """Where a draft of ``scenario_file`` is kept: beside it, never read as a scenario."""
    return scenario_file.with_name(scenario_file.name + DRAFT_SUFFIX)


def studio_library(library: Path) -> Path:
    """Where the studio saves scenarios for ``library``: itself, unless it is the bundled one.

    The bundled scenarios are part of the installation (in a source checkout, of the
    project's own files): an agency's scenarios and its edits of bundled ones go into its
    own library in the data folder, which ``--library`` then names to run them.
    """
    if _inside(library, bundled_library()):
        return data_dir() / "scenarios"
    return library


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@dataclass(frozen=True)
class LibraryEntry:
    """A scenario of the library, as the studio's Open list shows it."""

    id: str
    title: str
    path: Path


@dataclass
class PreviewJournal:
    """Where a preview's events go: kept in memory for the preview to show, never stored."""

    entries: list[JournalEntry] = field(default_factory=list)

    def commit(self, entries: Sequence[JournalEntry], state: RunState) -> None:
        """Keep ``entries``; ``state`` is the runtime's own and needs no copy."""
        self.entries.extend(entries)


@dataclass(frozen=True)
class Preview:
    """A scenario playing from one segment, unrecorded: the run and what it did."""

    run: ScenarioRun
    journal: PreviewJournal
    segment_id: str
    variant_id: str


class Authoring:
    """The studio's use cases for the person at ``gate``, over the agency's library."""

    def __init__(self, gate: Gate, library: Path, profile: AgencyProfile) -> None:
        gate.check(Permission.run)
        self._gate = gate
        self.library = studio_library(library)
        self.profile = profile
        # Opened now, on this thread: takes are brought in on a worker thread later.
        self.index: MediaIndex = gate.record.media_index()

    # -- scenarios -------------------------------------------------------------------------

    def scenarios(self) -> list[LibraryEntry]:
        """The library's scenarios, then the bundled ones it has no copy of, by title.

        One that does not load is listed by its folder, to be opened and fixed.
        """
        self._gate.check(Permission.run)
        own = self._listed(self.library, "")
        taken = {entry.path.parent.name for entry in own}
        # A scenario never saved yet, kept as a draft: offered too, or the work is lost.
        own += [LibraryEntry(draft.parent.name, f"{draft.parent.name} (unsaved draft)", draft)
                for draft in sorted(self.library.glob(f"*/{SCENARIO_FILE}{DRAFT_SUFFIX}"))
                if draft.parent.name not in taken]
        bundled = [entry for entry in self._listed(bundled_library(), " (bundled: edits go "
                                                                      "into your copy)")
                   if entry.path.parent.name not in taken]
        return own + bundled

    @staticmethod
    def _listed(library: Path, note: str) -> list[LibraryEntry]:
        out = []
        for path in ScenarioLibrary(library).paths():
            try:
                loaded = ScenarioLibrary(library).load(path.parent.name)
                out.append(LibraryEntry(loaded.scenario.id, loaded.scenario.title + note, path))
            except (DocumentError, OSError):
                out.append(LibraryEntry(path.parent.name,
                                        f"{path.parent.name} (has problems){note}", path))
        return sorted(out, key=lambda entry: entry.title.lower())

    def open(self, path: Path) -> ScenarioEditor:
        """The scenario file at ``path`` (or a folder holding one), ready to edit.

        Raises:
            DocumentError: it is not a scenario file the studio can edit (file and line named).
        """
        self._gate.check(Permission.run)
        if path.name.endswith(DRAFT_SUFFIX):
            return self.open_draft(path)
        file = path / SCENARIO_FILE if path.is_dir() else path
        document = ScenarioDocument.open(file)
        if _inside(file, bundled_library()) and not _inside(file, self.library):
            # The bundled scenarios belong to the installation: an edit is the agency's copy.
            copy = self.library / file.parent.name / SCENARIO_FILE
            if copy.exists():
                raise DocumentError(str(file), [Problem(
                    f"your library already has its own copy of `{file.parent.name}` at "
                    f"{copy}; open that one", str(file), code="copy-exists")])
            document.source = str(copy)
        return self._editor(document)

    def new(self, template_id: str, *, scenario_id: str, title: str) -> ScenarioEditor:
        """A new scenario from a template, to be saved as ``<library>/<id>/scenario.yaml``.

        Raises:
            DocumentError: the id is not one a scenario can have, or the library has it.
        """
        self._gate.check(Permission.run)
        folder = self.library / scenario_id
        where = str(folder / SCENARIO_FILE)
        if not SCENARIO_ID.fullmatch(scenario_id):
            raise DocumentError(where, [Problem(
                f"`{scenario_id}` cannot be a scenario's id: use 1 to 64 lower-case letters, "
                "digits, `-` and `_`, starting with a letter or digit", where, field="id")])
        if folder.exists():
            raise DocumentError(where, [Problem(
                f"the library already has a scenario `{scenario_id}`; open it, or choose "
                "another id", where, field="id")])
        document = new_scenario(template_id, scenario_id=scenario_id, title=title)
        document.source = where
        return self._editor(document)

    def unused_id(self, base: str = "new-scenario") -> str:
        """``base-1``, ``base-2``...: the first id neither the library nor its folders have."""
        taken = {entry.id for entry in self.scenarios()}
        return next(f"{base}-{n}" for n in range(1, 100_000)
                    if f"{base}-{n}" not in taken and not (self.library / f"{base}-{n}").exists())

    def save(self, editor: ScenarioEditor) -> TagsWritten:
        """Save the scenario, then write its clips' media tags from its variants.

        The tags go beside each clip file and into the index, so the media index's coverage
        report and lint's tag check read what the scenario says of who is shown.

        Raises:
            DocumentError: it does not validate (nothing is written).
            OSError: the file cannot be written (the old one is untouched).
        """
        self._gate.check(Permission.run)
        target = Path(editor.document.source)
        scenario_id = editor.document.tree.get("id")
        in_library = target.parent.parent.resolve() == self.library.resolve()
        if in_library and scenario_id != target.parent.name:
            raise DocumentError(str(target), [Problem(
                f"the scenario's id is `{scenario_id}` but its folder in the library is "
                f"`{target.parent.name}`; the library finds scenarios by folder, so give it "
                f"back the id `{target.parent.name}`", str(target), field="id",
                code="id-mismatch")])
        target.parent.mkdir(parents=True, exist_ok=True)
        editor.save(target)
        self.discard_draft(editor)
        scenario = editor.checked.scenario
        assert scenario is not None  # it validated: it was just saved
        loaded = LoadedScenario(scenario, editor.document.text(), "", str(target))
        tags = write_variant_tags(loaded, self.index)
        if tags.tagged:
            # The files tagged, not their folders: a footage folder can hold thousands more.
            self.index.scan(tags.tagged, vocabulary_for(self.profile))
        editor.recheck()
        return tags

    def _editor(self, document: ScenarioDocument, *, unsaved: bool = False) -> ScenarioEditor:
        return ScenarioEditor(document, self.profile, clips=self._clips, unsaved=unsaved)

    # -- drafts: work kept that cannot be saved yet ----------------------------------------------

    def save_draft(self, editor: ScenarioEditor) -> Path:
        """Keep the scenario as it stands beside its file, valid or not; the draft's path.

        A scenario half made (segments cut, no endings yet) cannot be saved, but the work
        must not be lost when the studio closes, the console locks or the PC crashes. The
        library never lists a draft as a scenario; `scenarios` offers it to open.

        Raises:
            OSError: it cannot be written.
        """
        self._gate.check(Permission.run)
        draft = draft_path(Path(editor.document.source))
        draft.parent.mkdir(parents=True, exist_ok=True)
        editor.document.save_draft(draft)
        return draft

    def discard_draft(self, editor: ScenarioEditor) -> None:
        """Forget the draft kept for this scenario (saved since, or thrown away)."""
        draft_path(Path(editor.document.source)).unlink(missing_ok=True)

    def draft_of(self, editor: ScenarioEditor) -> Path | None:
        """A draft of this scenario newer than its saved file, if one was kept."""
        source = Path(editor.document.source)
        draft = draft_path(source)
        if not draft.is_file():
            return None
        if source.is_file() and source.stat().st_mtime_ns > draft.stat().st_mtime_ns:
            return None
        return draft

    def open_draft(self, draft: Path) -> ScenarioEditor:
        """The draft at ``draft`` to go on with; saving writes the scenario's own file.

        Raises:
            DocumentError: the draft is not a scenario file the studio can edit.
        """
        self._gate.check(Permission.run)
        document = ScenarioDocument.open(draft)
        document.source = str(draft)[:-len(DRAFT_SUFFIX)]
        return self._editor(document, unsaved=True)

    def _clips(self, scenario: Scenario, source: str) -> MediaCheck:
        return IndexedClips(LoadedScenario(scenario, "", "", source), self.index)

    # -- takes -------------------------------------------------------------------------------

    def bring_in(self, sources: Sequence[Path],
                 progress: Progress | None = None) -> list[Take]:
        """Index these files and folders of footage as takes (see `bring_in_takes`)."""
        self._gate.check(Permission.run)
        return bring_in_takes(self.index, sources, vocabulary_for(self.profile), progress)

    def takes(self, clip_ids: Sequence[str]) -> list[Take]:
        """The takes the index holds under these clip ids, as `bring_in` gave them."""
        return [take_of(clip) for clip in self.index.clips(ids=list(clip_ids))]

    def propose_cuts(self, path: Path, *, progress: CutProgress | None = None,
                     cancelled: Callable[[], bool] | None = None) -> list[ProposedCut]:
        """Where shot detection sees cuts in a long take (see `propose_cuts`)."""
        self._gate.check(Permission.run)
        return propose_cuts(path, progress=progress, cancelled=cancelled)

    def reference(self, clip_id: str) -> str:
        """How a scenario names a take the index holds: by its index id, wherever it moves."""
        return f"{MEDIA_REF}{clip_id}"

    def clip_file(self, editor: ScenarioEditor, variant_id: str, clip_id: str) -> Path | None:
        """The file a variant plays for a clip, as the scenario stands (for the timeline)."""
        scenario = editor.checked.scenario or _with_variant(editor.checked.data, variant_id)
        if scenario is None:
            return None
        try:
            return resolve_clip(LoadedScenario(scenario, "", "", editor.document.source),
                                self.index, variant_id, clip_id)
        except KeyError:
            return None

    # -- preview -----------------------------------------------------------------------------

    def preview(self, editor: ScenarioEditor, segment_id: str, variant_id: str, *,
                clock: Clock, player: Player) -> Preview:
        """The scenario as it stands, ready to `start` at ``segment_id``, unrecorded.

        Raises:
            DocumentError: the scenario does not validate, or lint finds an error that
                would stop a run (every problem named).
            KeyError: no such segment or variant.
        """
        self._gate.check(Permission.run)
        text = editor.document.text()
        loaded = parse_scenario(text, editor.document.source)
        loaded.scenario.segment(segment_id)
        variant = loaded.scenario.variants.index(loaded.scenario.variant(variant_id))
        # Another variant's footage not filmed yet does not stop this one from playing.
        others = {f"variants[{i}]" for i in range(len(loaded.scenario.variants))
                  if i != variant}
        stopping = [p for p in editor.checked.errors
                    if p.field.split(".")[0] not in others]
        if stopping:
            raise DocumentError(editor.document.source, stopping)
        from_here = loaded.scenario.model_copy(update={"start": segment_id})
        played = LoadedScenario(from_here, text, content_hash(text), loaded.source)
        state = RunState(run_id=f"preview-{uuid.uuid4()}", session_id="preview",
                         scenario_id=from_here.id, scenario_hash=played.content_hash,
                         variant_id=variant_id, trainee_ids=[], instructor_id=None,
                         player_backend=player.backend, timing_mode=player.timing_mode,
                         display_lag_ms=player.display_lag_ms, decoding=player.decoding,
                         variant_assignment="chosen",
                         kind="test")
        journal = PreviewJournal()
        index = self.index

        def clips(variant: str, clip_id: str) -> Path | None:
            return resolve_clip(played, index, variant, clip_id)

        run = ScenarioRun(played, state, clock=clock, player=player, journal=journal,
                          profile=self.profile, clips=clips)
        return Preview(run, journal, segment_id, variant_id)


def _with_variant(data: Mapping[str, Any], variant_id: str) -> Scenario | None:
    """A scenario that does not validate yet, as far as one of its variants goes.

    Half made (a segment without an ending), it still plays its clips on the timeline: the
    variant is checked as always, the rest is left out, unchecked and unused.
    """
    raw = next((v for v in data.get("variants") or [] if isinstance(v, Mapping)
                and v.get("id") == variant_id), None)
    try:
        variant = Variant.model_validate(raw)
    except ValidationError:
        return None
    return Scenario.model_construct(id=str(data.get("id", "")), title="", start="",
                                    variants=(variant,), segments=())
