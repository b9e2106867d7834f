"""Every event to the one method that handles its type: the only place that matches on them.

Whatever reads a run's events (the console's live state, the replay timeline, the plain-words
description, the trial table, the exports) implements `EventHandler` and reads each event
through `dispatch`. A new event type then cannot be missed anywhere: the ``match`` below
ends in ``assert_never``, so the type check fails until it has a case, and the case's new
handler method fails the type check of every handler that lacks it.

A handler with nothing to do for some types says so by name, for instance
``paused = resumed = _ignored`` with ``def _ignored(self, event: EventBase) -> None``.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, assert_never

from simulator.protocol.events import (
    BranchChosen,
    BranchesOffered,
    CommandRefused,
    CueShown,
    DecisionRecorded,
    DecisionWindowOpened,
    DefaultTaken,
    EntryRetracted,
    Event,
    FlagRaised,
    Jumped,
    MediaFailed,
    Paused,
    RecordingStarted,
    RecordingStopped,
    ResponseWindowClosed,
    Resumed,
    RunEnded,
    RunRecovered,
    RunStarted,
    SegmentRestarted,
    SegmentStarted,
    TraineeInput,
    VerbalCommandHeard,
)

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class EventHandler(Protocol[R_co]):
    """One method per event type, named as the type is on the wire; each returns an ``R_co``.

    Subclass it explicitly, so that a handler missing a method is reported where it is
    made, not only where it is used.
    """

    def run_started(self, event: RunStarted) -> R_co:
        """A run began."""

    def segment_started(self, event: SegmentStarted) -> R_co:
        """A segment's first frame was presented."""

    def branches_offered(self, event: BranchesOffered) -> R_co:
        """A decision point opened."""

    def cue_shown(self, event: CueShown) -> R_co:
        """A cue's frame was presented."""

    def response_window_closed(self, event: ResponseWindowClosed) -> R_co:
        """A cue's response window ended."""

    def decision_window_opened(self, event: DecisionWindowOpened) -> R_co:
        """The segment reached its out-point; the default counts down."""

    def branch_chosen(self, event: BranchChosen) -> R_co:
        """The instructor took a branch."""

    def default_taken(self, event: DefaultTaken) -> R_co:
        """No choice came in time; the default branch was taken."""

    def jumped(self, event: Jumped) -> R_co:
        """The instructor jumped outside the branches on offer."""

    def segment_restarted(self, event: SegmentRestarted) -> R_co:
        """The segment is played again from its in-point."""

    def paused(self, event: Paused) -> R_co:
        """The screen and every timer froze."""

    def resumed(self, event: Resumed) -> R_co:
        """Play continued."""

    def decision_recorded(self, event: DecisionRecorded) -> R_co:
        """A trainee's action was recorded."""

    def verbal_command_heard(self, event: VerbalCommandHeard) -> R_co:
        """The speech recogniser heard a phrase of a verbal tactic."""

    def trainee_input(self, event: TraineeInput) -> R_co:
        """An input came from the projector side."""

    def flag_raised(self, event: FlagRaised) -> R_co:
        """A moment was flagged for the debrief."""

    def entry_retracted(self, event: EntryRetracted) -> R_co:
        """A decision or flag was withdrawn."""

    def command_refused(self, event: CommandRefused) -> R_co:
        """A command could not be applied."""

    def run_recovered(self, event: RunRecovered) -> R_co:
        """The run was reopened after a crash."""

    def media_failed(self, event: MediaFailed) -> R_co:
        """A segment's clip could not be shown."""

    def recording_started(self, event: RecordingStarted) -> R_co:
        """The trainee is being recorded."""

    def recording_stopped(self, event: RecordingStopped) -> R_co:
        """The trainee recording stopped."""

    def run_ended(self, event: RunEnded) -> R_co:
        """The run is over."""


def dispatch(event: Event, handler: EventHandler[R]) -> R:
    """What ``handler`` makes of ``event``, from the method for the event's type."""
    match event:
        case RunStarted():
            return handler.run_started(event)
        case SegmentStarted():
            return handler.segment_started(event)
        case BranchesOffered():
            return handler.branches_offered(event)
        case CueShown():
            return handler.cue_shown(event)
        case ResponseWindowClosed():
            return handler.response_window_closed(event)
        case DecisionWindowOpened():
            return handler.decision_window_opened(event)
        case BranchChosen():
            return handler.branch_chosen(event)
        case DefaultTaken():
            return handler.default_taken(event)
        case Jumped():
            return handler.jumped(event)
        case SegmentRestarted():
            return handler.segment_restarted(event)
        case Paused():
            return handler.paused(event)
        case Resumed():
            return handler.resumed(event)
        case DecisionRecorded():
            return handler.decision_recorded(event)
        case VerbalCommandHeard():
            return handler.verbal_command_heard(event)
        case TraineeInput():
            return handler.trainee_input(event)
        case FlagRaised():
            return handler.flag_raised(event)
        case EntryRetracted():
            return handler.entry_retracted(event)
        case CommandRefused():
            return handler.command_refused(event)
        case RunRecovered():
            return handler.run_recovered(event)
        case MediaFailed():
            return handler.media_failed(event)
        case RecordingStarted():
            return handler.recording_started(event)
        case RecordingStopped():
            return handler.recording_stopped(event)
        case RunEnded():
            return handler.run_ended(event)
        case _:
            assert_never(event)
