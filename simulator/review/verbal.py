"""A run's verbal commands for the debrief: what was heard, how soon, and before any force.

The speech recogniser reports each phrase of the agency's verbal tactics it hears
(`VerbalCommandHeard`); an instructor may confirm one, which records it as the trainee's
decision (source ``speech``, stamped when the trainee spoke). A phrase heard is a
machine's guess, so every figure here says whether it rests on phrases heard (confirmed or
not) or on confirmed ones only.

Times are seconds into the run (`simulator.review.timeline`), the moment the trainee began
to speak; "after a cue" leaves out the time the run was paused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simulator.agency import AgencyProfile
from simulator.protocol import (
    CueShown,
    DecisionRecorded,
    EntryRetracted,
    RecordingStarted,
    VerbalCommandHeard,
)
from simulator.review.layout import Table
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.timeline import Timeline, clock_text, confirmed_heard, seconds_into_run


@dataclass(frozen=True)
class HeardCommand:
    """A phrase the recogniser heard: which tactic, how sure, and whether it was confirmed.

    ``confirmed_by`` is the standing decision that confirms it (None: not confirmed, or
    its confirmation was retracted), and ``confirmed_for`` the trainee that decision names:
    in a run of several trainees the recogniser names no one (``trainee_id`` None), and
    the instructor's confirmation says whose command it was.
    """

    seq: int
    at_s: float
    trainee_id: str | None
    tactic: str
    label: str
    phrase: str
    language: str
    confidence: float
    recogniser: str
    cue_id: str | None
    latency_ms: float | None
    confirmed_by: int | None
    confirmed_for: str | None = None

    @property
    def confirmed(self) -> bool:
        """Whether an instructor's standing decision confirms the phrase."""
        return self.confirmed_by is not None

    def sentence(self) -> str:
        """The phrase in plain words: ``Heard "drop the knife" (Clear directions, 82%), …``."""
        said = "confirmed by the instructor" if self.confirmed else "not confirmed"
        return f'Heard "{self.phrase}" ({self.label}, {self.confidence:.0%}), {said}'


@dataclass(frozen=True)
class VerbalDecision:
    """A standing decision of a verbal tactic, at the moment the command was given.

    Confirmed from a phrase heard (``source`` ``speech``): when the trainee spoke; keyed by
    the instructor: when it was keyed.
    """

    seq: int
    at_s: float
    trainee_id: str
    tactic: str
    label: str
    source: str


@dataclass(frozen=True)
class FirstCommand:
    """How soon after a scored cue a trainee's first verbal command came.

    Seconds from the cue's frame to the start of the first phrase heard (any, confirmed or
    not: ``heard_after_s``) and of the first confirmed one (``confirmed_after_s``), before
    the next scored cue was shown; None when none came. Pauses are left out.
    """

    cue_seq: int
    cue_id: str
    cue_at_s: float
    trainee_id: str
    heard_after_s: float | None
    heard_tactic: str | None
    confirmed_after_s: float | None
    confirmed_tactic: str | None


@dataclass(frozen=True)
class BeforeForce:
    """A trainee's verbal commands before their first use of force.

    The first force is the first standing decision of a force option the agency counts as
    force, or the first shot, whichever came first (``force_at_s``; None: no force, and
    then every command of the run is listed). ``recorded`` are the standing decisions of
    verbal tactics before it; ``heard`` the phrases heard before it, confirmed or not (a
    confirmed one is only the command of the trainee it was confirmed for).
    """

    trainee_id: str
    force_at_s: float | None
    force: str | None
    recorded: tuple[VerbalDecision, ...]
    heard: tuple[HeardCommand, ...]

    def describe(self, name: str) -> str:
        """The counts in a sentence, for ``name`` (the trainee as the report names them)."""
        recorded = _counted(len(self.recorded), "verbal command recorded",
                            "verbal commands recorded")
        confirmed = sum(h.confirmed for h in self.heard)
        heard = (f"{_counted(len(self.heard), 'phrase heard', 'phrases heard')} "
                 f"({confirmed} confirmed)")
        if self.force_at_s is None:
            return f"{name} used no force: {recorded}; {heard}."
        return (f"{name}: first force at {clock_text(self.force_at_s)} ({self.force}); "
                f"before it, {recorded}; {heard}.")


def _counted(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _label(profile: AgencyProfile, tactic: str) -> str:
    return profile.verbal_tactics.get(tactic, tactic)


def _retracted(run: ReviewedRun) -> set[int]:
    return {e.entry_seq for e in run.events if isinstance(e, EntryRetracted)}


def heard_commands(run: ReviewedRun, profile: AgencyProfile) -> list[HeardCommand]:
    """The phrases heard in the run, in the order they were heard, with their tactic's label."""
    seconds = seconds_into_run(run.events)
    confirmed = confirmed_heard(run.events, _retracted(run))
    trainees = {e.seq: e.trainee_id for e in run.events if isinstance(e, DecisionRecorded)}
    whose = {heard: trainees[by] for heard, by in confirmed.items()}
    return [HeardCommand(
        seq=e.seq, at_s=seconds[e.seq], trainee_id=e.trainee_id, tactic=e.tactic,
        label=_label(profile, e.tactic), phrase=e.phrase, language=e.language,
        confidence=e.confidence, recogniser=e.recogniser, cue_id=e.cue_id,
        latency_ms=e.latency_ms, confirmed_by=confirmed.get(e.seq),
        confirmed_for=whose.get(e.seq))
        for e in run.events if isinstance(e, VerbalCommandHeard)]


def verbal_decisions(run: ReviewedRun, profile: AgencyProfile) -> list[VerbalDecision]:
    """The run's standing decisions of verbal tactics, at the moment each command was given."""
    seconds = seconds_into_run(run.events)
    retracted = _retracted(run)
    found = []
    for e in run.events:
        if not isinstance(e, DecisionRecorded) or e.action_kind != "verbal_tactic" \
                or e.seq in retracted:
            continue
        # Confirmed: when the phrase began, which the heard event has on the timeline (its
        # stamp may be on the clock of a process that has since crashed).
        at = seconds.get(e.heard_seq, seconds[e.seq]) if e.heard_seq is not None \
            else _stamped(e, seconds)
        found.append(VerbalDecision(e.seq, at, e.trainee_id, e.action,
                                    _label(profile, e.action), e.source))
    return found


def _stamped(decision: DecisionRecorded, seconds: dict[int, float]) -> float:
    """When a decision's input came (its stamp), else when it was recorded."""
    at = seconds[decision.seq]
    if decision.input_ns is None:
        return at
    return at + (decision.input_ns - decision.t_ns) / 1e9


def _paused_between(timeline: Timeline, start_s: float, end_s: float) -> float:
    return sum(max(0.0, min(end, end_s) - max(start, start_s))
               for shot in timeline.shots for start, end in shot.pauses)


def _since(timeline: Timeline, start_s: float, heard: HeardCommand | None) -> float | None:
    """Seconds from ``start_s`` to when ``heard`` began, pauses left out."""
    if heard is None:
        return None
    return heard.at_s - start_s - _paused_between(timeline, start_s, heard.at_s)


def _yours(heard: HeardCommand, trainee: str) -> bool:
    # A confirmed phrase is the command of the trainee it was confirmed for, and no one
    # else's. One not confirmed, in a run of several trainees, names no one: it may be
    # anyone's.
    if heard.confirmed_for is not None:
        return heard.confirmed_for == trainee
    return heard.trainee_id in (trainee, None)


def first_commands(run: ReviewedRun, profile: AgencyProfile) -> list[FirstCommand]:
    """For each scored cue and trainee, the time to the first verbal command after it."""
    seconds = seconds_into_run(run.events)
    timeline = run.timeline({})
    heard = heard_commands(run, profile)
    cues = [e for e in run.events if isinstance(e, CueShown) and e.scored]
    rows = []
    for i, cue in enumerate(cues):
        start = seconds[cue.seq]
        end = seconds[cues[i + 1].seq] if i + 1 < len(cues) else float("inf")
        for trainee in run.started.trainee_ids:
            after = [h for h in heard if start <= h.at_s < end and _yours(h, trainee)]
            first = min(after, key=lambda h: h.at_s, default=None)
            confirmed = min((h for h in after if h.confirmed), key=lambda h: h.at_s,
                            default=None)
            rows.append(FirstCommand(
                cue.seq, cue.cue_id, start, trainee, _since(timeline, start, first),
                first.label if first else None, _since(timeline, start, confirmed),
                confirmed.label if confirmed else None))
    return rows


def before_force(run: ReviewedRun, profile: AgencyProfile) -> list[BeforeForce]:
    """Each trainee's verbal commands before their first use of force (or in the run)."""
    seconds = seconds_into_run(run.events)
    retracted = _retracted(run)
    heard = heard_commands(run, profile)
    decisions = verbal_decisions(run, profile)
    shots = run.timeline({}).fired
    found = []
    for trainee in run.started.trainee_ids:
        forces: list[tuple[float, str]] = [
            (_stamped(e, seconds), option.label) for e in run.events
            if isinstance(e, DecisionRecorded) and e.trainee_id == trainee
            and e.seq not in retracted and (option := profile.force_option(e.action))
            is not None and option.counts_as_force]
        forces += [(s.at_s, f"shot, {s.device}") for s in shots if s.trainee_id == trainee]
        first = min(forces, default=None)
        before = float("inf") if first is None else first[0]
        found.append(BeforeForce(
            trainee, first[0] if first else None, first[1] if first else None,
            tuple(d for d in decisions if d.trainee_id == trainee and d.at_s < before),
            tuple(h for h in heard if _yours(h, trainee) and h.at_s < before)))
    return found


def has_speech(run: ReviewedRun) -> bool:
    """Whether the run was listened to for phrases, or any was heard (old runs were not)."""
    return any(isinstance(e, VerbalCommandHeard)
               or (isinstance(e, RecordingStarted) and e.speech) for e in run.events)


HEARD_COLUMNS = ("#", "Time", "Trainee", "Tactic", "Phrase", "Confidence", "Cue",
                 "Latency (ms)", "Confirmed")
FIRST_COLUMNS = ("Cue", "Shown", "Trainee", "First heard after (s)", "Heard",
                 "First confirmed after (s)", "Confirmed")


def heard_table(heard: Sequence[HeardCommand], people: People) -> Table:
    """The phrases heard, one row each (trainees by ``people``)."""
    return HEARD_COLUMNS, [
        (str(i), clock_text(h.at_s), people.name(h.confirmed_for or h.trainee_id) or "-",
         h.label, h.phrase,
         f"{h.confidence:.0%}", h.cue_id or "-",
         f"{h.latency_ms:.0f}" if h.latency_ms is not None else "-",
         "yes" if h.confirmed else "no")
        for i, h in enumerate(heard, start=1)]


def first_table(rows: Iterable[FirstCommand], people: People) -> Table:
    """Time from each scored cue to the first verbal command, heard and confirmed."""
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    return FIRST_COLUMNS, [
        (r.cue_id, clock_text(r.cue_at_s), people.name(r.trainee_id) or "-",
         seconds(r.heard_after_s), r.heard_tactic or "-", seconds(r.confirmed_after_s),
         r.confirmed_tactic or "-")
        for r in rows]
