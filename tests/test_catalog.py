"""The scenario browser's catalog: every scenario listed, filterable, with why it cannot run."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from simulator.agency import default_profile
from simulator.catalog import CatalogFilter, build_catalog, facets, select
from simulator.media import vocabulary_for
from simulator.record import Record
from simulator.scenario import ScenarioLibrary, bundled_library

PROFILE = default_profile()


@pytest.fixture(scope="module")
def bundled():
    return build_catalog(bundled_library(), PROFILE)


def test_the_bundled_library_is_listed_whole_and_clean(bundled):
    folders = [p.parent.name for p in ScenarioLibrary(bundled_library()).paths()]
    assert [e.scenario_id for e in bundled] == folders
    assert {"welfare-check", "traffic-stop"} <= set(folders)
    for entry in bundled:
        assert entry.ok, entry.errors
        assert entry.title and entry.summary and entry.focus_areas and entry.thumbnail is None
        assert len(entry.variants) >= 2


def test_an_entry_carries_what_the_scenario_says(bundled):
    loaded = ScenarioLibrary(bundled_library()).load("welfare-check")
    entry = next(e for e in bundled if e.scenario_id == "welfare-check")
    s = loaded.scenario
    assert (entry.title, entry.source) == (s.title, loaded.source)
    assert entry.focus_areas == s.focus_areas and entry.pledge_areas == s.pledge_areas
    assert dict(entry.setting) == s.setting
    assert [v.id for v in entry.variants] == [v.id for v in s.variants]
    first = entry.variants[0]
    assert [p.person_id for p in first.people] == list(s.variants[0].people)
    expected = {(a, v) for variant in s.variants for person in variant.people
                for a, values in variant.demographics_of(person).items() for v in values}
    assert entry.demographics == expected


def test_a_variant_is_described_in_the_agencys_words(bundled):
    entry = next(e for e in bundled if e.scenario_id == "welfare-check")
    b = next(v for v in entry.variants if v.id == "b")
    line = b.describe(PROFILE)
    assert line.startswith("resident: Black or African American, Man, 35-44")
    assert "; sister: Black or African American, Woman, 25-34" in line
    assert b.describe().startswith("resident: black_african_american, man, age_35_44")


def test_facets_list_every_value_once_sorted(bundled):
    found = facets(bundled)
    assert found.focus_areas == tuple(sorted({a for e in bundled for a in e.focus_areas}))
    assert "de_escalation" in found.focus_areas
    assert found.pledge_areas == tuple(sorted({a for e in bundled for a in e.pledge_areas}))
    assert ("environment", "outdoor") in found.settings
    assert ("language", "es") in found.settings
    assert ("race", "hispanic_latino") in found.demographics
    assert list(found.demographics) == sorted(set(found.demographics))
    assert facets([]).focus_areas == ()


def test_filters_must_all_hold(bundled):
    def ids(**wanted):
        return [e.scenario_id for e in select(bundled, CatalogFilter(**wanted))]

    assert ids() == [e.scenario_id for e in bundled]
    assert ids(text="TRAFFIC") == ["traffic-stop"]
    assert "traffic-stop" in ids(setting=("language", "es"))
    assert "welfare-check" not in ids(setting=("language", "es"))
    assert "welfare-check" in ids(focus_area="crisis_intervention")
    assert "traffic-stop" not in ids(focus_area="crisis_intervention")
    assert ids(focus_area="crisis_intervention", setting=("environment", "indoor")) == [
        e.scenario_id for e in bundled if "crisis_intervention" in e.focus_areas
        and ("environment", "indoor") in e.setting]
    assert ids(demographic=("language", "es")) == [
        e.scenario_id for e in bundled if ("language", "es") in e.demographics]
    assert ids(pledge_area="victim_services") == [
        e.scenario_id for e in bundled if "victim_services" in e.pledge_areas]
    assert ids(text="no such words anywhere") == []
    assert ids(focus_area="juggling") == []


def test_text_words_may_come_from_title_summary_and_id(bundled):
    welfare = next(e for e in bundled if e.scenario_id == "welfare-check")
    title_word = welfare.title.split()[0].upper()
    summary_word = welfare.summary.split()[-1].strip(".").lower()
    found = select(bundled, CatalogFilter(text=f"  {title_word}  {summary_word} welfare-check"))
    assert found == [welfare]


# -- a library with problems -------------------------------------------------------------------


def edit(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


def add(library, folder, text):
    (library / folder).mkdir(parents=True)
    (library / folder / "scenario.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def troubled(tmp_path, doorway_text):
    library = tmp_path / "library"
    add(library, "doorway", edit(
        doorway_text, "pledge_areas: [use_of_force]",
        "pledge_areas: [use_of_force]\nsetting: {environment: outdoor, light: night}"))
    add(library, "broken", "schema_version: 1\nid: broken\ntitle: [unclosed\n")
    juggling = edit(doorway_text, "id: doorway", "id: juggling")
    juggling = edit(juggling, "focus_areas: [de_escalation]", "focus_areas: [juggling]")
    juggling = edit(juggling, "language: en,\n                   disability: none_visible}}",
                    "language: en}}")
    add(library, "juggling", juggling)
    add(library, "porch", doorway_text)
    return library


def test_scenarios_that_cannot_run_are_listed_with_why(troubled):
    entries = {e.scenario_id: e for e in build_catalog(troubled, PROFILE)}
    assert list(entries) == ["broken", "doorway", "juggling", "porch"]
    assert entries["doorway"].ok and entries["doorway"].errors == ()
    assert entries["doorway"].setting == (("environment", "outdoor"), ("light", "night"))

    broken = entries["broken"]
    assert not broken.ok and broken.title == "broken" and broken.variants == ()
    assert broken.source == str(troubled / "broken" / "scenario.yaml")
    assert all(e.startswith(f"{broken.source}:") for e in broken.errors)

    juggling = entries["juggling"]
    assert not juggling.ok
    [error] = juggling.errors
    # Located on the line of the bad term, in the validator's file:line: form.
    text = (troubled / "juggling" / "scenario.yaml").read_text().splitlines()
    line = next(n for n, t in enumerate(text, 1) if t.startswith("focus_areas:"))
    assert error.startswith(f"{juggling.source}:{line}:")
    assert "focus_areas[0]" in error and "juggling" in error
    # A missing attribute is a warning: shown, but the scenario can still be picked.
    assert any("disability" in w for w in juggling.warnings)

    porch = entries["porch"]
    assert not porch.ok and porch.title == "Doorway"
    assert any("folder is `porch`" in e and "rename" in e for e in porch.errors)


def test_filters_find_problem_entries_too(troubled):
    entries = build_catalog(troubled, PROFILE)
    assert [e.scenario_id for e in select(entries, CatalogFilter(text="broken"))] == ["broken"]
    assert [e.scenario_id for e in select(entries, CatalogFilter(
        setting=("light", "night")))] == ["doorway"]
    assert "juggling" in facets(entries).focus_areas


# -- thumbnails, with a real clip in a real index -----------------------------------------------


@pytest.fixture(scope="module")
def door_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "door.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=128x72:rate=10:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
         str(path)], check=True)
    return path


@pytest.fixture
def indexed(tmp_path, doorway_text, door_clip):
    library = tmp_path / "library"
    add(library, "doorway", doorway_text)
    (library / "doorway" / "a").mkdir()
    shutil.copy(door_clip, library / "doorway" / "a" / "door.mp4")
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    index = record.media_index()
    assert index.scan([library], vocabulary_for(PROFILE)).ok
    yield library, index
    record.close()


def test_thumbnail_of_the_opening_clip_cached_by_hash(tmp_path, indexed):
    library, index = indexed
    cache = tmp_path / "thumbs"
    [entry] = build_catalog(library, PROFILE, index, cache)
    door = index.by_path(library / "doorway" / "a" / "door.mp4")
    assert entry.thumbnail == cache / door.content_hash[:2] / f"{door.content_hash}.jpg"
    assert entry.thumbnail.read_bytes()[:2] == b"\xff\xd8"
    # With the index, lint checked the clips too: the knife clip was never filmed.
    assert any("knife" in e for e in entry.errors)
    assert build_catalog(library, PROFILE, index)[0].thumbnail is None
    assert not any("knife" in e for e in build_catalog(library, PROFILE)[0].errors)


def test_no_thumbnail_for_a_changed_or_missing_clip(tmp_path, indexed):
    library, index = indexed
    clip = library / "doorway" / "a" / "door.mp4"
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    [entry] = build_catalog(library, PROFILE, index, tmp_path / "thumbs")
    assert entry.thumbnail is None and not (tmp_path / "thumbs").exists()
    clip.unlink()
    [entry] = build_catalog(library, PROFILE, index, tmp_path / "thumbs")
    assert entry.thumbnail is None


def test_an_unreadable_clip_gives_no_thumbnail_rather_than_an_error(tmp_path, indexed):
    library, index = indexed
    clip = library / "doorway" / "a" / "door.mp4"
    door = index.by_path(clip)
    clip.write_bytes(b"not a video" * 10)
    os.truncate(clip, door.size_bytes)
    os.utime(clip, ns=(door.mtime_ns, door.mtime_ns))
    [entry] = build_catalog(library, PROFILE, index, tmp_path / "thumbs")
    assert entry.thumbnail is None


def test_counts_read_in_the_singular_for_one(troubled):
    from dataclasses import replace

    from simulator.wording import counted

    assert [counted(n, "variant") for n in (0, 1, 2)] == ["0 variants", "1 variant",
                                                         "2 variants"]
    entries = {e.scenario_id: e for e in build_catalog(troubled, PROFILE)}
    assert entries["doorway"].lint_status == "lints clean"
    juggling = entries["juggling"]
    assert juggling.lint_status == "CANNOT RUN: 1 error"
    assert replace(juggling, errors=juggling.errors * 2).lint_status == "CANNOT RUN: 2 errors"
    assert replace(juggling, errors=(), warnings=("w",)).lint_status == "1 lint warning"
    assert replace(juggling, errors=(), warnings=("w", "v")).lint_status == "2 lint warnings"
