"""xAPI 1.0.3 statements of a run: each decision, trainee input, branch and the completion.

Nothing the record holds about them is dropped (the usual complaint about simulators' xAPI
is that the choice made is lost): a branch statement's object is the decision point as a
`choice` interaction listing every branch offered, and its response is the branch taken,
with who took it (the instructor, the default when time ran out, or an instructor's jump)
and its timing. A retraction becomes a voiding statement for the entry it withdraws, so an
LRS keeps both, as the record does.

A phrase the speech recogniser heard makes no statement of its own: it is a machine's guess
until an instructor confirms it. The decision that confirms it is a `responded` statement
like any other, carrying the phrase, its language, the recogniser and its confidence.
Recordings of the trainee make no statement either.

Statement ids are name-based UUIDs of the run and the event, so exporting twice gives the
same statements and an LRS does not store them twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from simulator.protocol import (
    BranchChosen,
    BranchesOffered,
    DecisionRecorded,
    DecisionWindowOpened,
    DefaultTaken,
    EntryRetracted,
    Event,
    EventBase,
    Jumped,
    RunEnded,
    SegmentStarted,
    TraineeInput,
    VerbalCommandHeard,
)
from simulator.protocol.dispatch import EventHandler, dispatch
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.timeline import seconds_into_run

ADL = "http://adlnet.gov/expapi/verbs"
INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
SIMULATION = "http://adlnet.gov/expapi/activities/simulation"
DEFAULT_BASE = "https://branchpoint.invalid/xapi"
# Statement ids: UUID v5 in a namespace of our own, from the run id and the event's seq.
_IDS = uuid.UUID("6c7d0f36-6a54-5d0b-9d4e-3f2b1a0c9e11")


def statement_id(run_id: str, seq: int) -> str:
    """The statement made of event ``seq`` of ``run_id`` (stable across exports)."""
    return str(uuid.uuid5(_IDS, f"{run_id}/{seq}"))


def _duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def _en(text: str) -> dict[str, str]:
    return {"en-US": text}


class _Builder(EventHandler[dict[str, Any] | None]):
    """Statements of one run, with its people and IRIs worked out once."""

    def __init__(self, run: ReviewedRun, people: People, base: str) -> None:
        self.run, self.people, self.base = run, people, base.rstrip("/")
        started = run.started
        self.scenario_iri = f"{self.base}/scenarios/{started.scenario_id}"
        self.registration = (str(uuid.uuid5(_IDS, people.ref(started.run_id)))
                             if people.pseudonymised else started.run_id)
        self.offers: dict[int, BranchesOffered] = {
            e.seq: e for e in run.events if isinstance(e, BranchesOffered)}
        # The segment on screen when each event came, and when its decision window opened.
        self.on_screen: dict[int, str | None] = {}
        self.window_opened: dict[int, int] = {}
        segment: str | None = None
        for event in run.events:
            if isinstance(event, SegmentStarted):
                segment = event.segment_id
            if isinstance(event, DecisionWindowOpened):
                self.window_opened[event.offer_seq] = event.seq
            self.on_screen[event.seq] = segment
        self.seconds = seconds_into_run(run.events)
        self.retractable = {e.seq for e in run.events if isinstance(e, DecisionRecorded)}
        self.heard = {e.seq: e for e in run.events if isinstance(e, VerbalCommandHeard)}

    def agent(self, person_id: str) -> dict[str, Any]:
        return {"objectType": "Agent",
                "account": {"homePage": self.base, "name": self.people.ref(person_id)}}

    def trainees(self) -> dict[str, Any]:
        ids = self.run.started.trainee_ids
        if len(ids) == 1:
            return self.agent(ids[0])
        return {"objectType": "Group", "member": [self.agent(i) for i in ids]}

    def context(self, **extensions: Any) -> dict[str, Any]:
        started = self.run.started
        context: dict[str, Any] = {
            "registration": self.registration,
            "contextActivities": {"parent": [{
                "objectType": "Activity", "id": self.scenario_iri,
                "definition": {"type": SIMULATION,
                               "name": _en(self.run.scenario.scenario.title)}}]},
            "extensions": {
                f"{self.base}/extensions/scenario-version": started.scenario_hash,
                f"{self.base}/extensions/variant": started.variant_id,
                f"{self.base}/extensions/player": started.player_backend,
                f"{self.base}/extensions/timing-mode": started.timing_mode,
                **{f"{self.base}/extensions/{k.replace('_', '-')}": v
                   for k, v in extensions.items() if v is not None},
            },
        }
        if started.instructor_id:
            context["instructor"] = self.agent(started.instructor_id)
        return context

    def activity(self, segment_id: str | None, cue_id: str | None) -> dict[str, Any]:
        iri = f"{self.scenario_iri}/segments/{segment_id or 'none'}"
        if cue_id:
            iri += f"/cues/{cue_id}"
        return {"objectType": "Activity", "id": iri,
                "definition": {"type": INTERACTION, "interactionType": "other",
                               "name": _en(cue_id or segment_id or "run")}}

    def statement(self, event: Event, actor: dict[str, Any], verb: str, display: str,
                  obj: dict[str, Any], result: dict[str, Any] | None = None,
                  **extensions: Any) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "id": statement_id(self.registration, event.seq), "actor": actor,
            "verb": {"id": verb, "display": _en(display)}, "object": obj,
            "context": self.context(seq=event.seq, **extensions),
            "timestamp": event.utc.isoformat(),
        }
        if result is not None:
            statement["result"] = result
        return statement

    def decision_recorded(self, event: DecisionRecorded) -> dict[str, Any]:
        result: dict[str, Any] = {"response": event.action, "extensions": {
            f"{self.base}/extensions/action-kind": event.action_kind,
            f"{self.base}/extensions/source": event.source,
            **{f"{self.base}/extensions/{key}": value for key, value in (
                ("cue-seq", event.cue_seq), ("input-ns", event.input_ns),
                *self._heard(event.heard_seq)) if value is not None},
        }}
        if event.latency_ms is not None:
            result["duration"] = _duration(event.latency_ms / 1000)
            result["extensions"][f"{self.base}/extensions/latency-ms"] = event.latency_ms
        return self.statement(event, self.agent(event.trainee_id), f"{ADL}/responded",
                              "responded", self.activity(self.on_screen[event.seq], event.cue_id),
                              result)

    def _heard(self, heard_seq: int | None) -> tuple[tuple[str, Any], ...]:
        """The extensions of the phrase a decision confirms, if it confirms one."""
        heard = self.heard.get(heard_seq) if heard_seq is not None else None
        if heard is None:
            return ()
        return (("heard-seq", heard.seq), ("phrase", heard.phrase),
                ("language", heard.language), ("recogniser", heard.recogniser),
                ("confidence", heard.confidence), ("heard-end-ns", heard.end_ns))

    def trainee_input(self, event: TraineeInput) -> dict[str, Any]:
        extensions = {f"{self.base}/extensions/{key}": value for key, value in (
            ("device", event.device), ("kind", event.kind), ("key", event.key),
            ("x", event.x), ("y", event.y), ("frame", event.frame_index),
            ("action", event.action), ("latency-ms", event.latency_ms),
            ("clip-s", event.clip_s), ("person", event.person_id), ("zone", event.zone),
            ("placement", event.placement), ("after-threat-ended", event.after_threat_ended),
        ) if value is not None}
        actor = (self.agent(event.trainee_id) if event.trainee_id else self.trainees())
        # A shot names the segment it landed on; it came while that was on screen.
        segment = event.segment_id or self.on_screen[event.seq]
        return self.statement(event, actor, f"{ADL}/interacted", "interacted",
                              self.activity(segment, event.cue_id),
                              {"extensions": extensions})

    def branch_chosen(self, event: BranchChosen | DefaultTaken) -> dict[str, Any]:
        offer = self.offers.get(event.offer_seq)
        opened = self.window_opened.get(event.offer_seq)
        timing = {
            # How long the instructor had once the segment ended, and how long the choice
            # took from the offer (and from the window opening, if it came after that).
            "window-ms": offer.window_ms if offer else None,
            "chosen-after-offer-ms": round(
                (self.seconds[event.seq] - self.seconds[event.offer_seq]) * 1000)
            if event.offer_seq in self.seconds else None,
            "chosen-after-window-opened-ms": round(
                (self.seconds[event.seq] - self.seconds[opened]) * 1000)
            if opened is not None else None}
        definition: dict[str, Any] = {"type": INTERACTION, "interactionType": "choice",
                                      "name": _en(f"decision point at {event.from_segment}")}
        if offer is not None:
            definition["choices"] = [{"id": b.id, "description": _en(f"{b.label} ({b.kind})")}
                                     for b in offer.branches]
        taken_by = "instructor" if isinstance(event, BranchChosen) else "default"
        return self.statement(
            event, self.trainees(), f"{self.base}/verbs/took-branch", "took the branch",
            {"objectType": "Activity", "id": f"{self.scenario_iri}/segments/"
             f"{event.from_segment}/decision", "definition": definition},
            {"response": event.branch_id, "extensions": {
                f"{self.base}/extensions/taken-by": taken_by,
                f"{self.base}/extensions/to-segment": event.to_segment,
                **({f"{self.base}/extensions/default-branch": offer.default_branch}
                   if offer else {}),
                **{f"{self.base}/extensions/{k}": v for k, v in timing.items()
                   if v is not None}}})

    default_taken = branch_chosen

    def jumped(self, event: Jumped) -> dict[str, Any]:
        return self.statement(
            event, self.trainees(), f"{self.base}/verbs/took-branch", "took the branch",
            {"objectType": "Activity", "id": f"{self.scenario_iri}/segments/"
             f"{event.from_segment or 'none'}/jump",
             "definition": {"type": INTERACTION, "interactionType": "other",
                            "name": _en("instructor's jump")}},
            {"response": event.to_segment, "extensions": {
                f"{self.base}/extensions/taken-by": "instructor-jump",
                f"{self.base}/extensions/to-segment": event.to_segment}})

    def run_ended(self, event: RunEnded) -> dict[str, Any]:
        completed = event.reason == "outcome"
        duration = self.seconds[event.seq]
        return self.statement(
            event, self.trainees(), f"{ADL}/{'completed' if completed else 'terminated'}",
            "completed" if completed else "terminated",
            {"objectType": "Activity", "id": self.scenario_iri,
             "definition": {"type": SIMULATION, "name": _en(self.run.scenario.scenario.title)}},
            {"completion": completed, "duration": _duration(duration), "extensions": {
                f"{self.base}/extensions/{k}": v for k, v in (
                    ("outcome", event.outcome_kind), ("ended-in-segment", event.segment_id),
                    ("ended-by", event.reason)) if v is not None}})

    def entry_retracted(self, event: EntryRetracted) -> dict[str, Any] | None:
        if event.entry_seq not in self.retractable:
            # A withdrawn flag: flags make no statement, so there is none to void.
            return None
        started = self.run.started
        actor = (self.agent(started.instructor_id) if started.instructor_id
                 else self.trainees())
        return self.statement(event, actor, f"{ADL}/voided", "voided",
                              {"objectType": "StatementRef",
                               "id": statement_id(self.registration, event.entry_seq)},
                              reason=event.reason)

    def _no_statement(self, event: EventBase) -> None:
        """Kept in the record and its CSV exports; no xAPI statement stands for it."""

    run_started = segment_started = branches_offered = cue_shown = _no_statement
    response_window_closed = decision_window_opened = segment_restarted = _no_statement
    paused = resumed = flag_raised = command_refused = run_recovered = _no_statement
    media_failed = verbal_command_heard = recording_started = recording_stopped = _no_statement


def statements(run: ReviewedRun, people: People, base: str = DEFAULT_BASE
               ) -> list[dict[str, Any]]:
    """The run's statements, in the record's order."""
    builder = _Builder(run, people, base)
    made = (dispatch(event, builder) for event in run.events)
    return [statement for statement in made if statement is not None]
