"""The scenario browser's data: every scenario of a library, what it trains, whom it shows.

The instructor's set-up screen lists the library, filters it by what a class needs (a focus
area, a pledge area, a setting, someone shown) and says plainly why a scenario cannot be
picked. So a scenario that fails to load or lint is listed too, with its problems, rather
than silently left out: an instructor who cannot find a scenario needs to know why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from media_index import MediaIndex, ProbeError
from media_index.thumbnails import thumbnail
from simulator.agency import AgencyProfile
from simulator.documents import DocumentError, Problem
from simulator.media import IndexedClips, resolve_clip
from simulator.scenario import (
    LintReport,
    LoadedScenario,
    ScenarioLibrary,
    Variant,
    lint,
    load_scenario,
)
from simulator.wording import counted


@dataclass(frozen=True)
class PersonShown:
    """One person as a variant portrays them.

    ``demographics`` holds ``(attribute, values)`` pairs in the scenario file's order, every
    attribute as a tuple of values (race may have several).
    """

    person_id: str
    demographics: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class VariantSummary:
    """One filming of a scenario: its id, its label and the people it shows."""

    id: str
    label: str
    people: tuple[PersonShown, ...]

    @classmethod
    def of(cls, variant: Variant) -> VariantSummary:
        """The summary of a scenario's variant."""
        return cls(variant.id, variant.label, tuple(
            PersonShown(person, tuple((attribute, tuple(values)) for attribute, values
                                      in variant.demographics_of(person).items()))
            for person in variant.people))

    def describe(self, profile: AgencyProfile | None = None) -> str:
        """A short line such as ``resident: Black or African American, Man, 35-44``.

        With ``profile`` the agency's labels are used; without it, the vocabulary ids.
        People are separated by ``; ``.
        """
        parts = []
        for person in self.people:
            values = [(profile.demographic_label(attribute, value) if profile else value)
                      for attribute, several in person.demographics for value in several]
            parts.append(f"{person.person_id}: {', '.join(values)}" if values
                         else person.person_id)
        return "; ".join(parts)


@dataclass(frozen=True)
class CatalogEntry:
    """One scenario as the browser lists it, whether or not it can be run."""

    scenario_id: str
    title: str
    summary: str
    source: str
    focus_areas: tuple[str, ...]
    pledge_areas: tuple[str, ...]
    setting: tuple[tuple[str, str], ...]
    variants: tuple[VariantSummary, ...]
    demographics: frozenset[tuple[str, str]]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    thumbnail: Path | None

    @property
    def ok(self) -> bool:
        """True when nothing stops the scenario from being run (warnings allowed)."""
        return not self.errors

    @property
    def lint_status(self) -> str:
        """``lints clean``, ``2 lint warnings`` or ``CANNOT RUN: 1 error``, as listed."""
        if self.errors:
            return f"CANNOT RUN: {counted(len(self.errors), 'error')}"
        if self.warnings:
            return counted(len(self.warnings), "lint warning")
        return "lints clean"


@dataclass(frozen=True)
class CatalogFilter:
    """What the instructor is looking for; every condition given must hold.

    ``text`` is split into words, and each word must appear in the id, title or summary
    (case-insensitive), so ``knife park`` finds "Knife in the park". ``setting`` and
    ``demographic`` are ``(key, value)`` pairs; a demographic matches when any variant
    shows anyone with that value.
    """

    text: str = ""
    focus_area: str | None = None
    pledge_area: str | None = None
    setting: tuple[str, str] | None = None
    demographic: tuple[str, str] | None = None


@dataclass(frozen=True)
class Facets:
    """The distinct values present in a catalog, sorted, to fill the filter drop-downs."""

    focus_areas: tuple[str, ...]
    pledge_areas: tuple[str, ...]
    settings: tuple[tuple[str, str], ...]
    demographics: tuple[tuple[str, str], ...]


def build_catalog(
    library: Path,
    profile: AgencyProfile,
    index: MediaIndex | None = None,
    thumbnails: Path | None = None,
) -> list[CatalogEntry]:
    """Every scenario under ``library`` in folder-name order, loaded and linted.

    With ``index``, lint also checks each scenario's clips against the media index; with
    both ``index`` and ``thumbnails`` (a cache folder), each entry gets a still of its first
    variant's opening clip. The entry's id is its folder name, which is what the library
    loads scenarios by.
    """
    return [_entry(path, profile, index, thumbnails)
            for path in ScenarioLibrary(library).paths()]


def select(entries: Iterable[CatalogEntry], wanted: CatalogFilter) -> list[CatalogEntry]:
    """The entries matching every condition of ``wanted``, in their given order."""
    words = wanted.text.casefold().split()
    out = []
    for entry in entries:
        haystack = " ".join((entry.scenario_id, entry.title, entry.summary)).casefold()
        if not all(word in haystack for word in words):
            continue
        if wanted.focus_area is not None and wanted.focus_area not in entry.focus_areas:
            continue
        if wanted.pledge_area is not None and wanted.pledge_area not in entry.pledge_areas:
            continue
        if wanted.setting is not None and wanted.setting not in entry.setting:
            continue
        if wanted.demographic is not None and wanted.demographic not in entry.demographics:
            continue
        out.append(entry)
    return out


def facets(entries: Iterable[CatalogEntry]) -> Facets:
    """The focus areas, pledge areas, settings and demographics found in ``entries``."""
    listed = list(entries)
    return Facets(
        focus_areas=tuple(sorted({a for e in listed for a in e.focus_areas})),
        pledge_areas=tuple(sorted({a for e in listed for a in e.pledge_areas})),
        settings=tuple(sorted({s for e in listed for s in e.setting})),
        demographics=tuple(sorted({d for e in listed for d in e.demographics})),
    )


def _entry(path: Path, profile: AgencyProfile, index: MediaIndex | None,
           thumbnails: Path | None) -> CatalogEntry:
    folder = path.parent.name
    try:
        loaded = load_scenario(path)
    except DocumentError as exc:
        return CatalogEntry(
            scenario_id=folder, title=folder, summary="", source=str(path), focus_areas=(),
            pledge_areas=(), setting=(), variants=(), demographics=frozenset(),
            errors=tuple(str(p) for p in exc.problems), warnings=(), thumbnail=None)
    scenario = loaded.scenario
    report = lint(scenario, profile, source=loaded.source,
                  media=IndexedClips(loaded, index) if index is not None else None)
    if scenario.id != folder:
        # The library loads by folder name, so a mismatch makes the scenario unpickable;
        # the same wording as `branchpoint validate` tells the author what to rename.
        report = LintReport((*report.problems, Problem(
            f"`id: {scenario.id}` but the folder is `{folder}`; a library finds scenarios by "
            "folder, so rename one to match", loaded.source, field="id", code="id-mismatch")))
    report = report.located(loaded.text)
    variants = tuple(VariantSummary.of(v) for v in scenario.variants)
    return CatalogEntry(
        scenario_id=folder, title=scenario.title, summary=scenario.summary.strip(),
        source=loaded.source, focus_areas=scenario.focus_areas,
        pledge_areas=scenario.pledge_areas, setting=tuple(scenario.setting.items()),
        variants=variants,
        demographics=frozenset((attribute, value) for v in variants for p in v.people
                               for attribute, values in p.demographics for value in values),
        errors=tuple(str(p) for p in report.errors),
        warnings=tuple(str(p) for p in report.warnings),
        thumbnail=_thumbnail(loaded, index, thumbnails),
    )


def _thumbnail(loaded: LoadedScenario, index: MediaIndex | None,
               thumbnails: Path | None) -> Path | None:
    """The still of the first variant's opening clip, or None when it cannot be had.

    Only the index's hash is used, and only while the file still matches what was indexed:
    hashing footage here would keep the set-up screen waiting, and a stale hash would cache
    the still of an edited file under the old content's name.
    """
    if index is None or thumbnails is None:
        return None
    scenario = loaded.scenario
    try:
        clip_id = scenario.segment(scenario.start).clip
    except KeyError:
        return None
    path = resolve_clip(loaded, index, scenario.variants[0].id, clip_id)
    if path is None or not path.is_file():
        return None
    indexed = index.by_path(path)
    if indexed is None or indexed.status != "present" or not indexed.content_hash:
        return None
    stat = path.stat()
    if (stat.st_size, stat.st_mtime_ns) != (indexed.size_bytes, indexed.mtime_ns):
        return None
    try:
        return thumbnail(path, indexed.content_hash, thumbnails)
    except (ProbeError, OSError):
        return None
