"""The hash chain that makes every edit, deletion, insertion or reordering of events visible."""

from __future__ import annotations

import hashlib


def genesis(run_id: str) -> str:
    """The chain's starting value, bound to the run so events cannot move between runs."""
    return hashlib.sha256(f"branchpoint-run\n{run_id}".encode()).hexdigest()


def link(previous: str, payload: str) -> str:
    """The hash of an event: its canonical JSON chained to the hash before it."""
    return hashlib.sha256(f"{previous}\n{payload}".encode()).hexdigest()
