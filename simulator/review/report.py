"""The after-action report of a session's runs, as HTML and as PDF, from one set of content.

Each run gets its facts (scenario, variant and who it portrays, people, player, outcome),
its timeline drawn as a figure, its decisions with latencies, its shots per trainee (where
they landed and on whom), its verbal commands where the run was listened to (the phrases
heard, how soon after each cue, and what was said before any force), its flags with their
notes, and its rubric scores with the raters' agreement. Both formats are built from the
same `RunReport`, so they say the same things.

Where the trainee was recorded and the report is made with the recording, each decision has a
still of the trainee at its moment, and the report names the recording exported beside it
(or says it was erased). The stills come in as JPEG data: this module reads no files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulator.agency import AgencyProfile
from simulator.catalog import VariantSummary
from simulator.protocol import DecisionRecorded, FlagRaised, RunRecovered, RunStarted
from simulator.protocol.events import Placement
from simulator.record.scores import Score
from simulator.review.describe import PLACEMENT_WORDS, player_text
from simulator.review.layout import (
    Block,
    Cell,
    Figure,
    Grid,
    Heading,
    Link,
    Table,
    Text,
    Together,
    as_html_page,
    as_pdf_document,
    new_figure,
    png,
)
from simulator.review.load import ReviewedRun
from simulator.review.people import People
from simulator.review.rubric import Rubric
from simulator.review.scoring import agreement, rater_levels
from simulator.review.shots import (
    AFTER_THREAT_COLOUR,
    FIGURE_SIZE,
    PLACEMENT_COLOURS,
    SHOT_COLUMNS,
    ShotCounts,
    by_trainee,
    shot_figure,
    shot_table_rows,
)
from simulator.review.timeline import Marker, Timeline, clock_text
from simulator.review.verbal import (
    before_force,
    first_commands,
    first_table,
    has_speech,
    heard_commands,
    heard_table,
)

_SHOT_SHAPES: tuple[tuple[Placement, str], ...] = (("threat", "o"), ("non_threat", "X"),
                                                   ("miss", "s"))
# Marker kinds drawn on the figure: the row each is on, its colour and shape, and what the
# legend calls it. "force" is a decision that used force, drawn apart from the others.
_DRAWN = (("cue", "Cues", "#d35400", "o", "Cue"),
          ("input", "Trainee inputs", "#8e44ad", "o", "Trainee input"),
          ("heard", "Trainee inputs", "#16a085", "s", "Phrase heard, not confirmed"),
          ("heard_confirmed", "Trainee inputs", "#0b5345", "s",
           "Phrase heard, confirmed by the instructor"),
          *((f"shot_{p}", "Shots", PLACEMENT_COLOURS[p], shape, f"Shot: {PLACEMENT_WORDS[p]}")
            for p, shape in _SHOT_SHAPES),
          ("shot", "Shots", PLACEMENT_COLOURS[None], "D", f"Shot ({PLACEMENT_WORDS[None]})"),
          ("decision", "Decisions", "#1f5fa8", "o", "Decision"),
          ("force", "Decisions", "#1b1b1b", "^", "Decision using force"),
          ("choice", "Branches", "#2c3e50", "o", "Branch taken by the instructor"),
          ("default", "Branches", "#7f8c8d", "x", "Default branch (time ran out)"),
          ("flag", "Flags", "#c0392b", "o", "Flag"))
_TIMELINE_SIZE = (9.0, 3.3)  # inches
_LEGEND_COLUMNS = 4
# Room for one character of a segment's title on the figure, as a share of its width.
_CHARACTER = 1 / 160
# A still's share of the page's width: about its own size on a screen, 5 cm on paper.
_STILL_WIDTH = 0.3


@dataclass(frozen=True)
class TraineeShots:
    """One trainee's shots in a run: the table, the counts in words, and where they landed."""

    trainee: str
    table: Table
    counts: str
    figure: Any


@dataclass(frozen=True)
class VerbalCommands:
    """A run's verbal commands: the phrases heard, and the figures in words and tables.

    ``first`` is the time from each scored cue to the first command; ``before_force`` a
    sentence per trainee on the commands before their first force.
    """

    summary: str
    heard: Table
    first: Table
    before_force: list[str]


@dataclass(frozen=True)
class Still:
    """A picture of the trainee from their recording: a JPEG of ``width`` x ``height`` pixels."""

    jpeg: bytes
    width: int
    height: int


@dataclass(frozen=True)
class RecordingLink:
    """What the report says of a run's trainee recording (a run not recorded has none).

    ``files``: exported beside the report under these names (several for a run recovered
    after a crash: one per time base). Else it was erased at ``erased_utc``, or, with
    neither, its files are not held here (a record restored without them).
    """

    files: tuple[str, ...] = ()
    erased_utc: datetime | None = None

    def describe(self) -> Cell:
        """The recording in words, as the report's facts give it: each file linked.

        Raises:
            ValueError: a file's name is not a plain file name (see `Link`).
        """
        if self.files:
            # The names linked, with a comma between each two.
            links = [part for name in self.files for part in (", ", Link(name, name))][1:]
            return (*links, ": exported beside this report" + (
                " (one file per stretch of the run, split by a crash)"
                if len(self.files) > 1 else ""))
        if self.erased_utc is not None:
            return f"recording erased on {self.erased_utc:%d %B %Y}"
        return "recording not held here: the record was restored without its files"


@dataclass(frozen=True)
class RunReport:
    """What the report says about one run, before it is laid out as HTML or PDF."""

    title: str
    facts: list[tuple[str, Cell]]
    figure: Any
    decisions: Table
    flags: Table
    shots: list[TraineeShots]
    scores: Table | None
    agreement: str | None
    score_notes: list[str]
    verbal: VerbalCommands | None = None
    # Each decision's still (numbered as the decisions table's "Still" column), its caption.
    stills: list[tuple[str, Still]] = field(default_factory=list)
    recording: RecordingLink | None = None


def _action(profile: AgencyProfile, action: str) -> str:
    option = profile.force_option(action)
    return option.label if option else profile.verbal_tactics.get(action, action)


def timeline_figure(timeline: Timeline, segment_titles: Mapping[str, str],
                    forced: Collection[int] = ()) -> Any:
    """The run's timeline as a figure, with a legend naming each kind of marker drawn.

    Segments are bands under their titles, pauses are hatched, and each kind of marker has
    its row. ``forced`` are the seqs of the decisions that used force, drawn apart.
    """
    figure = new_figure(*_TIMELINE_SIZE)
    axes = figure.add_subplot()
    duration = max(timeline.duration_s, 1.0)
    palette = ["#dfe6ee", "#c9d6e3"]
    for i, shot in enumerate(timeline.shots):
        axes.axvspan(shot.start_s, shot.end_s, color=palette[i % 2], zorder=0)
        room = int((shot.end_s - shot.start_s) / duration / _CHARACTER)
        title = segment_titles.get(shot.segment_id, shot.segment_id)
        if room >= 4:
            # Scenario text: shown as written, never read as mathtext.
            axes.text((shot.start_s + shot.end_s) / 2, 5.55,
                      textwrap.shorten(title, room, placeholder="…"), ha="center",
                      va="bottom", fontsize=6, color="#2c3e50", parse_math=False)
    rows = list(dict.fromkeys(row for _, row, *_ in _DRAWN))
    row_of = {kind: rows.index(row) for kind, row, *_ in _DRAWN}

    def kind_of(marker: Marker) -> str:
        if marker.kind == "shot" and marker.placement is not None:
            return f"shot_{marker.placement}"
        if marker.kind == "heard" and marker.confirmed:
            return "heard_confirmed"
        return "force" if marker.kind == "decision" and marker.seq in forced else marker.kind

    for kind, _, colour, shape, name in _DRAWN:
        marks = [m for m in timeline.markers if kind_of(m) == kind]
        if marks:
            axes.scatter([m.at_s for m in marks], [row_of[kind]] * len(marks), s=28,
                         color=colour, marker=shape, zorder=3, label=name)
    drawn = [m for m in timeline.markers if kind_of(m) in row_of]
    retracted = [m for m in drawn if m.retracted]
    if retracted:
        axes.scatter([m.at_s for m in retracted], [row_of[kind_of(m)] for m in retracted],
                     s=90, facecolors="none", edgecolors="#c0392b", zorder=4, label="Retracted")
    after = [m for m in drawn if m.after_threat_ended]
    if after:
        axes.scatter([m.at_s for m in after], [row_of[kind_of(m)] for m in after], s=90,
                     facecolors="none", edgecolors=AFTER_THREAT_COLOUR, linewidths=1.4,
                     zorder=4, label="Shot after the threat ended")
    timed = [m for m in drawn if m.kind == "decision" and m.latency_ms is not None]
    for m in timed:
        axes.annotate(f"{m.latency_ms:.0f} ms", (m.at_s, row_of["decision"]), xytext=(0, 6),
                      textcoords="offset points", ha="center", fontsize=6)
    pauses = [p for shot in timeline.shots for p in shot.pauses]
    for i, (start, end) in enumerate(pauses):
        axes.axvspan(start, end, color="#000000", alpha=0.12, hatch="//", zorder=1,
                     label="Paused" if i == 0 else None)
    axes.set_yticks(range(len(rows)), rows, fontsize=7)
    axes.set_ylim(-0.7, 6.1)
    axes.set_xlim(0, duration)
    axes.set_xlabel("seconds into the run" + (
        "; by a decision, its latency from the cue" if timed else ""), fontsize=7)
    axes.tick_params(axis="x", labelsize=7)
    axes.spines[["top", "right"]].set_visible(False)
    handles, names = axes.get_legend_handles_labels()
    if handles:
        # A legend fills column by column; in this order it reads across, row by row.
        order = [i for column in range(_LEGEND_COLUMNS)
                 for i in range(column, len(handles), _LEGEND_COLUMNS)]
        axes.legend([handles[i] for i in order], [names[i] for i in order],
                    loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=_LEGEND_COLUMNS,
                    fontsize=7, frameon=False)
    return figure


def still_moments(run: ReviewedRun) -> dict[int, tuple[int, int]]:
    """The moments a report shows the trainee at: each decision's seq, ``(base_seq, t_ns)``.

    A decision's moment is the trainee's input (a device's stamp, the start of a phrase the
    instructor confirmed), else when it arrived. ``base_seq`` is the run_started or
    run_recovered event that began its time base: the pair is what
    `simulator.recording.reader.RecordingReader.frame_at` is asked.
    """
    moments: dict[int, tuple[int, int]] = {}
    base = run.started.seq
    for event in run.events:
        if isinstance(event, RunStarted | RunRecovered):
            base = event.seq
        elif isinstance(event, DecisionRecorded):
            moments[event.seq] = (base, event.t_ns if event.input_ns is None
                                  else event.input_ns)
    return moments


def build_run_report(run: ReviewedRun, people: People, profile: AgencyProfile,
                     scores: Sequence[Score] = (), rubric: Rubric | None = None, *,
                     stills: Mapping[int, Still] | None = None,
                     recording: RecordingLink | None = None) -> RunReport:
    """The content of one run's part of the report (names or pseudonyms per ``people``).

    ``stills`` are pictures of the trainee by decision seq (at `still_moments`), and
    ``recording`` what became of the run's recording; a pseudonymised report must have
    neither (a face and a voice are not pseudonymous), and is refused them.

    Raises:
        ValueError: stills or a recording given for a pseudonymised report.
    """
    if people.pseudonymised and (stills or recording is not None):
        raise ValueError("a pseudonymised report never shows the trainee recording nor "
                         "stills of it: make it without them")
    stills = stills or {}
    started = run.started
    scenario = run.scenario.scenario
    labels = people.labels([*started.trainee_ids,
                            *([started.instructor_id] if started.instructor_id else [])])
    timeline = run.timeline(labels)
    variant = scenario.variant(started.variant_id)
    portrayed = VariantSummary.of(variant).describe(profile)
    outcome = next((m.label for m in timeline.markers if m.kind == "end"), "did not finish")
    facts: list[tuple[str, Cell]] = [
        ("Date", f"{started.utc:%d %B %Y, %H:%M} UTC"),
        ("Scenario", f"{scenario.title} (version {started.scenario_hash[:12]})"),
        ("Variant", f"{variant.id} ({started.variant_assignment or 'not recorded'}): "
                    f"{portrayed}"),
        ("Trainees", ", ".join(people.name(t) for t in started.trainee_ids)),
        ("Instructor", people.name(started.instructor_id) or "-"),
        ("Outcome", outcome),
        ("Length", clock_text(timeline.duration_s)),
        ("Player", player_text(started)),
        ("Kind", "training" if started.run_kind == "training" else
                 f"{started.run_kind}: not counted as training"),
        # Kept with the report, so a record rewritten later (chain recomputed and all) can
        # still be caught by comparing this with `branchpoint verify`.
        ("Record", f"{run.summary.event_count} events, head hash {run.summary.head_hash}"),
        *([("Trainee recording", recording.describe())] if recording is not None else []),
    ]
    at = {m.seq: m for m in timeline.markers}
    moments = still_moments(run) if stills else {}
    decisions: list[tuple[str, ...]] = []
    shown: list[tuple[str, Still]] = []
    for e in run.events:
        if not isinstance(e, DecisionRecorded):
            continue
        row = (clock_text(at[e.seq].at_s), people.name(e.trainee_id) or "-",
               _action(profile, e.action), e.source, e.cue_id or "-",
               f"{e.latency_ms:.0f}" if e.latency_ms is not None else "-",
               "yes" if at[e.seq].retracted else "no")
        still = stills.get(e.seq)
        if still is not None:
            # At the trainee's input, which a device stamps before the decision arrives.
            moment = clock_text(timeline.position_of(*moments[e.seq]))
            shown.append((f"Still {len(shown) + 1} at {moment}: {row[1]}, {row[2]}", still))
        decisions.append((*row, str(len(shown)) if still is not None else "-")
                         if stills else row)
    flag_rows: list[tuple[str, ...]] = []
    for event in run.events:
        if isinstance(event, FlagRaised):
            marker = next(m for m in timeline.markers if m.seq == event.seq)
            note = ("(withheld in a pseudonymised report)" if people.pseudonymised
                    else run.notes.get(event.seq, ""))
            flag_rows.append((clock_text(marker.at_s), people.name(event.trainee_id) or "-",
                              event.segment_id or "-", note,
                              "yes" if marker.retracted else "no"))
    score_table, agreed, score_notes = None, None, []
    if rubric is not None and scores:
        by_rater = rater_levels(scores, rubric)
        pairs = sorted(by_rater)
        several = len({trainee for trainee, _ in pairs}) > 1
        score_table = (("Item", *(f"{people.name(r)} on {people.name(t)}" if several
                                  else people.name(r) for t, r in pairs)),
                       [(item.label, *(by_rater[p].get(item.id, "-") for p in pairs))
                        for item in rubric.items])
        score_notes = [f"{people.name(s.rater_id)}: " + (
            "(withheld in a pseudonymised report)" if people.pseudonymised else s.note)
            for s in {s.rater_id: s for s in scores if s.note}.values() if s.note]
        found = agreement(scores, rubric)
        agreed = found.describe() if found is not None else None
    shots = [TraineeShots(people.name(trainee) or "-",
                          (SHOT_COLUMNS, shot_table_rows(theirs)),
                          ShotCounts.of(theirs).describe(), shot_figure(theirs))
             for trainee, theirs in by_trainee(timeline.fired).items()]
    titles = {s.id: s.title or s.id for s in scenario.segments}
    forced = {e.seq for e in run.events if isinstance(e, DecisionRecorded)
              and (option := profile.force_option(e.action)) is not None
              and option.counts_as_force}
    return RunReport(
        verbal=_verbal(run, people, profile) if has_speech(run) else None,
        title=f"{scenario.title}: {', '.join(people.name(t) for t in started.trainee_ids)}",
        facts=facts, figure=timeline_figure(timeline, titles, forced),
        decisions=(("Time", "Trainee", "Decision", "Source", "Cue", "Latency (ms)",
                    "Retracted", *(["Still"] if stills else [])), decisions),
        flags=(("Time", "Trainee", "Segment", "Note", "Retracted"), flag_rows), shots=shots,
        scores=score_table, agreement=agreed, score_notes=score_notes, stills=shown,
        recording=recording)


def _verbal(run: ReviewedRun, people: People, profile: AgencyProfile) -> VerbalCommands:
    heard = heard_commands(run, profile)
    confirmed = sum(h.confirmed for h in heard)
    summary = (f"{len(heard)} {'phrase' if len(heard) == 1 else 'phrases'} of the agency's "
               f"verbal tactics heard by the speech recogniser; {confirmed} confirmed by the "
               "instructor. Times are from when the trainee began to speak; a phrase heard "
               "but not confirmed is the recogniser's, not a recorded decision.")
    return VerbalCommands(
        summary, heard_table(heard, people), first_table(first_commands(run, profile), people),
        [b.describe(people.name(b.trainee_id)) for b in before_force(run, profile)])


# -- layout -------------------------------------------------------------------------------

def _blocks(reports: Sequence[RunReport]) -> list[Block]:
    blocks: list[Block] = []
    for report in reports:
        blocks += [Heading(report.title), Grid((("", ""), list(report.facts)), header=False),
                   Together((Heading("Timeline", 3), Figure(
                       png(report.figure), _TIMELINE_SIZE[1] / _TIMELINE_SIZE[0],
                       "Timeline of the run: segments, cues, inputs, decisions, branches "
                       "and flags"))),
                   Together((Heading("Decisions", 3), Grid(report.decisions)))]
        blocks += _still_blocks(report.stills)
        blocks += _shot_blocks(report.shots)
        if report.verbal is not None:
            blocks += _verbal_blocks(report.verbal)
        blocks.append(Together((Heading("Flags", 3), Grid(report.flags))))
        if report.scores is not None:
            blocks.append(Together((Heading("Rubric scores", 3), Grid(report.scores), *(
                Text(text) for text in ([report.agreement] if report.agreement else [])
                + report.score_notes))))
    return blocks


def _still_blocks(stills: Sequence[tuple[str, Still]]) -> list[Block]:
    blocks: list[Block] = []
    for i, (caption, still) in enumerate(stills):
        blocks.append(Together((
            *([Heading("The trainee at each decision", 4)] if i == 0 else []),
            Text(caption, quiet=True),
            Figure(still.jpeg, still.height / still.width,
                   f"The trainee's recording at the decision: {caption}", _STILL_WIDTH,
                   media_type="image/jpeg"))))
    return blocks


def _shot_blocks(shots: Sequence[TraineeShots]) -> list[Block]:
    blocks: list[Block] = []
    for i, theirs in enumerate(shots):
        # The section's heading stays on the page with its first trainee's shots.
        blocks += [Together((
            *([Heading("Shots", 3)] if i == 0 else []),
            Heading(f"Shots: {theirs.trainee}", 4), Text(theirs.counts),
            Figure(png(theirs.figure), FIGURE_SIZE[1] / FIGURE_SIZE[0],
                   f"Where {theirs.trainee}'s shots landed on the picture, numbered as in "
                   "the table, by placement", width=0.6))),
            Grid(theirs.table)]
    return blocks


def _verbal_blocks(verbal: VerbalCommands) -> list[Block]:
    return [Together((Heading("Verbal commands", 3), Text(verbal.summary), Grid(verbal.heard))),
            Together((Heading("Time from each cue to the first verbal command", 4),
                      Grid(verbal.first))),
            Together((Heading("Commands before force", 4),
                      *(Text(line) for line in verbal.before_force)))]


def as_html(reports: Sequence[RunReport], heading: str, generated: datetime) -> str:
    """The report as one self-contained HTML page (figures and stills embedded).

    A recording exported beside the report is linked by its file name, relative to the
    page, so the two can be moved together.
    """
    return as_html_page(heading, generated, _blocks(reports))


def as_pdf(reports: Sequence[RunReport], heading: str, generated: datetime) -> bytes:
    """The report as a PDF (A4), with the same content as the HTML."""
    return as_pdf_document(heading, generated, _blocks(reports))
