"""A run's shots for the debrief: where each landed, on whom, and when, per trainee.

Shots come from laser training weapons seen by the range's camera (`FiredShot`, in the
timeline). Each is placed as the range scored it: a hit on the threat, a hit on someone
shown who was not the threat, or a miss; a shot fired after the threat ended (the subject
dropped the weapon, fell, surrendered) is counted apart as well, as trainers and courts do.
A record made before shots were scored has shots with no placement: "not scored".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.protocol.events import Placement
from simulator.review.describe import PLACEMENT_WORDS
from simulator.review.load import ReviewedRun
from simulator.review.timeline import FiredShot, Timeline, clock_text

# Colour and shape by placement, the same in every figure and in the replay.
PLACEMENT_COLOURS: Mapping[Placement | None, str] = {
    "threat": "#1f5fa8", "non_threat": "#c0392b", "miss": "#7f8c8d", None: "#1b1b1b"}
AFTER_THREAT_COLOUR = "#e67e22"
_SHAPES: Mapping[Placement | None, str] = {"threat": "o", "non_threat": "X", "miss": "s",
                                           None: "D"}
PICTURE_ASPECT = 9 / 16  # the projected picture, height over width
FIGURE_SIZE = (5.2, 2.1)  # inches: the picture, with the legend beside it


def shot_rows(run: ReviewedRun) -> list[FiredShot]:
    """The run's shots in the order they were fired, with placement, timing and person.

    The person's role is the scenario's (``subject``, ``bystander``...), where it names the
    person the shot landed on.
    """
    return list(run.timeline().fired)


@dataclass(frozen=True)
class ShotCounts:
    """How a set of shots landed."""

    shots: int
    threat_hits: int
    non_threat_hits: int
    misses: int
    after_threat_ended: int

    @classmethod
    def of(cls, shots: Iterable[FiredShot]) -> ShotCounts:
        """The counts of ``shots``; unscored ones count as shots only."""
        shots = list(shots)
        return cls(shots=len(shots),
                   threat_hits=sum(s.placement == "threat" for s in shots),
                   non_threat_hits=sum(s.placement == "non_threat" for s in shots),
                   misses=sum(s.placement == "miss" for s in shots),
                   after_threat_ended=sum(s.after_threat_ended for s in shots))

    def describe(self) -> str:
        """The counts in a sentence, e.g. ``4 shots: 2 hits on the threat, 1 ...``."""
        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        return (f"{n(self.shots, 'shot', 'shots')}: "
                f"{n(self.threat_hits, 'hit on the threat', 'hits on the threat')}, "
                f"{n(self.non_threat_hits, 'hit on a non-threat', 'hits on a non-threat')}, "
                f"{n(self.misses, 'miss', 'misses')}; "
                f"{self.after_threat_ended} after the threat ended.")


def by_trainee(shots: Iterable[FiredShot]) -> dict[str | None, list[FiredShot]]:
    """Shots per trainee, in the order each trainee first fired."""
    found: dict[str | None, list[FiredShot]] = {}
    for shot in shots:
        found.setdefault(shot.trainee_id, []).append(shot)
    return found


SHOT_COLUMNS = ("#", "Time", "Weapon", "Placement", "On", "Zone", "Cue", "Latency (ms)",
                "Into segment (s)", "After the threat ended")


def shot_table_rows(shots: Sequence[FiredShot]) -> list[tuple[str, ...]]:
    """One row per shot under `SHOT_COLUMNS`, numbered as `shot_figure` numbers them."""
    def on(shot: FiredShot) -> str:
        if shot.person_id is None:
            return "-"
        role = shot.person_role
        return f"{shot.person_id} ({role})" if role and role != shot.person_id \
            else shot.person_id

    return [(str(i), clock_text(s.at_s), s.device, PLACEMENT_WORDS[s.placement], on(s),
             s.zone or "-", s.cue_id or "-",
             f"{s.latency_ms:.0f}" if s.latency_ms is not None else "-",
             f"{s.into_segment_s:.2f}" if s.into_segment_s is not None else "-",
             "yes" if s.after_threat_ended else "no")
            for i, s in enumerate(shots, start=1)]


def shot_figure(shots: Sequence[FiredShot]) -> Any:
    """Where ``shots`` landed on the picture: a 16:9 frame, a point per shot by placement.

    Points are numbered as the table's rows; a ring marks a shot after the threat ended.
    Only numbers and fixed words are drawn, never a name from the record.
    """
    from matplotlib.lines import Line2D

    from simulator.review.layout import new_figure

    figure = new_figure(*FIGURE_SIZE)
    # The key has an axes of its own, so every figure keeps the same picture size.
    axes, key = figure.subplots(1, 2, gridspec_kw={"width_ratios": (3.0, 1.4)})
    axes.set_xlim(0, 1)
    axes.set_ylim(1, 0)  # y runs down the picture, as the camera reports it
    axes.set_aspect(PICTURE_ASPECT)
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_color("#2c3e50")
        spine.set_linewidth(1.2)
    axes.set_facecolor("#f4f6f8")
    axes.set_xlabel("the projected picture (16:9)", fontsize=6, color="#555555")
    placed = [(i, s) for i, s in enumerate(shots, start=1) if s.x is not None
              and s.y is not None]
    for placement in PLACEMENT_WORDS:
        mine = [s for _, s in placed if s.placement == placement]
        if mine:
            axes.scatter([s.x for s in mine], [s.y for s in mine], s=40,
                         color=PLACEMENT_COLOURS[placement], marker=_SHAPES[placement],
                         zorder=3, clip_on=False)
    after = [s for _, s in placed if s.after_threat_ended]
    if after:
        axes.scatter([s.x for s in after], [s.y for s in after], s=150, facecolors="none",
                     edgecolors=AFTER_THREAT_COLOUR, linewidths=1.6, zorder=4, clip_on=False)
    for i, shot in placed:
        axes.annotate(str(i), (shot.x, shot.y), xytext=(5, 4), textcoords="offset points",
                      fontsize=6, color="#1b1b1b", zorder=5)
    # The same key on every figure, so figures side by side read alike; "not scored" only
    # where a shot was not.
    shown = [p for p in PLACEMENT_WORDS if p is not None
             or any(s.placement is None for _, s in placed)]
    handles = [Line2D([], [], linestyle="none", marker=_SHAPES[p], markersize=6,
                      color=PLACEMENT_COLOURS[p]) for p in shown]
    handles.append(Line2D([], [], linestyle="none", marker="o", markersize=10,
                          markerfacecolor="none", markeredgecolor=AFTER_THREAT_COLOUR,
                          markeredgewidth=1.6))
    key.axis("off")
    key.legend(handles, [PLACEMENT_WORDS[p].capitalize() for p in shown]
               + ["After the threat ended"], loc="center left", fontsize=7, frameon=False)
    return figure


SHOWN_S = 1.0  # how long the replay shows a shot where it landed


def shots_on_screen(timeline: Timeline, at_s: float, shown_s: float = SHOWN_S
                    ) -> tuple[FiredShot, ...]:
    """The shots a replay shows at ``at_s``: fired in the ``shown_s`` before, on the picture.

    A shot stays where it landed for ``shown_s``, and only while the segment it landed on
    is on screen; one without a place on the picture is not shown.
    """
    on_screen = timeline.shot_at(at_s)
    if on_screen is None:
        return ()
    return tuple(s for s in timeline.fired
                 if s.at_s <= at_s < s.at_s + shown_s and s.x is not None and s.y is not None
                 and s.segment_id in (None, on_screen.segment_id))
