"""Checks the hash chain of runs: any edited, deleted, inserted or reordered event, or a cut tail.

What it can and cannot see: someone who rewrites an event *and* recomputes every later
hash *and* the run's stored head produces a consistent chain. Catching that needs the head
hash kept somewhere else too, which is why every export prints it.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import Connection, select

from simulator.protocol import RunStarted, parse_event
from simulator.protocol.notes import note_digest
from simulator.record import chain
from simulator.record.schema import events, notes, runs
from simulator.record.store import Record

FindingKind = Literal["missing", "edited", "mismatch", "unreadable", "tail_cut", "extra",
                      "head_mismatch", "note_edited", "kind_mismatch"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a run's events."""

    kind: FindingKind
    detail: str
    seq: int | None = None


@dataclass
class RunVerification:
    """The verdict on one run's chain."""

    run_id: str
    stored_count: int
    stored_head: str
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every event is where and what it was when recorded."""
        return not self.findings


def verify_run(record: Record, run_id: str, *,
               within: Connection | None = None) -> RunVerification:
    """Recompute ``run_id``'s chain from its stored events and compare with the stored head.

    ``within``: read through this connection, inside its transaction (a restore checks
    what it wrote before committing it).
    """
    with nullcontext(within) if within is not None else record.engine.connect() as c:
        head = c.execute(select(runs.c.event_count, runs.c.head_hash, runs.c.kind)
                         .where(runs.c.id == run_id)).first()
        if head is None:
            raise KeyError(run_id)
        rows = c.execute(select(events.c.seq, events.c.type, events.c.t_ns, events.c.utc,
                                events.c.payload, events.c.hash)
                         .where(events.c.run_id == run_id).order_by(events.c.seq)).all()
        kept_notes = {r.seq: (r.salt, r.text) for r in c.execute(
            select(notes.c.seq, notes.c.salt, notes.c.text).where(notes.c.run_id == run_id))}
    result = RunVerification(run_id, head.event_count, head.head_hash)
    add = result.findings.append
    previous_hash = chain.genesis(run_id)
    expected = 1
    for row in rows:
        result.checked += 1
        if row.seq > expected:
            span = f"#{expected}" if row.seq == expected + 1 else f"#{expected}-#{row.seq - 1}"
            add(Finding("missing", f"event {span} is missing (deleted)", expected))
        expected = row.seq + 1
        if row.hash != chain.link(previous_hash, row.payload):
            add(Finding("edited", f"event #{row.seq} does not match its hash: it was edited, "
                        "or an event before it was removed, inserted or moved", row.seq))
        previous_hash = row.hash
        try:
            payload = json.loads(row.payload)
            event = parse_event(payload)
        except (ValueError, ValidationError) as exc:
            add(Finding("unreadable", f"event #{row.seq} is not a valid event: {exc}", row.seq))
            continue
        columns = {"seq": row.seq, "type": row.type, "t_ns": row.t_ns, "run_id": run_id}
        differing = [k for k, v in columns.items() if payload.get(k) != v]
        # SQLite hands back naive datetimes; every stamp we write is UTC.
        stored_utc = row.utc if row.utc.tzinfo else row.utc.replace(tzinfo=UTC)
        if stored_utc != event.utc:
            differing.append("utc")
        digest = getattr(event, "note_digest", None)
        if digest and row.seq in kept_notes and note_digest(*kept_notes[row.seq]) != digest:
            add(Finding("note_edited", f"the note of event #{row.seq} was changed after it "
                        "was recorded", row.seq))
        if isinstance(event, RunStarted) and event.run_kind != head.kind:
            add(Finding("kind_mismatch", f"the run is listed as {head.kind!r} but its first "
                        f"event says {event.run_kind!r}: it was relabelled, which moves it "
                        "into or out of the audit", row.seq))
        if differing:
            add(Finding("mismatch", f"event #{row.seq}: stored {', '.join(differing)} differ "
                        "from the event itself (rows renumbered or reordered?)", row.seq))
    last_seq = rows[-1].seq if rows else 0
    if not rows and head.head_hash != chain.genesis(run_id):
        add(Finding("head_mismatch", "the run has no events but its recorded head says it had "
                    "some: they were deleted", 1))
    if last_seq < head.event_count:
        add(Finding("tail_cut", f"the run recorded {head.event_count} events but only "
                    f"{last_seq} are there: the tail was cut off", last_seq + 1))
    elif last_seq > head.event_count:
        add(Finding("extra", f"events after #{head.event_count}, the run's recorded head, were "
                    "added later", head.event_count + 1))
    elif rows and previous_hash != head.head_hash:
        add(Finding("head_mismatch", "the last event's hash differs from the run's recorded "
                    "head hash", last_seq))
    return result


def verify_all(record: Record, *, within: Connection | None = None) -> list[RunVerification]:
    """Every run in the record, verified (through ``within``, if given)."""
    with nullcontext(within) if within is not None else record.engine.connect() as c:
        run_ids = [str(r) for r in c.execute(select(runs.c.id).order_by(runs.c.started_utc))
                   .scalars()]
    return [verify_run(record, run_id, within=within) for run_id in run_ids]
