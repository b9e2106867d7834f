"""Counterbalancing: each trainee meets each variant equally often, and the record counts."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.counterbalance import choose_variant
from simulator.headless.player import HeadlessPlayer
from simulator.record import Record
from simulator.training.runs import begin_run

variant_lists = st.lists(st.from_regex(r"[a-z]{1,3}", fullmatch=True), min_size=1,
                         max_size=6, unique=True)


def play_sessions(variants, trainees, sessions, seen):
    """Choose and count ``sessions`` times for the same group; the choices in order."""
    chosen = []
    for _ in range(sessions):
        variant = choose_variant(variants, seen, trainees)
        for trainee in trainees:
            seen.setdefault(trainee, Counter())[variant] += 1
        chosen.append(variant)
    return chosen


@given(variant_lists, st.integers(1, 5), st.text(min_size=1, max_size=8))
def test_a_lone_trainee_meets_every_variant_equally(variants, rounds, trainee):
    seen: dict[str, Counter[str]] = {}
    chosen = play_sessions(variants, [trainee], rounds * len(variants), seen)
    assert Counter(chosen) == {v: rounds for v in variants}
    # Balanced all along the way, not only at the end: no variant is met twice before
    # every other has been met once.
    for n in range(len(chosen)):
        counts = Counter(chosen[:n + 1])
        assert max(counts.values()) - min(counts.get(v, 0) for v in variants) <= 1


@given(variant_lists, st.lists(st.integers(0, 4), min_size=1, max_size=6),
       st.text(min_size=1, max_size=8))
def test_a_trainee_with_a_lopsided_history_catches_up(variants, history, trainee):
    seen = {trainee: Counter(dict(zip(variants, history, strict=False)))}
    least = min(seen[trainee][v] for v in variants)
    assert seen[trainee][choose_variant(variants, seen, [trainee])] == least


@given(variant_lists, st.lists(st.text(min_size=1, max_size=6), min_size=2, max_size=4,
                               unique=True), st.integers(1, 3))
def test_a_fixed_group_of_officers_is_balanced_each(variants, trainees, rounds):
    seen: dict[str, Counter[str]] = {}
    play_sessions(variants, trainees, rounds * len(variants), seen)
    for trainee in trainees:
        assert seen[trainee] == {v: rounds for v in variants}


def test_group_total_first_then_the_worst_off_trainee():
    seen = {"t1": Counter(a=2, b=0, c=1), "t2": Counter(a=0, b=2, c=1)}
    # Totals are 2, 2, 2; a and b would give someone a third run of the same people.
    assert choose_variant(["a", "b", "c"], seen, ["t1", "t2"]) == "c"
    # Trainees outside the session do not count.
    seen["t3"] = Counter(c=50)
    assert choose_variant(["a", "b", "c"], seen, ["t1", "t2"]) == "c"
    # The group's total comes first: a (3 runs, all t1's) beats b (4 runs, 2 each).
    seen = {"t1": Counter(a=3, b=2), "t2": Counter(a=0, b=2)}
    assert choose_variant(["a", "b"], seen, ["t1", "t2"]) == "a"


def test_new_trainees_do_not_all_meet_the_first_variant_first():
    variants = ["a", "b", "c"]
    firsts = Counter(choose_variant(variants, {}, [f"trainee-{n}"]) for n in range(60))
    assert set(firsts) == set(variants)
    assert min(firsts.values()) >= 10


def test_the_choice_is_deterministic_and_ignores_order_and_repeats():
    seen = {"x": Counter(a=1), "y": Counter(b=1)}
    first = choose_variant(["a", "b", "c", "d"], seen, ["x", "y"])
    assert first in ("c", "d")
    assert choose_variant(["a", "b", "c", "d"], seen, ["y", "x", "y"]) == first
    assert choose_variant(["a", "b", "c", "d"], dict(seen), ["x", "y"]) == first


def test_variants_no_longer_in_the_scenario_are_ignored():
    seen = {"t": Counter(old=9, a=1)}
    assert choose_variant(["a", "b"], seen, ["t"]) == "b"


@pytest.mark.parametrize("variants", [[], ["a", "a"]])
def test_bad_variant_lists_are_refused(variants):
    with pytest.raises(ValueError, match="variant"):
        choose_variant(variants, {}, ["t"])


# -- the record's history --------------------------------------------------------------------


@pytest.fixture
def sqlite_record(tmp_path):
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


def start(record, loaded, clock, session, variant, trainees, *, started=True):
    run = begin_run(record, loaded, session_id=session, variant_id=variant,
                    variant_assignment="chosen",
                    trainee_ids=trainees, instructor_id=None, clock=clock,
                    player=HeadlessPlayer(clock))
    if started:
        run.start()
    return run


def test_variant_history_counts_started_runs_per_trainee(sqlite_record, doorway, clock):
    record = sqlite_record
    dana, lee, sam = (record.people.add("trainee", n) for n in ("Dana", "Lee", "Sam"))
    pair = record.sittings.open([dana, lee])
    start(record, doorway, clock, pair, "a", [dana, lee])
    start(record, doorway, clock, pair, "b", [dana, lee])
    # A class-period session: the run is Dana's turn alone, so Sam's count is untouched.
    period = record.sittings.open([dana, sam])
    start(record, doorway, clock, period, "a", [dana])
    # Registered but never started: nothing was shown.
    start(record, doorway, clock, period, "b", [sam], started=False)
    # Another scenario does not count.
    other = doorway.text.replace("id: doorway", "id: porch")
    from simulator.scenario import parse_scenario

    start(record, parse_scenario(other, "porch.yaml"), clock, period, "a", [sam])

    history = record.runs.variant_history("doorway", [dana, lee, sam, "nobody"])
    assert history == {dana: Counter(a=2, b=1), lee: Counter(a=1, b=1), sam: Counter(),
                       "nobody": Counter()}
    assert record.runs.variant_history("porch", [sam]) == {sam: Counter(a=1)}
    assert record.runs.variant_history("doorway", []) == {}


def test_the_record_drives_the_choice(sqlite_record, doorway, clock):
    record = sqlite_record
    dana = record.people.add("trainee", "Dana")
    variants = [v.id for v in doorway.scenario.variants]
    for _ in range(3 * len(variants)):
        session = record.sittings.open([dana])
        seen = record.runs.variant_history("doorway", [dana])
        start(record, doorway, clock, session, choose_variant(variants, seen, [dana]), [dana])
    assert record.runs.variant_history("doorway", [dana]) == {dana: Counter(a=3, b=3)}
