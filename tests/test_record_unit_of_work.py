"""The record's unit of work: repository calls inside one transaction, whole or not at all."""

from __future__ import annotations

import threading

import pytest

from simulator.record import Conflict, Record
from simulator.runtime import RunState


def _registered_class(record: Record, doorway) -> tuple[str, str]:
    """An agency, a trainee in a cohort, a sitting, the scenario and a run: five concerns."""
    agency = record.agencies.ensure("Metro PD")
    trainee = record.people.add("trainee", "Officer Reyes", agency_id=agency)
    record.cohorts.add("Class 12", [trainee])
    session = record.sittings.open([trainee], agency_id=agency, label="class 12")
    scenario_hash = record.scenario_versions.store(doorway)
    state = RunState(run_id="run-unit", session_id=session, scenario_id=doorway.scenario.id,
                     scenario_hash=scenario_hash, variant_id="a", trainee_ids=[trainee],
                     player_backend="headless", timing_mode="simulated", status="ready")
    record.runs.create(state)
    return trainee, session


def _url(record: Record) -> str:
    return record.engine.url.render_as_string(hide_password=False)


def _nothing_stored(record: Record) -> None:
    assert record.agencies.find("Metro PD") is None
    assert record.people.find("trainee", "Officer Reyes") is None
    assert record.cohorts.names() == []
    assert record.sittings.latest() == []
    assert record.runs.summaries() == []


def test_a_unit_that_fails_midway_leaves_nothing_behind(record, doorway):
    with pytest.raises(RuntimeError, match="midway"), record.transaction():
        trainee, session = _registered_class(record, doorway)
        # Inside the unit, reads see what it wrote so far.
        assert record.people.find("trainee", "Officer Reyes") == trainee
        assert [s.id for s in record.sittings.latest()] == [session]
        raise RuntimeError("midway")
    _nothing_stored(record)
    other = Record.open(_url(record))
    try:
        _nothing_stored(other)
    finally:
        other.close()


def test_a_write_the_database_refuses_midway_undoes_the_whole_unit(record, doorway):
    with pytest.raises(Conflict), record.transaction():
        _registered_class(record, doorway)
        record.accounts.add("chief", "chief", "administrator", "hash", person_id=None,
                            agency_id=None)
        record.accounts.add("chief", "chief", "administrator", "hash", person_id=None,
                            agency_id=None)
    _nothing_stored(record)
    assert not record.accounts.any()


def test_a_unit_commits_whole_and_only_when_it_ends(record, doorway):
    other = Record.open(_url(record))
    try:
        with record.transaction():
            trainee, _ = _registered_class(record, doorway)
            # Another connection sees nothing of it yet.
            assert other.people.find("trainee", "Officer Reyes") is None
            # A unit begun inside it is part of it, and does not commit by itself.
            with record.transaction():
                record.cohorts.add("Night shift", [trainee])
            assert other.cohorts.names() == []
        assert other.people.find("trainee", "Officer Reyes") == trainee
        assert other.cohorts.names() == ["Class 12", "Night shift"]
        assert [r.id for r in other.runs.summaries()] == ["run-unit"]
    finally:
        other.close()


def test_another_thread_is_not_part_of_the_unit(record):
    added: list[str] = []

    def add_elsewhere() -> None:
        added.append(record.people.add("trainee", "Officer Okafor"))

    with pytest.raises(RuntimeError), record.transaction():
        record.people.add("trainee", "Officer Reyes")
        # On SQLite the unit holds the write lock until it ends, so the thread is let go
        # once it has, and its call then commits on its own.
        worker = threading.Thread(target=add_elsewhere)
        worker.start()
        if "sqlite" not in record.url:
            worker.join()
        raise RuntimeError("the unit fails")
    worker.join()
    assert record.people.find("trainee", "Officer Reyes") is None
    assert record.people.find("trainee", "Officer Okafor") == added[0]
