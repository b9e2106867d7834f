"""The studio's edits, as the instructor names them: each one `Change`, undone as one.

Each function reads the scenario as it stands (the editor's plain data) and returns the
steps that make the edit, so that an edit touching several places (a segment renamed,
and every branch leading to it) is one step back under Undo. Nothing here changes the tree:
`ScenarioEditor.apply` does. Paths address the YAML tree, so a field the format gains later
(people's hit zones keyed at clip times on a segment) is edited with the same steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from simulator.studio.edits import (
    Change,
    Delete,
    EditError,
    Insert,
    Rename,
    Set,
    Step,
    TreePath,
)

Data = Mapping[str, Any]

# A cue's or a branch's fields the studio writes, in the order the format documents them.
CUE_FIELDS = ("id", "at", "kind", "person", "description", "response_window",
              "force_justified", "reasonable_options")
BRANCH_FIELDS = ("id", "label", "hotkey", "kind", "to")
TOP_FIELDS = ("schema_version", "id", "title", "summary", "focus_areas", "pledge_areas",
              "setting", "people", "variants", "start", "segments")
SEGMENT_FIELDS = ("id", "title", "clip", "in", "out", "cues", "lines", "decision", "outcome",
                  "low_light")
HOTKEYS = tuple(str(key) for key in range(1, 10))
WORDS_IN_ID = 4


def new_id(wanted: str, taken: Iterable[str], *, fallback: str = "item") -> str:
    """An identifier made from ``wanted`` (lower case, ``_`` for spaces), not in ``taken``.

    ``Talks at the door`` becomes ``talks_at_the_door``, then ``talks_at_the_door_2``.
    """
    # The first words are enough to tell one from another, and stay readable in a file.
    words = re.sub(r"[^a-z0-9_-]+", "_", wanted.lower()).strip("_-").split("_")
    base = "_".join(words[:WORDS_IN_ID]).strip("_-")[:40] or fallback
    if not base[0].isalnum():
        base = f"{fallback}_{base}"
    used = set(taken)
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def _list(data: Data, key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def segments(data: Data) -> list[Mapping[str, Any]]:
    """The scenario's segments as they stand (anything not a mapping as an empty one)."""
    return [_map(s) for s in _list(data, "segments")]


def segment_ids(data: Data) -> list[str]:
    """Every segment's id, in file order (blank for a segment without one)."""
    return [str(s.get("id", "")) for s in segments(data)]


def _fields(values: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """Fields in the format's order, leaving out those not given (None)."""
    return {key: values[key] for key in order if values.get(key) is not None}


def _updates(path: TreePath, current: Mapping[str, Any], values: Mapping[str, Any],
             order: tuple[str, ...]) -> list[Step]:
    """Steps setting each of ``values`` (None deletes the field) on the mapping at ``path``."""
    steps: list[Step] = []
    for key, value in values.items():
        if value is None:
            if key in current:
                steps.append(Delete((*path, key)))
        elif current.get(key) != value:
            # A field new to this mapping goes where the format documents it.
            place = sum(1 for k in order[:order.index(key)] if k in current) if key in order \
                else None
            steps.append(Set((*path, key), value, index=place))
    return steps


# -- the scenario ------------------------------------------------------------------------

def set_field(path: TreePath, value: Any, label: str) -> Change:
    """Set any one field (None removes it): the title, a description, a window."""
    return Change(label, [Delete(path) if value is None else Set(path, value)])


def set_scenario_fields(data: Data, values: Mapping[str, Any]) -> Change:
    """Set the scenario's own fields (id, title, summary, focus areas, setting, ...)."""
    return Change("Edit the scenario's details", _updates((), data, values, TOP_FIELDS))


def set_start(data: Data, index: int) -> Change:
    """Make segment ``index`` the one every run starts with."""
    chosen = segment_ids(data)[index]
    return Change(f"Start at `{chosen}`", [Set(("start",), chosen)])


# -- segments ------------------------------------------------------------------------------

def add_segment(data: Data, *, clip: str, in_s: float, out_s: float, title: str = "",
                segment_id: str | None = None, outcome: str | None = None) -> Change:
    """A new segment playing ``clip`` from ``in_s`` to ``out_s``, at the end of the list.

    With ``outcome`` (a kind) the run ends there; without, it ends in nothing yet: drawing a
    branch from it or giving it an outcome finishes it, and until then the problems list
    says so. The first segment made becomes the start.
    """
    ids = segment_ids(data)
    made = segment_id or new_id(title or clip, ids, fallback="segment")
    values = _fields({"id": made, "title": title or None, "clip": clip, "in": in_s,
                      "out": out_s, "outcome": {"kind": outcome} if outcome else None},
                     SEGMENT_FIELDS)
    steps: list[Step] = []
    if not data.get("start"):
        steps.append(Set(("start",), made, index=_top_place(data, "start")))
    if "segments" not in data:
        steps.append(Set(("segments",), [], index=_top_place(data, "segments") + len(steps)))
    steps.append(Insert(("segments", -1), values))
    return Change(f"Add segment `{made}`", steps)


def update_segment(data: Data, index: int, values: Mapping[str, Any]) -> Change:
    """Set fields of segment ``index`` (title, clip, in, out, low_light); None removes one.

    A new id is carried to the start and to every branch that leads to the segment.

    Raises:
        EditError: another segment has the new id.
    """
    current = segments(data)[index]
    new = values.get("id")
    old = current.get("id")
    if new is not None and new != old:
        _refuse_taken("segment", new, segment_ids(data))
    steps = _updates(("segments", index), current, values, SEGMENT_FIELDS)
    if new is not None and new != old:
        steps += _retarget(data, old, new)
    name = new or old
    return Change(f"Edit segment `{name}`", steps)


def _refuse_taken(what: str, wanted: str, taken: Iterable[str]) -> None:
    # A rename onto another's id would carry that one's references along with it.
    if wanted in set(taken):
        raise EditError(f"another {what} has the id `{wanted}`; choose one no {what} has")


def _retarget(data: Data, old: Any, new: str) -> list[Step]:
    steps: list[Step] = []
    if data.get("start") == old:
        steps.append(Set(("start",), new))
    for i, segment in enumerate(segments(data)):
        for j, branch in enumerate(_list(_map(segment.get("decision")), "branches")):
            if _map(branch).get("to") == old:
                steps.append(Set(("segments", i, "decision", "branches", j, "to"), new))
    return steps


def remove_segment(data: Data, index: int) -> Change:
    """Delete segment ``index`` and the branches leading to it.

    A decision left with no branch is removed too (its segment then needs an ending); the
    start is left for the problems list to point at, as choosing another is the author's.
    """
    ids = segment_ids(data)
    gone = ids[index]
    steps: list[Step] = []
    for i, segment in enumerate(segments(data)):
        if i == index:
            continue
        decision = _map(segment.get("decision"))
        branches = _list(decision, "branches")
        leading = [j for j, b in enumerate(branches) if _map(b).get("to") == gone]
        if leading and len(leading) == len(branches):
            steps.append(Delete(("segments", i, "decision")))
            continue
        removed_ids = {_map(branches[j]).get("id") for j in leading}
        if decision.get("default") in removed_ids:
            steps.append(Delete(("segments", i, "decision", "default")))
        # Last first, so that each index still points at its branch.
        steps += [Delete(("segments", i, "decision", "branches", j)) for j in reversed(leading)]
    steps.append(Delete(("segments", index)))
    return Change(f"Delete segment `{gone}`", steps)


def set_outcome(data: Data, index: int, kind: str, label: str = "") -> Change:
    """End the run at segment ``index`` in an outcome (its decision, if any, goes)."""
    segment = segments(data)[index]
    steps: list[Step] = []
    if "decision" in segment:
        steps.append(Delete(("segments", index, "decision")))
    outcome = {"kind": kind, **({"label": label} if label else {})}
    if "outcome" in segment:
        steps.append(Set(("segments", index, "outcome"), outcome))
    else:
        steps.append(Set(("segments", index, "outcome"), outcome,
                         index=_place(segment, "outcome")))
    return Change(f"Outcome of `{segment.get('id')}`: {kind}", steps)


def _place(mapping: Mapping[str, Any], key: str) -> int:
    """Where ``key`` goes among a segment's fields, in the format's order."""
    return sum(1 for k in SEGMENT_FIELDS[:SEGMENT_FIELDS.index(key)] if k in mapping)


# -- cues -------------------------------------------------------------------------------

def _all_cue_ids(data: Data) -> list[str]:
    return [str(_map(c).get("id", "")) for s in segments(data) for c in _list(s, "cues")]


def add_cue(data: Data, index: int, *, at: float, kind: str, person: str | None = None,
            description: str = "", response_window: float | None = None,
            force_justified: bool | None = None,
            reasonable_options: list[str] | None = None, cue_id: str | None = None) -> Change:
    """A cue on segment ``index`` at ``at`` seconds from its in-point, kept in time order."""
    segment = segments(data)[index]
    made = cue_id or new_id(f"{kind}_{person}" if person else kind, _all_cue_ids(data),
                            fallback="cue")
    values = _fields({"id": made, "at": at, "kind": kind, "person": person,
                      "description": description or None, "response_window": response_window,
                      "force_justified": force_justified,
                      "reasonable_options": reasonable_options or None}, CUE_FIELDS)
    cues = _list(segment, "cues")
    steps: list[Step] = []
    if "cues" not in segment:
        steps.append(Set(("segments", index, "cues"), [], index=_place(segment, "cues")))
    position = sum(1 for c in cues if _number(_map(c).get("at")) <= at)
    steps.append(Insert(("segments", index, "cues", position), values))
    return Change(f"Add cue `{made}`", steps)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else float("inf")


def update_cue(data: Data, index: int, cue: int, values: Mapping[str, Any]) -> Change:
    """Set fields of a cue (None removes one: a cue without ``force_justified`` is unscored)."""
    current = _map(_list(segments(data)[index], "cues")[cue])
    return Change(f"Edit cue `{values.get('id') or current.get('id')}`",
                  _updates(("segments", index, "cues", cue), current, values, CUE_FIELDS))


def remove_cue(data: Data, index: int, cue: int) -> Change:
    """Delete a cue."""
    current = _map(_list(segments(data)[index], "cues")[cue])
    return Change(f"Delete cue `{current.get('id')}`", [Delete(("segments", index, "cues", cue))])


# -- branches -----------------------------------------------------------------------------

def add_branch(data: Data, index: int, to: int, *, label: str | None = None,
               kind: str = "neutral") -> Change:
    """A branch from segment ``index`` to segment ``to``, with the next free hotkey.

    A segment that ended in an outcome becomes a decision point: one edit, one Undo.
    """
    segment = segments(data)[index]
    target = segments(data)[to]
    target_id = str(target.get("id", ""))
    decision = _map(segment.get("decision"))
    branches = [_map(b) for b in _list(decision, "branches")]
    used_keys = {str(b.get("hotkey")) for b in branches}
    hotkey = next((key for key in HOTKEYS if key not in used_keys), "9")
    title = str(target.get("title") or target_id)
    made = new_id(target_id, [str(b.get("id", "")) for b in branches], fallback="branch")
    branch = {"id": made, "label": (label or title)[:40], "hotkey": hotkey, "kind": kind,
              "to": target_id}
    steps: list[Step] = []
    if "outcome" in segment:
        steps.append(Delete(("segments", index, "outcome")))
    if "decision" not in segment:
        steps.append(Set(("segments", index, "decision"), {"default": made, "branches": []},
                         index=_place({k: v for k, v in segment.items() if k != "outcome"},
                                      "decision")))
    elif not _list(decision, "branches"):
        steps.append(Set(("segments", index, "decision", "branches"), []))
    steps.append(Insert(("segments", index, "decision", "branches", -1), branch))
    return Change(f"Add branch `{segment.get('id')}` → `{target_id}`", steps)


def update_branch(data: Data, index: int, branch: int, values: Mapping[str, Any]) -> Change:
    """Set fields of a branch (label, hotkey, kind, to); a new id is carried to ``default``."""
    decision = _map(segments(data)[index].get("decision"))
    current = _map(_list(decision, "branches")[branch])
    path = ("segments", index, "decision", "branches", branch)
    steps = _updates(path, current, values, BRANCH_FIELDS)
    new = values.get("id")
    renamed = new is not None and new != current.get("id")
    if renamed and decision.get("default") == current.get("id"):
        steps.append(Set(("segments", index, "decision", "default"), new))
    return Change(f"Edit branch `{new or current.get('id')}`", steps)


def remove_branch(data: Data, index: int, branch: int) -> Change:
    """Delete a branch; the last one takes its decision point with it."""
    segment = segments(data)[index]
    decision = _map(segment.get("decision"))
    branches = _list(decision, "branches")
    gone = _map(branches[branch]).get("id")
    if len(branches) <= 1:
        return Change(f"Delete branch `{gone}`", [Delete(("segments", index, "decision"))])
    steps: list[Step] = []
    if decision.get("default") == gone:
        steps.append(Delete(("segments", index, "decision", "default")))
    steps.append(Delete(("segments", index, "decision", "branches", branch)))
    return Change(f"Delete branch `{gone}`", steps)


def update_decision(data: Data, index: int, values: Mapping[str, Any]) -> Change:
    """Set the decision point's prompt, window, default or waiting mode (None removes one).

    ``while_waiting`` is ``{"mode": "hold"}`` or ``{"mode": "loop", "from": s, "to": s}``.
    """
    decision = _map(segments(data)[index].get("decision"))
    order = ("prompt", "window", "default", "while_waiting", "branches")
    return Change(f"Edit the decision at `{segments(data)[index].get('id')}`",
                  _updates(("segments", index, "decision"), decision, values, order))


# -- people and variants ----------------------------------------------------------------------

def add_person(data: Data, *, role: str, description: str = "",
               person_id: str | None = None) -> Change:
    """A person in the script; every variant gets an empty entry to describe them in."""
    people = [_map(p) for p in _list(data, "people")]
    made = person_id or new_id(role, [str(p.get("id", "")) for p in people], fallback="person")
    steps: list[Step] = []
    if "people" not in data:
        steps.append(Set(("people",), [], index=_top_place(data, "people")))
    steps.append(Insert(("people", -1), _fields(
        {"id": made, "role": role, "description": description or None},
        ("id", "role", "description"))))
    for v, variant in enumerate(_list(data, "variants")):
        if made not in _map(_map(variant).get("people")):
            steps.append(Set(("variants", v, "people", made), {}, like_siblings=True))
    return Change(f"Add person `{made}`", steps)


def _top_place(data: Data, key: str) -> int:
    return sum(1 for k in TOP_FIELDS[:TOP_FIELDS.index(key)] if k in data)


def update_person(data: Data, person: int, values: Mapping[str, Any]) -> Change:
    """Set a person's role or description; a new id goes to cues, lines, hit zones, variants.

    Raises:
        EditError: another person has the new id.
    """
    current = _map(_list(data, "people")[person])
    old, new = str(current.get("id", "")), values.get("id")
    if new is not None and new != old:
        _refuse_taken("person", new, [str(_map(p).get("id")) for p in _list(data, "people")])
    steps = _updates(("people", person), current, values, ("id", "role", "description"))
    if new is not None and new != old:
        for v, variant in enumerate(_list(data, "variants")):
            if old in _map(_map(variant).get("people")):
                steps.append(Rename(("variants", v, "people"), old, new))
        for i, segment in enumerate(segments(data)):
            for c, cue in enumerate(_list(segment, "cues")):
                if _map(cue).get("person") == old:
                    steps.append(Set(("segments", i, "cues", c, "person"), new))
            for n, line in enumerate(_list(segment, "lines")):
                if _map(line).get("who") == old:
                    steps.append(Set(("segments", i, "lines", n, "who"), new))
            for z, zone in enumerate(_list(segment, "hit_zones")):
                if _map(zone).get("person") == old:
                    steps.append(Set(("segments", i, "hit_zones", z, "person"), new))
    return Change(f"Edit person `{new or old}`", steps)


def remove_person(data: Data, person: int) -> Change:
    """Delete a person and their description in every variant.

    Cues and hit zones naming them stay, and show in the problems list until given another.
    """
    gone = _map(_list(data, "people")[person]).get("id")
    steps: list[Step] = [Delete(("variants", v, "people", str(gone)))
                         for v, variant in enumerate(_list(data, "variants"))
                         if gone in _map(_map(variant).get("people"))]
    steps.append(Delete(("people", person)))
    return Change(f"Delete person `{gone}`", steps)


def set_demographic(data: Data, variant: int, person: str, attribute: str,
                    value: str | list[str] | None) -> Change:
    """How variant ``variant`` portrays ``person`` for one attribute (None: not said).

    Written once here; the clips' media tags are made from it, never typed again.
    """
    variants = _list(data, "variants")
    described = _map(_map(_map(variants[variant]).get("people")).get(person))
    steps: list[Step] = []
    if person not in _map(_map(variants[variant]).get("people")):
        steps.append(Set(("variants", variant, "people", person), {}, like_siblings=True))
    path = ("variants", variant, "people", person, attribute)
    if value is None or value == []:
        if attribute in described:
            steps.append(Delete(path))
    elif described.get(attribute) != value:
        steps.append(Set(path, value[0] if isinstance(value, list) and len(value) == 1
                         else value))
    label = _map(variants[variant]).get("id")
    return Change(f"Variant `{label}`: {person}'s {attribute}", steps)


def set_variant_clip(data: Data, variant: int, clip: str, reference: str | None) -> Change:
    """Which file variant ``variant`` plays for ``clip`` (None: none yet)."""
    clips = _map(_map(_list(data, "variants")[variant]).get("clips"))
    path = ("variants", variant, "clips", clip)
    steps: list[Step] = []
    if reference is None:
        if clip in clips:
            steps.append(Delete(path))
    elif clips.get(clip) != reference:
        if "clips" not in _map(_list(data, "variants")[variant]):
            steps.append(Set(("variants", variant, "clips"), {}))
        steps.append(Set(path, reference))
    return Change(f"Variant `{_map(_list(data, 'variants')[variant]).get('id')}`: clip `{clip}`",
                  steps)


def add_variant(data: Data, *, label: str, variant_id: str | None = None) -> Change:
    """A new filming of the script, describing each person with nothing yet."""
    variants = [_map(v) for v in _list(data, "variants")]
    made = variant_id or new_id(label, [str(v.get("id", "")) for v in variants],
                                fallback="variant")
    people: dict[str, dict[str, Any]] = {str(_map(p).get("id")): {}
                                         for p in _list(data, "people")}
    steps: list[Step] = []
    if "variants" not in data:
        steps.append(Set(("variants",), [], index=_top_place(data, "variants")))
    steps.append(Insert(("variants", -1), {"id": made, "label": label, "people": people,
                                           "clips": {}}))
    return Change(f"Add variant `{made}`", steps)


def duplicate_variant(data: Data, variant: int, *, label: str,
                      variant_id: str | None = None) -> Change:
    """A copy of variant ``variant`` to re-film with other actors: same people and clips.

    The copy is inserted after the original; the instructor then changes whoever is
    portrayed differently and points the clips at the new takes.
    """
    variants = [_map(v) for v in _list(data, "variants")]
    source = variants[variant]
    made = variant_id or new_id(label, [str(v.get("id", "")) for v in variants],
                                fallback="variant")
    copy = {"id": made, "label": label,
            "people": {p: dict(_map(d)) for p, d in _map(source.get("people")).items()},
            "clips": dict(_map(source.get("clips")))}
    return Change(f"Duplicate variant `{source.get('id')}` as `{made}`",
                  [Insert(("variants", variant + 1), copy)])


def update_variant(data: Data, variant: int, values: Mapping[str, Any]) -> Change:
    """Set a variant's id or label."""
    current = _map(_list(data, "variants")[variant])
    return Change(f"Edit variant `{values.get('id') or current.get('id')}`",
                  _updates(("variants", variant), current, values,
                           ("id", "label", "people", "clips")))


def remove_variant(data: Data, variant: int) -> Change:
    """Delete a variant (its clip files stay where they are)."""
    gone = _map(_list(data, "variants")[variant]).get("id")
    return Change(f"Delete variant `{gone}`", [Delete(("variants", variant))])
