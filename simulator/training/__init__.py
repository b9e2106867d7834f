"""The use cases people start, each with its role check and access-log line.

The one layer under every front end: the command line, the console on the projector PC and
the remote console all go through it. A front end holds one `Gate` for the person using it,
builds the use cases it offers on that gate, and catches the errors below.
"""

from simulator.access import AccessDenied, AccessLogUnwritable, SignInError
from simulator.record import RecordError
from simulator.training.administering import AccountChange, Administering, SettingsChange
from simulator.training.auditing import AuditChoices, Auditing
from simulator.training.gate import COMMAND_LINE, Gate, SignedOut
from simulator.training.reviewing import (
    RECENT_RUNS,
    Exported,
    ListedRun,
    NotTheRater,
    OpenedRun,
    Reviewing,
)
from simulator.training.training_records import TrainingRecords

__all__ = [
    "COMMAND_LINE",
    "RECENT_RUNS",
    "AccessDenied",
    "AccessLogUnwritable",
    "AccountChange",
    "Administering",
    "AuditChoices",
    "Auditing",
    "Exported",
    "Gate",
    "ListedRun",
    "NotTheRater",
    "OpenedRun",
    "RecordError",
    "Reviewing",
    "SettingsChange",
    "SignInError",
    "SignedOut",
    "TrainingRecords",
]
