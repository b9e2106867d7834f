"""RunJournal: makes each event of one run durable, chained, with the run's state beside it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError

from simulator.ports import JournalEntry
from simulator.protocol import canonical_json
from simulator.protocol.run_state import RunState
from simulator.record import chain
from simulator.record.schema import events, notes, runs

_ATTEMPTS = 2

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

    One transaction per commit holds the event rows, their notes and the run's new state,
    head hash and count; ``commit`` returns after the database has made it durable, so
    whatever is acknowledged afterwards survives a crash, and the stored state always
    matches the stored events.
    """

    def __init__(self, engine: Engine, run_id: str, head_hash: str, event_count: int) -> None:
        self._engine = engine
        self.run_id = run_id
        self.head_hash = head_hash
        self.event_count = event_count

    def commit(self, entries: Sequence[JournalEntry], state: RunState) -> None:
        """Store consecutive events durably in one transaction; refuse any out of order."""
        head, rows, note_rows = self.head_hash, [], []
        for offset, entry in enumerate(entries):
            event = entry.event
            expected = self.event_count + 1 + offset
            if event.run_id != self.run_id or event.seq != expected:
                raise ValueError(
                    f"event #{event.seq} of run {event.run_id} is out of order; the journal "
                    f"of run {self.run_id} expects #{expected}"
                )
            payload = canonical_json(event)
            head = chain.link(head, payload)
            rows.append({"run_id": event.run_id, "seq": event.seq, "type": event.type,
                         "t_ns": event.t_ns, "utc": event.utc, "payload": payload,
                         "hash": head})
            if entry.note is not None:
                note_rows.append({"run_id": event.run_id, "seq": event.seq,
                                  "salt": entry.note.salt, "text": entry.note.text})
        if not rows:
            return
        last = entries[-1].event
        run_values = {
            "run_key": self.run_id, "event_count": last.seq, "head_hash": head,
            "status": state.status, "state": state.model_dump_json(),
            "player_backend": state.player_backend, "timing_mode": state.timing_mode,
        }
        end_values = {**run_values, "ended_utc": last.utc, "outcome_kind": state.outcome_kind}
        for attempt in range(_ATTEMPTS):
            try:
                with self._engine.begin() as connection:
                    connection.execute(_INSERT_EVENT, rows)
                    if note_rows:
                        connection.execute(_INSERT_NOTE, note_rows)
                    if last.type == "run_ended":
                        connection.execute(_END_RUN, end_values)
                    else:
                        connection.execute(_UPDATE_RUN, run_values)
                break
            except DBAPIError as exc:
                # A pooled connection the server dropped (a restart, a failover) fails on
                # first use; the pool has already discarded it, so one retry goes out on a
                # fresh one. If the commit landed before the line went dead, the retry would
                # collide with our own rows: then it is done.
                if not exc.connection_invalidated or attempt == _ATTEMPTS - 1:
                    raise
                if self._stored_hash(last.seq) == head:
                    break
        self.head_hash = head
        self.event_count = last.seq

    def _stored_hash(self, seq: int) -> str | None:
        with self._engine.connect() as connection:
            return connection.execute(
                select(events.c.hash).where(events.c.run_id == self.run_id, events.c.seq == seq)
            ).scalar()
