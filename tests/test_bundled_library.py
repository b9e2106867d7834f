"""The bundled library: real training content, every scenario lint-clean against its clips."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from media_index import MediaIndex
from simulator.agency import default_profile
from simulator.media import IndexedClips, vocabulary_for, write_sidecars
from simulator.paths import standins_dir
from simulator.scenario import ScenarioLibrary, bundled_library, lint
from simulator.standins import default_out_dir, generate_scenario

LIBRARY = ScenarioLibrary(bundled_library())
SCENARIOS = [LIBRARY.load(p.parent.name) for p in LIBRARY.paths()]


def test_at_least_five_scenarios_each_a_full_training_encounter():
    assert len(SCENARIOS) >= 5
    for loaded in SCENARIOS:
        s = loaded.scenario
        decisions = [seg for seg in s.segments if seg.decision]
        kinds = {b.kind for seg in decisions for b in seg.decision.branches}
        scored = [c for seg in s.segments for c in seg.cues if c.scored]
        assert len(decisions) >= 3, s.id
        assert {"escalate", "de_escalate"} <= kinds, s.id
        assert len({seg.outcome.kind for seg in s.segments if seg.outcome}) >= 2, s.id
        assert any(c.kind in ("threat_cue", "weapon_shown") for c in scored), s.id
        assert len(s.variants) >= 2, s.id
        assert all(seg.lines for seg in s.segments), f"{s.id}: a segment has no script"


def test_variants_differ_only_in_the_demographics_of_people_shown():
    for loaded in SCENARIOS:
        variants = loaded.scenario.variants
        first = variants[0]
        for other in variants[1:]:
            assert set(other.people) == set(first.people), loaded.scenario.id
            assert set(other.clips) == set(first.clips), loaded.scenario.id
            differing = {(p, a) for p in first.people for a in
                         set(first.demographics_of(p)) | set(other.demographics_of(p))
                         if first.demographics_of(p).get(a) != other.demographics_of(p).get(a)}
            assert differing, f"{loaded.scenario.id}: {other.id} shows the same people"


def test_both_sides_of_the_ground_truth_are_scripted():
    truths = [c.force_justified for loaded in SCENARIOS for seg in loaded.scenario.segments
              for c in seg.cues if c.scored]
    assert truths.count(True) >= 3 and truths.count(False) >= 6


@pytest.mark.slow
def test_generated_clips_index_clean_and_every_scenario_lints_clean_against_them():
    index = MediaIndex.open(create_engine(f"sqlite:///{standins_dir().parent / 'lib.sqlite3'}"))
    for loaded in SCENARIOS:
        generate_scenario(loaded, default_out_dir(loaded), size="tiny")
        write_sidecars(loaded, default_out_dir(loaded))
    # Only the bundled scenarios' folders: other tests leave stand-ins of their own (some
    # broken on purpose) in the same data folder.
    report = index.scan([default_out_dir(loaded) for loaded in SCENARIOS],
                        vocabulary_for(default_profile()))
    assert report.ok, (report.unreadable, report.tag_problems)
    assert len(report.added) == sum(len(v.clips) for s in SCENARIOS for v in s.scenario.variants)
    for loaded in SCENARIOS:
        result = lint(loaded.scenario, default_profile(), source=loaded.source,
                      media=IndexedClips(loaded, index))
        assert result.problems == (), [str(p) for p in result.problems]
