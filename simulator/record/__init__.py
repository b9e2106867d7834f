"""The record: every session, run and event, durable and tamper-evident."""

from simulator.record.database import (
    DB_ENV,
    Conflict,
    DatabaseFailed,
    RecordError,
    default_url,
    resolve_url,
)
from simulator.record.journal import RunJournal
from simulator.record.recordings import StoredFragment, StoredRecording
from simulator.record.runs import PlayedClip, RunSummary, TrainingRun
from simulator.record.scores import Score
from simulator.record.sittings import SessionSummary
from simulator.record.store import Record
from simulator.record.verify import Finding, RunVerification, verify_all, verify_run

__all__ = [
    "DB_ENV",
    "Conflict",
    "DatabaseFailed",
    "Finding",
    "PlayedClip",
    "Record",
    "RecordError",
    "RunJournal",
    "RunSummary",
    "RunVerification",
    "Score",
    "SessionSummary",
    "StoredFragment",
    "StoredRecording",
    "TrainingRun",
    "default_url",
    "resolve_url",
    "verify_all",
    "verify_run",
]
