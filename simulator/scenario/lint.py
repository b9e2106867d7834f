"""Checks a scenario as a graph, and against the agency's vocabularies, before anyone plays it.

Validation (pydantic) says a file is well formed; lint says it makes a playable,
scoreable encounter: every segment reachable, every run able to end, every decision point
with a default, every cue inside its segment and naming a declared person, every term
from the agency's vocabulary. Errors stop a scenario from being run; warnings do not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import networkx as nx

from media_index.probe import ProbeError
from media_index.sidecar import SETTING_VALUES
from simulator.agency import AgencyProfile
from simulator.documents import Problem
from simulator.paths import standins_dir
from simulator.scenario.fast_yaml import locations_of
from simulator.scenario.model import Scenario, Segment, Variant

# The cue kind that says a subject stopped being a threat (dropped the weapon, fell,
# surrendered): shots after it are counted apart. It marks a moment and asks for no
# response, so the runtime attributes no input to it and never scores it.
THREAT_ENDED = "threat_ended"

# Who may speak in a segment's lines besides the declared people.
SPEAKERS = frozenset({"officer", "narrator"})


@dataclass(frozen=True)
class LintReport:
    """What lint found; ``ok`` when there is no error (warnings allowed)."""

    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        """Problems that stop the scenario from being run."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth fixing that do not stop a run."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing stops the scenario from being run."""
        return not self.errors

    def located(self, text: str) -> LintReport:
        """The same report with each problem's line and column from the scenario's text.

        Only the fields the problems name are looked for: a clean report costs nothing.
        """
        if not self.problems:
            return self
        paths = [_parse_field(problem.field) for problem in self.problems]
        try:
            locations = locations_of(text, paths)
        except Exception:
            return self
        out = []
        for problem, path in zip(self.problems, paths, strict=True):
            for end in range(len(path), -1, -1):
                found = locations.get(path[:end])
                if found:
                    problem = replace(problem, line=found[0], column=found[1])
                    break
            out.append(problem)
        return LintReport(tuple(out))


def scenario_graph(scenario: Scenario) -> nx.DiGraph:
    """Segments as nodes, branches as edges (to known segments only)."""
    graph = nx.DiGraph()
    known = {s.id for s in scenario.segments}
    for segment in scenario.segments:
        graph.add_node(segment.id, outcome=segment.outcome is not None)
        if segment.decision:
            for branch in segment.decision.branches:
                if branch.to in known:
                    graph.add_edge(segment.id, branch.to, branch=branch.id)
    return graph


class ClipFacts(Protocol):
    """What the media index knows of who a clip file shows."""

    @property
    def people(self) -> dict[str, dict[str, list[str]]]:
        """Demographics of the people tagged in the clip, by person id."""
        ...

    @property
    def tag_problem(self) -> str | None:
        """Why the clip's sidecar could not be used, if it could not."""
        ...


class MediaCheck(Protocol):
    """How lint finds a variant's clip files and what the media index says of them."""

    def path(self, variant_id: str, clip_id: str) -> Path | None:
        """The file a variant plays for a clip."""
        ...

    def facts(self, path: Path) -> ClipFacts | None:
        """The index's entry for ``path``; None when the file was never indexed."""
        ...

    def duration(self, path: Path) -> float:
        """Seconds of video in the file as it is now, indexed or not.

        Raises:
            ProbeError: the file cannot be read as video.
        """
        ...


# A probed duration can fall short of the end of the last frame by a frame's rounding.
DURATION_SLACK_S = 0.05


def clip_too_short(segment: Segment, index: int, duration_s: float) -> str | None:
    """What a clip of ``duration_s`` lacks for ``segments[index]``, and the fix; None if nothing.

    It reads after the clip's name: "lasts 5s, but segment `talk` needs it to 9s ...".
    """
    past = [need for need in segment.clip_needs()
            if need.clip_s > duration_s + DURATION_SLACK_S]
    if not past:
        return None
    worst = max(past, key=lambda need: need.clip_s)
    message = (f"lasts {_seconds(duration_s)}, but segment `{segment.id}` needs it to "
               f"{_seconds(worst.clip_s)} ({worst.what}, segments[{index}].{worst.field})")
    if also := [need for need in past if need is not worst]:
        message += "; also past the clip's end: " + ", ".join(
            f"{need.what} ({_seconds(need.clip_s)})" for need in also)
    if any(need.field == "in" for need in past):
        fix = (f"move segment `{segment.id}` (`in` and `out`) into the clip's "
               f"{_seconds(duration_s)}")
    else:
        fix = f"give segment `{segment.id}` an `out` of at most {_seconds(duration_s)}"
    return f"{message}; {fix}, or use a clip at least {_seconds(worst.clip_s)} long"


def _seconds(value: float) -> str:
    return f"{round(value, 3):g}s"


def lint(
    scenario: Scenario,
    profile: AgencyProfile,
    *,
    source: str = "<scenario>",
    media: MediaCheck | None = None,
) -> LintReport:
    """Every problem lint finds in ``scenario``; with ``media``, problems with its clips too."""
    checker = _Checker(scenario, profile, source)
    checker.graph_checks()
    checker.segment_checks()
    checker.vocabulary_checks()
    checker.variant_checks()
    if media is not None:
        checker.media_checks(media)
    return LintReport(tuple(checker.problems))


class _Checker:
    def __init__(self, scenario: Scenario, profile: AgencyProfile, source: str) -> None:
        self.scenario = scenario
        self.profile = profile
        self.source = source
        self.problems: list[Problem] = []
        self.index = {s.id: i for i, s in enumerate(scenario.segments)}
        self.declared = {p.id for p in scenario.people}
        self.force_ids = {o.id for o in profile.force_options}
        self.speakers = self.declared | SPEAKERS
        self._segment_names: str | None = None
        self._people_names: str | None = None

    @property
    def segment_names(self) -> str:
        """The segments, for a message; sorted once, however many problems name them."""
        if self._segment_names is None:
            self._segment_names = _some(self.index)
        return self._segment_names

    @property
    def people_names(self) -> str:
        """The declared people, for a message; sorted once."""
        if self._people_names is None:
            self._people_names = _some(self.declared)
        return self._people_names

    def add(self, code: str, field: str, message: str, *, warning: bool = False) -> None:
        self.problems.append(Problem(message, self.source, field=field, code=code,
                                     severity="warning" if warning else "error"))

    def graph_checks(self) -> None:
        scenario = self.scenario
        if scenario.start not in self.index:
            self.add("unknown-start", "start",
                     f"start segment `{scenario.start}` does not exist; "
                     f"segments are: {self.segment_names}")
            return
        graph = scenario_graph(scenario)
        reachable = nx.descendants(graph, scenario.start) | {scenario.start}
        for segment_id, i in self.index.items():
            if segment_id not in reachable:
                self.add("unreachable", f"segments[{i}]",
                         f"segment `{segment_id}` cannot be reached from the start "
                         f"`{scenario.start}`; add a branch to it or remove it", warning=True)
        outcomes = {s.id for s in scenario.segments if s.outcome is not None}
        if not outcomes:
            self.add("no-outcome", "segments",
                     "no segment has an `outcome`, so no run can ever end; give the final "
                     "segments an outcome")
            return
        # One reverse search from all outcomes at once, via a sink every outcome leads to.
        sink = object()
        graph.add_edges_from((outcome, sink) for outcome in outcomes)
        can_end = nx.ancestors(graph, sink) - {sink}
        graph.remove_node(sink)
        trapped = reachable - can_end
        # A trapped strongly connected component is a loop with no branch out of it; a
        # trapped single node is a dead end. Report each trap once, at its first segment.
        condensed = nx.condensation(graph.subgraph(trapped))
        for component in condensed.nodes:
            members = sorted(condensed.nodes[component]["members"], key=self.index.__getitem__)
            if condensed.out_degree(component):
                continue
            first = members[0]
            if len(members) > 1 or graph.has_edge(first, first):
                self.add("cycle-without-exit", f"segments[{self.index[first]}]",
                         f"segments {', '.join(members)} loop with no branch leading to an "
                         "outcome; add a branch out of the loop")
            else:
                self.add("dead-end", f"segments[{self.index[first]}]",
                         f"segment `{first}` is a dead end: none of its branches leads to a "
                         "segment that can end the run")

    def segment_checks(self) -> None:
        for i, segment in enumerate(self.scenario.segments):
            self._cues(i, segment)
            self._hit_zones(i, segment)
            decision = segment.decision
            if decision is None:
                continue
            where = f"segments[{i}].decision"
            branch_ids = [b.id for b in decision.branches]
            hotkeys = [b.hotkey for b in decision.branches]
            for label, values in (("branch id", branch_ids), ("hotkey", hotkeys)):
                for repeated in sorted(v for v, n in Counter(values).items() if n > 1):
                    self.add(f"duplicate-{label.split()[-1]}", f"{where}.branches",
                             f"{label} `{repeated}` is used by more than one branch here; "
                             f"each branch needs its own")
            for j, branch in enumerate(decision.branches):
                if branch.to not in self.index:
                    self.add("unknown-target", f"{where}.branches[{j}].to",
                             f"branch `{branch.id}` leads to segment `{branch.to}`, which does "
                             f"not exist; segments are: {self.segment_names}")
            if decision.default is None:
                self.add("no-default", f"{where}.default",
                         "decision point has no `default` branch: say what happens if the "
                         f"instructor makes no choice in time (one of: {', '.join(branch_ids)})")
            elif decision.default not in branch_ids:
                self.add("unknown-default", f"{where}.default",
                         f"default `{decision.default}` is not a branch here; "
                         f"choose one of: {', '.join(branch_ids)}")
            waiting = decision.while_waiting
            if waiting.mode == "loop" and waiting.end > segment.duration + 1e-9:
                self.add("loop-outside-segment", f"{where}.while_waiting",
                         f"loop ends at {waiting.end}s but the segment lasts "
                         f"{segment.duration:g}s")

    def _cues(self, i: int, segment: Segment) -> None:
        declared, speakers, force_ids = self.declared, self.speakers, self.force_ids
        for j, line in enumerate(segment.lines):
            where = f"segments[{i}].lines[{j}]"
            if line.at > segment.duration + 1e-9:
                self.add("line-outside-segment", f"{where}.at",
                         f"line at {line.at:g}s is past the end of segment `{segment.id}` "
                         f"({segment.duration:g}s)")
            if line.who not in speakers:
                self.add("undeclared-person", f"{where}.who",
                         f"`{line.who}` is not declared under `people` (nor one of "
                         f"{', '.join(sorted(SPEAKERS))})")
        for j, cue in enumerate(segment.cues):
            where = f"segments[{i}].cues[{j}]"
            if cue.at > segment.duration + 1e-9:
                self.add("cue-outside-segment", f"{where}.at",
                         f"cue `{cue.id}` is at {cue.at:g}s but segment `{segment.id}` lasts "
                         f"{segment.duration:g}s (in {segment.in_point:g}, out "
                         f"{segment.out_point:g}); cue times count from the segment's start")
            if cue.person is not None and cue.person not in declared:
                self.add("undeclared-person", f"{where}.person",
                         f"cue `{cue.id}` names person `{cue.person}`, who is not declared "
                         f"under `people`; declared: {self.people_names}")
            for option in cue.reasonable_options:
                if option not in force_ids:
                    self.add("unknown-vocabulary", f"{where}.reasonable_options",
                             f"`{option}` is not a force option; options are: "
                             f"{', '.join(sorted(force_ids))}")
            counted = [o for o in cue.reasonable_options
                       if (fo := self.profile.force_option(o)) and fo.counts_as_force]
            if cue.force_justified is False and counted:
                self.add("truth-contradiction", f"{where}.reasonable_options",
                         f"cue `{cue.id}` says force is not justified but lists force options "
                         f"as reasonable: {', '.join(counted)}")
            if cue.force_justified is True and not counted:
                self.add("truth-incomplete", f"{where}.reasonable_options",
                         f"cue `{cue.id}` says force is justified; list the force options "
                         "that are reasonable here", warning=True)
            if cue.kind == THREAT_ENDED and cue.force_justified is not None:
                self.add("marker-with-truth", f"{where}.force_justified",
                         f"cue `{cue.id}` is a `{THREAT_ENDED}` cue: it marks when a threat "
                         "stopped and is never scored or responded to, so its "
                         "`force_justified` and `reasonable_options` are ignored; remove them, "
                         "or put the ground truth on a cue of its own", warning=True)

    def _hit_zones(self, i: int, segment: Segment) -> None:
        seen: Counter[tuple[str, str]] = Counter()
        for j, zone in enumerate(segment.hit_zones):
            where = f"segments[{i}].hit_zones[{j}]"
            name = f"hit zone `{zone.person}` {zone.zone}"
            seen[zone.person, zone.zone] += 1
            if seen[zone.person, zone.zone] == 2:
                self.add("duplicate-zone", where,
                         f"{name} is given more than once in segment `{segment.id}`, so a "
                         "shot in either box counts; merge their keys into one zone",
                         warning=True)
            if zone.person not in self.declared:
                self.add("undeclared-person", f"{where}.person",
                         f"{name} names person `{zone.person}`, who is not declared under "
                         f"`people`; declared: {self.people_names}")
            previous: float | None = None
            for k, key in enumerate(zone.keys):
                at = f"{where}.keys[{k}]"
                if previous is not None and key.at <= previous:
                    self.add("zone-keys-unordered", f"{at}.at",
                             f"{name}: key at {key.at:g}s comes after one at {previous:g}s; "
                             "give the keys in ascending time, each at its own time")
                previous = key.at
                if key.at > segment.duration + 1e-9:
                    self.add("zone-outside-segment", f"{at}.at",
                             f"{name}: key at {key.at:g}s is past the end of segment "
                             f"`{segment.id}` ({segment.duration:g}s); key times count from "
                             "the segment's start")
                if key.box is not None and (problem := _box_problem(key.box)):
                    self.add("zone-outside-picture", f"{at}.box",
                             f"{name}: box at {key.at:g}s {problem}; a box is [x, y, width, "
                             "height] as fractions of the picture from its top-left corner")

    def vocabulary_checks(self) -> None:
        p, s = self.profile, self.scenario
        checks: list[tuple[str, str, dict[str, str]]] = [
            *((f"focus_areas[{k}]", v, p.focus_areas) for k, v in enumerate(s.focus_areas)),
            *((f"pledge_areas[{k}]", v, p.pledge_areas) for k, v in enumerate(s.pledge_areas)),
            *((f"people[{k}].role", v.role, p.person_roles) for k, v in enumerate(s.people)),
        ]
        for i, segment in enumerate(s.segments):
            checks += [(f"segments[{i}].cues[{j}].kind", c.kind, p.cue_kinds)
                       for j, c in enumerate(segment.cues)]
            checks += [(f"segments[{i}].hit_zones[{j}].zone", z.zone, p.hit_zones)
                       for j, z in enumerate(segment.hit_zones)]
            if segment.outcome:
                checks.append((f"segments[{i}].outcome.kind", segment.outcome.kind,
                               p.outcome_kinds))
        for key, value in s.setting.items():
            allowed = SETTING_VALUES.get(key, frozenset())
            if key not in SETTING_VALUES:
                self.add("unknown-vocabulary", f"setting.{key}",
                         f"`{key}` is not a setting tag; tags are: {', '.join(SETTING_VALUES)}")
            elif allowed is not None and value not in allowed:
                self.add("unknown-vocabulary", f"setting.{key}",
                         f"`{value}` is not a value of `{key}`; values are: "
                         f"{', '.join(sorted(allowed))}")
        for field, value, vocabulary in checks:
            if value not in vocabulary:
                self.add("unknown-vocabulary", field,
                         f"`{value}` is not in the vocabulary; known: {', '.join(vocabulary)} "
                         "(an agency adds terms in its profile)")

    def variant_checks(self) -> None:
        s, p = self.scenario, self.profile
        declared = [person.id for person in s.people]
        clips_used = {seg.clip for seg in s.segments}
        for i, variant in enumerate(s.variants):
            where = f"variants[{i}]"
            for person_id in declared:
                if person_id not in variant.people:
                    self.add("variant-missing-person", f"{where}.people",
                             f"variant `{variant.id}` does not describe person `{person_id}`; "
                             "every variant gives the demographics of every person shown")
            for person_id, attributes in variant.people.items():
                if person_id not in self.declared:
                    self.add("undeclared-person", f"{where}.people.{person_id}",
                             f"variant `{variant.id}` describes `{person_id}`, who is not "
                             f"declared under `people`; declared: {self.people_names}")
                for attribute, raw in attributes.items():
                    self._demographic(f"{where}.people.{person_id}.{attribute}", attribute, raw)
                missing = [a for a in p.demographics if a not in attributes]
                if missing:
                    self.add("demographics-incomplete", f"{where}.people.{person_id}",
                             f"`{person_id}` in variant `{variant.id}` has no "
                             f"{', '.join(missing)}; the audit cannot group by an attribute "
                             "that is not recorded", warning=True)
            for clip in sorted(clips_used - set(variant.clips)):
                self.add("variant-missing-clip", f"{where}.clips",
                         f"variant `{variant.id}` gives no file for clip `{clip}`")

    def media_checks(self, media: MediaCheck) -> None:
        showing: dict[str, list[tuple[int, Segment]]] = {}
        for j, segment in enumerate(self.scenario.segments):
            showing.setdefault(segment.clip, []).append((j, segment))
        for i, variant in enumerate(self.scenario.variants):
            for clip_id in sorted(variant.clips):
                where = f"variants[{i}].clips.{clip_id}"
                path = media.path(variant.id, clip_id)
                if path is None or not path.is_file():
                    self.add("clip-missing", where,
                             f"clip `{clip_id}` of variant `{variant.id}` is not on disk, "
                             "or is a link to a file outside the scenario's folder or the "
                             f"media roots (looked for {path or variant.clips[clip_id]})")
                    continue
                facts = media.facts(path)
                # Generated stand-ins need no entry: their scenario is the truth about who
                # they show, and an agency's record should not be told to index them.
                if facts is None and not path.is_relative_to(standins_dir()):
                    self.add("clip-not-indexed", where,
                             f"{path} is not in the media index; run `branchpoint media index "
                             f"{path.parent}`", warning=True)
                try:
                    duration = media.duration(path)
                except ProbeError as exc:
                    self.add("clip-unreadable", where, f"{path}: {exc.reason}")
                    continue
                for j, segment in showing.get(clip_id, []):
                    if (short := clip_too_short(segment, j, duration)) is not None:
                        self.add("clip-too-short", where, f"{path} {short}")
                if facts is None:
                    continue
                if facts.tag_problem:
                    self.add("clip-tags-invalid", where, facts.tag_problem, warning=True)
                self._tags_agree(where, variant, facts)

    def _tags_agree(self, where: str, variant: Variant, facts: ClipFacts) -> None:
        for person_id, tagged in sorted(facts.people.items()):
            if person_id not in variant.people:
                self.add("clip-tags-disagree", where,
                         f"the clip's tags show `{person_id}`, whom variant `{variant.id}` "
                         "does not describe", warning=True)
                continue
            declared = variant.demographics_of(person_id)
            for attribute in sorted(set(tagged) & set(declared)):
                if sorted(tagged[attribute]) != sorted(declared[attribute]):
                    self.add("clip-tags-disagree", where,
                             f"the clip's tags say `{person_id}` {attribute} is "
                             f"{'+'.join(sorted(tagged[attribute]))}, the variant says "
                             f"{'+'.join(sorted(declared[attribute]))}; runs record the "
                             "variant's, so fix whichever is wrong", warning=True)

    def _demographic(self, field: str, attribute: str, raw: str | list[str]) -> None:
        spec = self.profile.demographics.get(attribute)
        if spec is None:
            self.add("unknown-vocabulary", field,
                     f"`{attribute}` is not a demographic attribute; attributes are: "
                     f"{', '.join(self.profile.demographics)}")
            return
        values = [raw] if isinstance(raw, str) else raw
        if len(values) > 1 and not spec.multiple:
            self.add("single-valued", field,
                     f"`{attribute}` takes one value, not {len(values)}")
        for value in values:
            if value not in spec.values:
                self.add("unknown-vocabulary", field,
                         f"`{value}` is not a value of `{attribute}`; values are: "
                         f"{', '.join(spec.values)}")


def _box_problem(box: tuple[float, float, float, float]) -> str | None:
    """What is wrong with a hit zone's box, or None when it lies within the picture."""
    x, y, width, height = box
    if width <= 0 or height <= 0:
        return f"has a width of {width:g} and a height of {height:g}; both must be above 0"
    # A little slack, so that a box drawn to the picture's edge is not refused for rounding.
    if x < 0 or y < 0 or x + width > 1 + 1e-9 or y + height > 1 + 1e-9:
        return (f"reaches outside the picture (x {x:g} to {x + width:g}, y {y:g} to "
                f"{y + height:g}; each must lie within 0 to 1)")
    return None


def _some(ids: Iterable[str]) -> str:
    names = sorted(ids)
    shown = ", ".join(names[:12])
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "") if names else "none"


def _parse_field(field: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for chunk in field.replace("]", "").split("."):
        name, *indexes = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes)
    return tuple(parts)

