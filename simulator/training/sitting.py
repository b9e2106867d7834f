"""A class at the simulator: its trainees, its pre-flight, and each run, start to end.

One `ClassSitting` is one sitting (a record session): an instructor, the trainees who take
their turns, the scenarios cleared for the room, and the runs, one after another. It decides
who trains on what (the roster, the variant each trainee meets), records it, and asks the
`Room` to put each run on a screen. Every use case goes through the `Gate` first.

Two instructors can work the same class, one at the projector PC and one at a remote
console: `seen_by` gives the other one's view, with their own gate, of the same class.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic

from simulator.access import Permission
from simulator.access.settings import settings_of
from simulator.agency import AgencyProfile
from simulator.catalog import CatalogEntry, build_catalog
from simulator.counterbalance import choose_variant
from simulator.documents import DocumentError
from simulator.media import playback_clip
from simulator.names import inert
from simulator.ports import Clock, Player
from simulator.protocol.events import RunKind, VariantAssignment
from simulator.record import Record, RecordError
from simulator.recording.fragments import RecordingError
from simulator.runtime import ScenarioRun
from simulator.scenario import LoadedScenario, ScenarioLibrary, lint
from simulator.training.gate import Gate
from simulator.training.ports import Room, RunFactory, Staged
from simulator.training.recording import LiveRecording, RecordingDevices, store_leftovers
from simulator.training.runs import begin_run, reopen_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    """What the instructor set up: the scenario, who, and which variant (None: rotate)."""

    scenario_id: str
    trainees: tuple[str, ...]
    # Typed by hand where no one is signed in; a signed-in instructor is themselves.
    instructor: str | None = None
    variant_id: str | None = None
    # Badge numbers by trainee name, from a roster, kept with trainees new to the record.
    badges: Mapping[str, str] = field(default_factory=dict)
    # Cohorts by trainee name, from a roster: the trainee joins that cohort in the record.
    cohorts: Mapping[str, str] = field(default_factory=dict)
    kind: RunKind = "training"


@dataclass(frozen=True)
class StartedRun(Generic[Staged]):
    """A run the room staged: what it made of it, the run, and who is in it, by name."""

    staged: Staged
    run: ScenarioRun
    names: dict[str, str]
    # The trainee's recording, where the class records them; the front end drains it.
    recording: LiveRecording | None = None


@dataclass(frozen=True)
class ClassRun:
    """One run of the class, as the record has it: who, what, how it went."""

    run_id: str
    scenario_id: str
    variant_id: str
    trainees: tuple[str, ...]
    status: str
    outcome: str | None
    started_utc: datetime


@dataclass
class _ClassState(Generic[Staged]):
    """What every view of one class shares: its clearances, its sitting, its run."""

    cleared: dict[str, LoadedScenario] = field(default_factory=dict)
    session_id: str | None = None
    session_instructor: str | None = None
    current: StartedRun[Staged] | None = None
    # The class's choice; it records only where the agency's setting allows it too.
    record_trainees: bool = True
    recording_devices: RecordingDevices | None = None


class ClassSitting(Generic[Staged]):
    """The use cases of one class, for the person at the ``gate``.

    ``label`` names the sitting in the record (``class at the console``); ``agency`` is the
    agency the sitting and new trainees belong to (a shared database). When a plan names no
    variant, ``rotate`` gives the trainees the variant they have met least
    (counterbalanced); without it the scenario's first plays, as in a one-off run.
    ``room`` None: the front end stages each run itself (`prepare`), after checking its own
    screen and media; the pre-flight then checks that the scenario loads and lints clean.
    """

    def __init__(self, gate: Gate, room: Room[Staged] | None, library: Path,
                 profile: AgencyProfile,
                 clock: Clock, *, label: str, agency: str | None = None,
                 thumbnails: Path | None = None, rotate: bool = True) -> None:
        self._gate = gate
        self._record: Record = gate.record
        self._room = room
        self.library = library
        self.profile = profile
        self._clock = clock
        self._label = label
        self.agency_id = self._record.agencies.ensure(agency) if agency else None
        self._thumbnails = thumbnails
        self._rotate = rotate
        self._state: _ClassState[Staged] = _ClassState()

    def seen_by(self, gate: Gate) -> ClassSitting[Staged]:
        """The same class for the person at ``gate`` (a remote console's instructor, say).

        The views share everything of the class (its pre-flight passes, its record
        session, the run on the projector); each use case checks the view's own gate.
        """
        view = copy.copy(self)
        view._gate = gate
        return view

    @property
    def gate(self) -> Gate:
        """The door this class's use cases go through."""
        return self._gate

    @property
    def session_id(self) -> str | None:
        """The record session of this sitting, once its first run has started."""
        return self._state.session_id

    @property
    def current(self) -> StartedRun[Staged] | None:
        """The last run staged in this class (it may be over)."""
        return self._state.current

    def running(self) -> bool:
        """Whether a run of this class still holds the room (not ended, not faulted)."""
        current = self._state.current
        return (current is not None and self._room is not None
                and self._room.holds_screen(current.staged))

    # -- set-up ------------------------------------------------------------------------------

    def catalog(self) -> list[CatalogEntry]:
        """Every scenario in the library, with lint status, variants and a thumbnail."""
        return build_catalog(self.library, self.profile, self._record.media_index(),
                             self._thumbnails)

    def recent_trainees(self, *, own_only: bool = False) -> list[str]:
        """Trainees of recent sittings, most recent first, for picking without typing.

        Only this agency's sittings; with ``own_only``, only the signed-in instructor's.
        """
        self._gate.enter(Permission.run, "recent_trainees", "record",
                         {"own_only": own_only, **self._gate.place})
        return self._record.people.recent_trainees(
            agency_id=self.agency_id,
            instructor_id=self._gate.person_id if own_only else None)

    def forget_clearances(self) -> None:
        """Drop every pre-flight pass: the room changed (another screen, another player)."""
        self._state.cleared.clear()

    def preflight(self, scenario_id: str) -> list[str]:
        """Problems that stop ``scenario_id`` from playing here; empty clears it for the class.

        Checks that it loads and lints clean, that every variant's clips are there and
        decode from their in-points, and the room's own problems (screen, player, keys).

        Raises:
            ValueError: the library has no scenario ``scenario_id``.
            SignedOut, AccessDenied: from the gate.
        """
        self._gate.check(Permission.run)
        library = ScenarioLibrary(self.library)
        # Only an id the library lists: a remote console's id must not reach outside the
        # library (`../..`), nor learn where the library is.
        if scenario_id not in {path.parent.name for path in library.paths()}:
            raise ValueError(f"no scenario `{inert(scenario_id)}` in the library")
        self._state.cleared.pop(scenario_id, None)
        try:
            loaded = library.load(scenario_id)
        except DocumentError as exc:
            return [str(problem) for problem in exc.problems]
        report = lint(loaded.scenario, self.profile, source=loaded.source).located(loaded.text)
        problems = [str(problem) for problem in report.errors]
        if self._room is not None:
            index = self._record.media_index()
            for variant in loaded.scenario.variants:
                problems += [f"variant `{variant.id}`: {problem}" for problem in
                             self._room.media_problems(
                                 loaded, variant.id,
                                 lambda v, clip: playback_clip(loaded, index, v, clip))]
            problems += self._room.room_problems()
            problems += self._recording_problems(self._room)
        if not problems:
            self._state.cleared[scenario_id] = loaded
        return problems

    # -- recording the trainees ------------------------------------------------------------

    @property
    def recording_allowed(self) -> bool:
        """Whether the agency's settings let its classes record trainees."""
        return settings_of(self._record, self.agency_id).may_record_trainees

    @property
    def records_trainees(self) -> bool:
        """Whether this class's runs record the trainee (the agency allows it, the class too)."""
        return self._state.record_trainees and self.recording_allowed

    def set_recording(self, on: bool) -> None:
        """Record this class's trainees from its next pre-flight on, or stop recording them.

        Raises:
            ValueError: turning it on where the agency's settings do not allow recording.
            SignedOut, AccessDenied: from the gate.
        """
        self._gate.check(Permission.run)
        if on and not self.recording_allowed:
            raise ValueError("the agency's settings do not allow recording trainees; an "
                             "administrator allows it with `branchpoint settings "
                             "--record-trainees yes`")
        if on != self._state.record_trainees:
            self._state.record_trainees = on
            # A pass without the recording devices checked proves nothing with them.
            self.forget_clearances()

    def _recording_problems(self, room: Room[Staged]) -> list[str]:
        self._state.recording_devices = None
        if not self.records_trainees:
            return []
        devices = room.recording_devices()
        if devices is None or (devices.camera is None and devices.microphone is None
                               and not devices.problems):
            return ["recording: this class records its trainees, but projector.yaml sets up "
                    "no room camera or microphone under `recording:`; set one up "
                    "(docs/recording.md) or turn recording off for the class"]
        self._state.recording_devices = devices
        return [f"recording: {problem}" for problem in devices.problems]

    def cleared(self, scenario_id: str) -> bool:
        """Whether ``scenario_id`` passed the pre-flight check in this class."""
        return scenario_id in self._state.cleared

    # -- runs --------------------------------------------------------------------------------

    def start(self, plan: RunPlan) -> StartedRun[Staged]:
        """Have the room stage a new run of a scenario cleared here; the caller starts it.

        The change-over to the next trainee is this too, once the last run is over.

        Raises:
            ValueError: the scenario has not passed pre-flight, the plan names nobody, a
                variant it names does not exist, or a run still holds the projector.
            SignedOut, AccessDenied: from the gate.
        """
        self._gate.check(Permission.run)
        loaded = self._state.cleared.get(plan.scenario_id)
        if loaded is None:
            raise ValueError(f"scenario `{plan.scenario_id}` has not passed the pre-flight "
                             "check; run it first")
        room = self._free_room()
        return self._stage(room, self.prepare(loaded, plan))

    def _free_room(self) -> Room[Staged]:
        if self._room is None:
            raise ValueError("this class has no room to stage runs in; use prepare()")
        if self.running():
            raise ValueError("a run is still on the projector; end it first")
        return self._room

    def _stage(self, room: Room[Staged], build: RunFactory) -> StartedRun[Staged]:
        made: list[ScenarioRun] = []

        def make_run(player: Player) -> ScenarioRun:
            made.append(build(player))
            return made[0]

        staged = room.stage(make_run)
        run = made[0]
        started = StartedRun(staged, run, self._record.people.display_names(run.state.trainee_ids),
                             self._recording_of(run))
        self._state.current = started
        return started

    def _recording_of(self, run: ScenarioRun) -> LiveRecording | None:
        """The recording of ``run``, listening to it from its first event, if it is recorded."""
        devices = self._state.recording_devices
        if not self.records_trainees or devices is None or not devices.usable:
            return None
        run_id = run.state.run_id
        earlier = self._record.recordings.of_run(run_id)
        if earlier:
            # A resumed run goes on in the folder it was recorded in before its crash.
            folder, stored = earlier[0].location(), earlier[0].folder
        else:
            folder, stored = settings_of(self._record, self.agency_id).recording_folder(run_id)
        recording = LiveRecording(self._record, run, devices, folder, stored, self._clock,
                                 self.profile)
        run.subscribe(recording.observe)
        return recording

    def prepare(self, loaded: LoadedScenario, plan: RunPlan) -> RunFactory:
        """The one way a new run is made: what builds it on the player that will show it.

        Nothing is recorded until that is called (so a player that cannot start leaves no
        trainee or sitting behind); then the class list, the variant, the sitting and the
        run are. `start` stages it in the room; a front end with a screen loop of its own
        (the command line's projector) calls it from there, after its own pre-flight.

        Raises:
            ValueError: the plan names nobody, or a variant the scenario does not have.
            SignedOut, AccessDenied: from the gate.
        """
        self._gate.check(Permission.run)
        if not plan.trainees:
            raise ValueError("pick at least one trainee")
        if plan.variant_id is not None:
            known = [v.id for v in loaded.scenario.variants]
            if plan.variant_id not in known:
                raise ValueError(f"scenario `{loaded.scenario.id}` has no variant "
                                 f"`{plan.variant_id}`; variants: {', '.join(known)}")
        record = self._record

        def make_run(player: Player) -> ScenarioRun:
            # The class list whole or not at all: a roster line refused midway adds no one.
            with record.transaction():
                trainee_ids = [
                    record.people.find_or_add("trainee", name, agency_id=self.agency_id,
                                              external_ref=plan.badges.get(name))
                    for name in plan.trainees]
                for name, trainee_id in zip(plan.trainees, trainee_ids, strict=True):
                    if name in plan.cohorts:
                        record.cohorts.add(plan.cohorts[name], [trainee_id])
                instructor_id = self._gate.person_id or (
                    record.people.find_or_add("instructor", plan.instructor,
                                              agency_id=self.agency_id)
                    if plan.instructor else self._unnamed_instructor())
            variant_id, assignment = self._variant(loaded, plan.variant_id, trainee_ids)
            return begin_run(
                record, loaded, session_id=self._sitting(trainee_ids, instructor_id),
                variant_id=variant_id, variant_assignment=assignment, trainee_ids=trainee_ids,
                instructor_id=instructor_id, clock=self._clock, player=player,
                profile=self.profile, kind=plan.kind,
                camera_latency_ms=self._room.camera_latency_ms if self._room else None)

        return make_run

    def _unnamed_instructor(self) -> str | None:
        # Where no one signs in, a start that names no instructor is the open sitting's
        # next run (a second console joining the class), not another instructor's class.
        return self._state.session_instructor if self._gate.account is None else None

    def _variant(self, loaded: LoadedScenario, asked: str | None,
                 trainee_ids: Sequence[str]) -> tuple[str, VariantAssignment]:
        variant_ids = [v.id for v in loaded.scenario.variants]
        if asked is not None:
            return asked, "chosen"
        if not self._rotate:
            return variant_ids[0], "default"
        history = self._record.runs.variant_history(loaded.scenario.id, trainee_ids)
        return choose_variant(variant_ids, history, trainee_ids), "counterbalanced"

    def resume(self, run_id: str) -> StartedRun[Staged]:
        """Have the room stage a run that stopped before its end, to ``recover()`` it.

        Raises:
            ValueError: the run has ended, or a run still holds the projector.
            SignedOut, AccessDenied: from the gate (instructors resume their own runs).
        """
        build = self.reopen(run_id)
        return self._stage(self._free_room(), build)

    def reopen(self, run_id: str) -> RunFactory:
        """What rebuilds a run that stopped before its end on the player that will show it.

        It plays its stored scenario version, never the file on disk, which may have
        changed since; its events go on in its own sitting.

        Raises:
            ValueError: the run has ended.
            SignedOut, AccessDenied: from the gate (instructors resume their own runs).
        """
        self._gate.check(Permission.run)
        summary = self._record.runs.get(run_id)
        self._gate.own_session(summary.session_id, "resume")
        if summary.status == "ended":
            raise ValueError(f"run {run_id} has already ended; there is nothing to resume")

        def make_run(player: Player) -> ScenarioRun:
            run = reopen_run(self._record, run_id, clock=self._clock, player=player,
                             profile=self.profile)
            try:
                store_leftovers(self._record, run_id)
            except (OSError, ValueError, RecordError, RecordingError):
                # The run goes on; the files stay on disk, and verify names what is missing.
                log.exception("the recording files run %s left could not be stored", run_id)
            return run

        return make_run

    def _sitting(self, trainee_ids: Sequence[str], instructor_id: str | None) -> str:
        # A sitting is one instructor's class: another instructor starts a sitting of their
        # own, so each reviews only what they ran.
        state = self._state
        if state.session_id is not None and state.session_instructor != instructor_id:
            try:
                self.end()
            except RecordError:
                # The last class's close failing must not stop this one; verify shows it.
                log.exception("could not mark the last class's session closed")
        if state.session_id is None:
            state.session_id = self._record.sittings.open(
                trainee_ids, instructor_id=instructor_id, agency_id=self.agency_id,
                label=self._label)
            state.session_instructor = instructor_id
        else:
            self._record.sittings.join(state.session_id, trainee_ids)
        return state.session_id

    def class_runs(self) -> list[ClassRun]:
        """The runs of this sitting so far, in start order, with their trainees' names.

        Raises:
            SignedOut, AccessDenied: from the gate (instructors see their own sittings).
            AccessLogUnwritable: the look could not be logged, so nothing is shown.
        """
        session_id = self._state.session_id
        self._gate.check(Permission.run)
        if session_id is None:
            return []
        self._gate.own_session(session_id, "class_runs")
        self._gate.enter(Permission.run, "class_runs", session_id, self._gate.place)
        summaries = self._record.runs.summaries(session_id=session_id)
        played_by = self._record.runs.trainees([s.id for s in summaries])
        names = self._record.people.display_names(
            [p for people in played_by.values() for p in people])
        # An erased trainee has no name left: shown as erased, never by id.
        return [ClassRun(s.id, s.scenario_id, s.variant_id,
                         tuple(names.get(p, "(erased)") for p in played_by[s.id]),
                         s.status, s.outcome_kind, s.started_utc) for s in summaries]

    def instructor(self) -> str | None:
        """The name of the open sitting's instructor, if it has one."""
        person = self._state.session_instructor
        if self._state.session_id is None or person is None:
            return None
        return self._record.people.display_names([person]).get(person)

    def end_class(self) -> None:
        """The instructor ends the class: its record session is closed, and logged.

        Raises:
            SignedOut, AccessDenied: from the gate (instructors end their own classes).
            AccessLogUnwritable: the session is closed, but the line could not be stored.
        """
        self._gate.check(Permission.run)
        session_id = self._state.session_id
        if session_id is None:
            return
        self._gate.own_session(session_id, "end_class")
        self.end()
        self._gate.done("class_ended", session_id, self._gate.place)

    def end(self) -> None:
        """Close the sitting's record session; the next run opens a new one."""
        state = self._state
        if state.session_id is None:
            return
        session_id, state.session_id = state.session_id, None
        # The next class is nobody's until its first run names an instructor.
        state.session_instructor = None
        self._record.sittings.close(session_id)
