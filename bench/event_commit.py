"""Durable event commit latency: RunJournal.commit of one event.

On SQLite (WAL, synchronous=FULL) and PostgreSQL on loopback (synchronous_commit on, fsync
on). Targets: p99 < 5 ms SQLite, < 10 ms PostgreSQL.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import machine, percentiles, write_result
from simulator.ports import JournalEntry
from simulator.protocol import CueShown, DecisionRecorded
from simulator.protocol.run_state import RunState, ShownCue
from simulator.record import Record
from simulator.record.rows import new_id
from simulator.record.schema import scenario_versions

EVENTS = 2000
WARMUP = 50
TESTS = Path(__file__).resolve().parents[1] / "tests"


def _measure(record: Record, events: int) -> dict[str, float]:
    person = record.people.add("trainee", "Bench trainee")
    session = record.sittings.open([person])
    run_id = new_id()
    version = uuid.uuid4().hex * 2
    state = RunState(run_id=run_id, session_id=session, scenario_id="bench",
                     scenario_hash=version, variant_id="a", trainee_ids=[person],
                     player_backend="headless", timing_mode="simulated", status="playing",
                     segment_id="s1", path=[f"s{i}" for i in range(12)],
                     cues=[ShownCue(cue_id=f"c{i}", cue_seq=i + 1, shown_ns=i,
                                    shown_active_ns=i, closes_active_ns=i + 5)
                           for i in range(10)])
    with record.engine.begin() as c:
        c.execute(scenario_versions.insert().values(
            content_hash=version, scenario_id="bench", title="bench", schema_version=1,
            source="bench", text="bench", first_seen_utc=datetime.now(UTC)))
    journal = record.runs.create(state)
    samples: list[float] = []
    for seq in range(1, events + WARMUP + 1):
        state.seq = seq
        event: Any
        if seq % 2:
            event = CueShown(run_id=run_id, seq=seq, t_ns=seq, utc=datetime.now(UTC),
                             segment_id="s1", cue_id="c1", person_id="p", scored=True,
                             window_ms=3000)
        else:
            event = DecisionRecorded(run_id=run_id, seq=seq, t_ns=seq, utc=datetime.now(UTC),
                                     trainee_id=person, action="verbal_direction",
                                     action_kind="force_option", source="device", input_ns=seq,
                                     cue_id="c1", cue_seq=seq - 1, latency_ms=412.5)
        start = time.perf_counter_ns()
        journal.commit([JournalEntry(event)], state)
        elapsed = (time.perf_counter_ns() - start) / 1e6
        if seq > WARMUP:
            samples.append(elapsed)
    return percentiles(samples)


def run(events: int = EVENTS) -> dict[str, Any]:
    """Measure both backends; returns the figures written to bench/results/event_commit.json."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as folder:
        record = Record.open(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        figures["sqlite"] = _measure(record, events)
        record.close()
        info = machine(Path(folder))
    sys.path.insert(0, str(TESTS))  # the throwaway server lives with the tests
    from pg_server import PostgresServer

    with PostgresServer() as server:
        record = Record.open(server.create_database(f"bench_{uuid.uuid4().hex[:8]}"))
        with record.engine.connect() as c:
            info["postgresql"] = c.exec_driver_sql("show server_version").scalar()
        figures["postgresql"] = _measure(record, events)
        record.close()
    figures["targets"] = {"sqlite_p99_ms": 5.0, "postgresql_p99_ms": 10.0}
    figures["met"] = {"sqlite": figures["sqlite"]["p99_ms"] < 5.0,
                      "postgresql": figures["postgresql"]["p99_ms"] < 10.0}
    write_result("event_commit", figures, info)
    return figures
