"""RunJournal: makes each event of one run durable, chained, with the run's state beside it."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, insert, update

from simulator.ports import Note
from simulator.protocol import Event, canonical_json
from simulator.protocol.run_state import RunState
from simulator.record import chain
from simulator.record.schema import events, notes, runs

# Built once: SQLAlchemy then reuses their compiled form, which halves the time an
# append spends outside the database.
_INSERT_EVENT = insert(events)
_INSERT_NOTE = insert(notes)
_RUN_COLUMNS = ("event_count", "head_hash", "status", "state", "player_backend", "timing_mode")
_UPDATE_RUN = (update(runs).where(runs.c.id == bindparam("run_key"))
               .values({c: bindparam(c) for c in _RUN_COLUMNS}))
_END_RUN = (update(runs).where(runs.c.id == bindparam("run_key"))
            .values({c: bindparam(c) for c in (*_RUN_COLUMNS, "ended_utc", "outcome_kind")}))


class RunJournal:
    """The journal port for one run, backed by the record's database.

    One transaction per event holds the event row, its note (if any) and the run's new
    state, head hash and count; ``append`` returns after the commit, so whatever is
    acknowledged afterwards survives a crash, and the stored state always matches the
    stored events.
    """

    def __init__(self, engine: Engine, run_id: str, head_hash: str, event_count: int) -> None:
        self._engine = engine
        self.run_id = run_id
        self.head_hash = head_hash
        self.event_count = event_count

    def append(self, event: Event, state: RunState, note: Note | None = None) -> None:
        """Store ``event`` durably; raises if it is not the next event of this run."""
        if event.run_id != self.run_id or event.seq != self.event_count + 1:
            raise ValueError(
                f"event #{event.seq} of run {event.run_id} is out of order; the journal of "
                f"run {self.run_id} expects #{self.event_count + 1}"
            )
        payload = canonical_json(event)
        digest = chain.link(self.head_hash, payload)
        run_values = {
            "run_key": self.run_id, "event_count": event.seq, "head_hash": digest,
            "status": state.status, "state": state.model_dump_json(),
            "player_backend": state.player_backend, "timing_mode": state.timing_mode,
        }
        with self._engine.begin() as connection:
            connection.execute(_INSERT_EVENT, {
                "run_id": event.run_id, "seq": event.seq, "type": event.type,
                "t_ns": event.t_ns, "utc": event.utc, "payload": payload, "hash": digest})
            if note is not None:
                connection.execute(_INSERT_NOTE, {"run_id": event.run_id, "seq": event.seq,
                                                  "salt": note.salt, "text": note.text})
            if event.type == "run_ended":
                connection.execute(_END_RUN, {**run_values, "ended_utc": event.utc,
                                              "outcome_kind": state.outcome_kind})
            else:
                connection.execute(_UPDATE_RUN, run_values)
        self.head_hash = digest
        self.event_count = event.seq
