"""Training records: per officer, and the agency's summary by IACP pledge area."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulator.agency import default_profile
from simulator.headless.player import HeadlessPlayer
from simulator.protocol import ChooseBranch, EndRun, Pause, Resume
from simulator.protocol.run_clock import played_ns
from simulator.review.training import agency_summary, officer_record
from simulator.runtime import ManualClock
from simulator.training.runs import begin_run, reopen_run


def play(record, doorway, trainees, *, finish=True):
    clock = ManualClock()
    session = record.sittings.open(trainees)
    run = begin_run(record, doorway, session_id=session, variant_id="a",
                    variant_assignment="chosen", trainee_ids=trainees, instructor_id=None,
                    clock=clock, player=HeadlessPlayer(clock))
    run.start()
    run.poll()
    clock.advance(11.0)
    run.poll()
    run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))
    if finish:
        run.handle(EndRun(note="enough"))
    return run.state.run_id


def test_officer_and_agency_records_count_what_the_record_holds(reviewed_run, doorway):
    first, record, reyes, _, _ = reviewed_run
    byrne = record.people.add("trainee", "Officer Byrne")
    pair = play(record, doorway, [reyes, byrne])
    unfinished = play(record, doorway, [byrne], finish=False)

    reyes_record = officer_record(record, reyes)
    assert reyes_record.name == "Officer Dana Reyes"
    # (The manual clocks all start at the same moment: order by run, not by time.)
    assert {e.run_id for e in reyes_record.entries} == {first.summary.id, pair}
    spans = {run: record.runs.events(run) for run in (first.summary.id, pair, unfinished)}
    # Played time on the run clock (no pauses or recoveries in these runs).
    hours = {run: (events[-1].t_ns - events[0].t_ns) / 3.6e12
             for run, events in spans.items()}
    assert reyes_record.hours == hours[first.summary.id] + hours[pair]
    assert reyes_record.sessions == 2
    assert reyes_record.hours_by_focus_area() == {"de_escalation": reyes_record.hours}
    outcomes = {e.run_id: e.outcome for e in officer_record(record, byrne).entries}
    assert outcomes == {pair: "ended by the instructor", unfinished: "did not finish"}
    assert {e.outcome for e in reyes_record.entries} == {"force_used",
                                                         "ended by the instructor"}

    summary = agency_summary(record)
    assert (summary.officers, summary.runs) == (2, 3)
    assert summary.hours == sum(hours.values())
    area = summary.by_pledge_area["use_of_force"]
    assert (len(area.officers), area.runs) == (2, 3)
    (sentence,) = summary.sentences(default_profile())
    assert sentence.startswith("Scenario-based training in ")
    assert "delivered to 2 officers" in sentence and "3 scenario runs" in sentence

    later = datetime.now(UTC) + timedelta(days=1)
    assert agency_summary(record, since=later).runs == 0
    assert officer_record(record, reyes, until=later - timedelta(days=400)).entries == ()


def test_scores_and_training_runs_on_each_database(record, doorway):
    """The same queries on SQLite and on the real PostgreSQL server of the test setup."""
    trainee = record.people.add("trainee", "Officer Byrne")
    rater = record.people.add("instructor", "Sgt. Lee")
    run_id = play(record, doorway, [trainee])
    record.scores.add(run_id, trainee, rater, "de-escalation", "h", {"communication":
                                                                     ("developing", 2)})
    record.scores.add(run_id, trainee, rater, "de-escalation", "h", {"communication":
                                                                     ("expert", 4)})
    (standing,) = record.scores.standing(run_ids=[run_id])
    assert (standing.level_id, standing.score) == ("expert", 4)
    (found,) = record.runs.training_runs(kinds=None, trainee_id=trainee)
    assert (found.run_id, found.trainee_ids, found.status) == (run_id, (trainee,), "ended")
    assert found.first_utc.tzinfo is not None and found.last_utc > found.first_utc
    start = found.first_utc
    assert record.runs.training_runs(kinds=None, since=start, until=start + timedelta(seconds=1))
    assert not record.runs.training_runs(kinds=None, since=start + timedelta(microseconds=1))
    # The end of a period is not in it.
    assert not record.runs.training_runs(kinds=None, until=start)


def test_a_run_resumed_under_a_clock_set_back_a_day_counts_its_played_seconds(record,
                                                                             doorway):
    trainee = record.people.add("trainee", "Officer Byrne")
    clock = ManualClock()
    run = begin_run(record, doorway, session_id=record.sittings.open([trainee]),
                    variant_id="a", variant_assignment="chosen", trainee_ids=[trainee],
                    instructor_id=None, clock=clock, player=HeadlessPlayer(clock))
    run.start()
    run.poll()
    clock.advance(10.0)
    run.poll()
    run.handle(Pause())
    clock.advance(5.0)  # paused: not played
    run.handle(Resume())
    clock.advance(10.0)
    run.poll()
    # The process dies; the PC's clock is set back a day before the run is resumed, on a
    # new monotonic clock that starts far from the old one.
    later = ManualClock(start_ns=7_000_000_000_000,
                        utc=clock.utc_now() - timedelta(days=1))
    again = reopen_run(record, run.state.run_id, clock=later, player=HeadlessPlayer(later))
    again.recover()
    later.advance(10.0)
    again.poll()
    again.handle(EndRun(note="enough"))
    events = record.runs.events(run.state.run_id)
    assert events[-1].utc < events[0].utc  # by the wall clock it ended before it began
    (entry,) = officer_record(record, trainee).entries
    assert entry.hours * 3600 == pytest.approx(30.0, abs=0.01)


def test_played_time_leaves_out_pauses_and_the_wait_for_a_resume():
    second = 1_000_000_000
    stamps = [("run_started", 0), ("paused", 2 * second), ("resumed", 7 * second),
              ("segment_started", 9 * second),
              # a crash, then a new time base far away, resumed paused
              ("run_recovered", 100 * second), ("paused", 101 * second),
              ("resumed", 104 * second), ("run_ended", 106 * second)]
    assert played_ns(stamps) == (9 - 5) * second + (6 - 3) * second
    assert played_ns([("run_started", 0), ("paused", 3 * second)]) == 3 * second
    # Paused when the process died, with a flag raised during the pause; resumed paused.
    assert played_ns([("run_started", 0), ("paused", 10 * second),
                      ("flag_raised", 100 * second), ("run_recovered", 0),
                      ("resumed", 5 * second), ("run_ended", 15 * second)]) == 20 * second
    assert played_ns([]) == 0
