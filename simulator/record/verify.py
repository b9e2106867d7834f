"""Checks the hash chain of runs: any edited, deleted, inserted or reordered event, or a cut tail.

What it can and cannot see: someone who rewrites an event *and* recomputes every later
hash *and* the run's stored head produces a consistent chain. Catching that needs the head
hash kept somewhere else too, which is why every export prints it.

A run's trainee recording is checked too: every fragment file the record names must be
there with the size and SHA-256 recorded for it. An erased recording (its files deleted,
its hashes kept), one not held here (restored from a backup without its files) and one in
another PC's data folder (a shared record; `StoredRecording.elsewhere`) are skipped, and
the run's `recording` line says so: the last is checked by verify on the PC holding it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import Connection, select

from simulator.paths import FRAGMENT_NAME, fragment_file
from simulator.protocol import RunStarted, parse_event
from simulator.protocol.notes import note_digest
from simulator.record import chain
from simulator.record.recordings import StoredRecording, recordings_of
from simulator.record.schema import events, notes, runs
from simulator.record.store import Record

FindingKind = Literal["missing", "edited", "mismatch", "unreadable", "tail_cut", "extra",
                      "head_mismatch", "note_edited", "kind_mismatch",
                      "recording_missing", "recording_changed"]

# What `fragment_problem` says of a fragment file that is not there.
MISSING = "is missing"


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
    #: What became of the run's recording, for the summary: how many fragments were
    #: checked, or that it was erased or is not held here. None: the run has none.
    recording: str | None = None

    @property
    def ok(self) -> bool:
        """True when every event is where and what it was when recorded."""
        return not self.findings


def verify_run(record: Record, run_id: str, *, within: Connection | None = None,
               recordings: bool = True) -> RunVerification:
    """Recompute ``run_id``'s chain from its stored events and compare with the stored head.

    Then check its recording's files against their hashes, unless ``recordings`` is False
    (a backup being staged, whose files are not in place yet). ``within``: read through
    this connection, inside its transaction (a restore checks what it wrote before
    committing it).
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
        recorded = recordings_of(c, [run_id]) if recordings else []
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
    if recorded:
        result.recording = "; ".join([*(_check_recording(stored, add) for stored in recorded),
                                      *_unlisted(recorded)])
    return result


def _unlisted(recorded: list[StoredRecording]) -> list[str]:
    """Fragment files in a run's folder that none of its recordings names yet.

    A run that stopped before it could store its last files leaves them there; resuming it
    stores them. They are not findings (nothing recorded was changed), but they are the
    trainee's pictures all the same, and erasure deletes them with the folder.
    """
    named: dict[Path, set[str]] = {}
    for stored in recorded:
        try:
            if stored.erased_utc is None and stored.held and stored.elsewhere() is None:
                named.setdefault(stored.location(), set()).update(
                    f.name for f in stored.fragments)
        except ValueError:
            continue  # already a finding of `_check_recording`
    lines = []
    for folder, names in named.items():
        try:
            extra = sum(1 for e in os.scandir(folder)
                        if FRAGMENT_NAME.fullmatch(e.name) and e.name not in names)
        except OSError:
            continue  # a folder that is gone: its fragments are findings already
        if extra:
            lines.append(f"{extra} fragment files in {folder} not in the record yet: "
                         "resuming the run stores them")
    return lines


def verify_all(record: Record, *, within: Connection | None = None,
               recordings: bool = True) -> list[RunVerification]:
    """Every run in the record, verified as `verify_run` does."""
    with nullcontext(within) if within is not None else record.engine.connect() as c:
        run_ids = [str(r) for r in c.execute(select(runs.c.id).order_by(runs.c.started_utc))
                   .scalars()]
    return [verify_run(record, run_id, within=within, recordings=recordings)
            for run_id in run_ids]


def _check_recording(stored: StoredRecording, add: Callable[[Finding], None]) -> str:
    """Check one recording's files; a finding for each missing or changed, and a summary."""
    count = len(stored.fragments)
    if stored.erased_utc is not None:
        return (f"recording erased {stored.erased_utc:%Y-%m-%d}: {count} fragments' hashes "
                "kept, their files not checked")
    if not stored.held:
        return (f"recording not held here (restored from a backup without its files): "
                f"{count} fragments not checked")
    try:
        host = stored.elsewhere()
    except ValueError as exc:
        add(Finding("recording_changed", f"recording {stored.id}: {exc}; its files were not "
                    "checked"))
        return f"recording: {count} fragments not checked"
    if host is not None:
        return (f"recording held on {host}: {count} fragments not checked here (verify on "
                "that PC checks them)")
    try:
        folder = stored.location()
    except ValueError as exc:
        add(Finding("recording_changed", f"recording {stored.id}: {exc}; its files were not "
                    "checked"))
        return f"recording: {count} fragments not checked"
    for fragment in stored.fragments:
        problem = fragment_problem(folder, fragment.name, fragment.sha256, fragment.size_bytes)
        if problem is None:
            continue
        kind: FindingKind = "recording_missing" if problem == MISSING else "recording_changed"
        add(Finding(kind, f"recording fragment {fragment.index} ({fragment.name}) of run "
                    f"{stored.run_id} {problem}: put the file back from a backup made with "
                    "`branchpoint backup --include-recordings`, whose copy is checked "
                    "against the same hash"))
    return f"recording: {count} fragments checked in {folder}"


def fragment_problem(folder: Path, name: str, sha256: str, size_bytes: int) -> str | None:
    """What is wrong with a fragment's file, or None if it is there as recorded.

    `MISSING`, or how it differs from the record's size and hash.
    """
    try:
        path = fragment_file(folder, name)
    except ValueError as exc:
        return f"cannot be checked: {exc}"
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size != size_bytes:
                return f"has {size} bytes, not the {size_bytes} recorded: it was changed"
            if hashlib.file_digest(file, "sha256").hexdigest() != sha256:
                return "does not match its recorded SHA-256: it was changed"
    except FileNotFoundError:
        return MISSING
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None
