"""The record: every session, run and event, durable and tamper-evident."""

from simulator.record.database import DB_ENV, RecordError, default_url, resolve_url
from simulator.record.journal import RunJournal
from simulator.record.store import PlayedClip, Record, RunSummary, SessionSummary
from simulator.record.verify import Finding, RunVerification, verify_all, verify_run

__all__ = [
    "DB_ENV",
    "Finding",
    "PlayedClip",
    "Record",
    "RecordError",
    "RunJournal",
    "RunSummary",
    "RunVerification",
    "SessionSummary",
    "default_url",
    "resolve_url",
    "verify_all",
    "verify_run",
]
