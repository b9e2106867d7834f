"""People's hit zones drawn on a segment's frames, as studio edits (each one `Change`).

A hit zone is a region on a depicted person (their head, their torso) that moves with
them, so that a shot can be scored as a hit on whom. In the file it is a segment's
``hit_zones`` entry: the person, the agency's zone, and keys in time order, each a box
``[x, y, w, h]`` in fractions of the picture at ``at`` seconds from the segment's
in-point, or ``null`` from where the person is out of the picture. Between boxed keys the
box moves in a straight line; it holds before the first key and after the last, and a
null key hides it until the next boxed one.

As in `simulator.studio.changes`, each function reads the editor's plain data and returns
the steps; `ScenarioEditor.apply` makes them. Boxes and times are checked here, so no edit
can write a box outside the picture or a key outside the segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from simulator.scenario.hit_zones import Box, zone_box
from simulator.scenario.model import HitZone
from simulator.studio.changes import SEGMENT_FIELDS, segments
from simulator.studio.edits import Change, Delete, EditError, Insert, Set, Step, TreePath

Data = Mapping[str, Any]

# Where the list goes among a segment's fields, in the format's order.
FIELD_ORDER = (*SEGMENT_FIELDS[:SEGMENT_FIELDS.index("low_light")], "hit_zones",
               *SEGMENT_FIELDS[SEGMENT_FIELDS.index("low_light"):])
# Fractions are written to four places: a fifth of a pixel across a 1920-pixel picture.
PLACES = 4
# A box narrower or lower than this (a hundredth of the picture) is a slip of the mouse.
MIN_SIZE = 0.01
# Two times closer than this are the same key (times are kept to the millisecond).
SAME_TIME_S = 0.0005


def zones(data: Data, index: int) -> list[Mapping[str, Any]]:
    """Segment ``index``'s hit zones as they stand (anything not a mapping as an empty one)."""
    value = segments(data)[index].get("hit_zones")
    return [z if isinstance(z, Mapping) else {} for z in value] if isinstance(value, list) \
        else []


def box_at(zone: Mapping[str, Any], at_s: float) -> Box | None:
    """Where a zone as it stands is at ``at_s`` seconds from the in-point (None: hidden).

    As the projector scores it (`simulator.scenario.hit_zones.zone_box`); a zone not well
    formed yet (a key without a time, typed in by hand) is nowhere.
    """
    try:
        model = HitZone.model_validate(zone)
    except ValidationError:
        return None
    return zone_box(model, at_s)


def key_times(zone: Mapping[str, Any]) -> list[float]:
    """The times of a zone's keys, in seconds from the in-point (those that have one)."""
    value = zone.get("keys")
    return [float(key["at"]) for key in (value if isinstance(value, list) else [])
            if isinstance(key, Mapping) and _is_number(key.get("at"))]


def key_near(zone: Mapping[str, Any], at_s: float, within_s: float = SAME_TIME_S) -> int | None:
    """The index of the zone's key at ``at_s`` (give or take ``within_s``), if there is one."""
    value = zone.get("keys")
    for k, key in enumerate(value if isinstance(value, list) else []):
        if isinstance(key, Mapping) and _is_number(key.get("at")) \
                and abs(float(key["at"]) - at_s) < within_s:
            return k
    return None


def centred_box(width: float = 0.2, height: float = 0.4) -> Box:
    """A ``width`` x ``height`` box in the middle of the picture (fractions of it).

    Where a zone added from the keyboard starts, about a person's size at mid distance;
    the arrow keys then move and size it onto them.
    """
    width, height = min(max(width, MIN_SIZE), 1.0), min(max(height, MIN_SIZE), 1.0)
    return (round((1.0 - width) / 2, PLACES), round((1.0 - height) / 2, PLACES),
            round(width, PLACES), round(height, PLACES))


def clamp_box(box: Box) -> Box | None:
    """``box`` cut to the picture and rounded as written; None if too little of it is left.

    What the mouse draws partly off the picture keeps the part on it; a box wholly off it,
    or thinner than `MIN_SIZE`, is refused rather than saved.
    """
    x, y, w, h = box
    left, top = max(0.0, min(x, x + w)), max(0.0, min(y, y + h))
    right, bottom = min(1.0, max(x, x + w)), min(1.0, max(y, y + h))
    left, top, right, bottom = (round(v, PLACES) for v in (left, top, right, bottom))
    width, height = round(right - left, PLACES), round(bottom - top, PLACES)
    if width < MIN_SIZE or height < MIN_SIZE:
        return None
    return left, top, width, height


# -- the edits -----------------------------------------------------------------------------

def add_zone(data: Data, index: int, *, person: str, zone: str, at: float, box: Box) -> Change:
    """Person ``person``'s ``zone`` on segment ``index``, first seen at ``at`` in ``box``.

    Raises:
        EditError: the person already has that zone on the segment, or the time or the box
            does not fit (see `set_key`).
    """
    segment = segments(data)[index]
    at = _checked_time(segment, at)
    written = _checked_box(box)
    if any(z.get("person") == person and z.get("zone") == zone for z in zones(data, index)):
        raise EditError(f"`{person}` already has a {zone} zone on this segment; "
                        "move its box instead")
    steps: list[Step] = []
    path: TreePath = ("segments", index, "hit_zones")
    if "hit_zones" not in segment:
        place = sum(1 for k in FIELD_ORDER[:FIELD_ORDER.index("hit_zones")] if k in segment)
        steps.append(Set(path, [], index=place))
    made = CommentedMap([("person", person), ("zone", zone),
                         ("keys", CommentedSeq([_key(at, written)]))])
    steps.append(Insert((*path, -1), made))
    return Change(f"Add hit zone {_name(person, zone)}", steps)


def set_key(data: Data, index: int, zone: int, at: float, box: Box | None) -> Change:
    """Zone ``zone`` of segment ``index`` in ``box`` at ``at`` (None: out of the picture).

    The key at that time is changed, or a key is added in time order. Moving or resizing a
    box is this edit at the frame on screen.

    Raises:
        EditError: ``at`` is outside the segment, or the box is not inside the picture
            (see `clamp_box`) or is smaller than `MIN_SIZE`.
    """
    segment = segments(data)[index]
    at = _checked_time(segment, at)
    written = None if box is None else _checked_box(box)
    current = zones(data, index)[zone]
    path: TreePath = ("segments", index, "hit_zones", zone, "keys")
    name = _name(current.get("person"), current.get("zone"))
    keys = current.get("keys") if isinstance(current.get("keys"), list) else None
    if keys is None:
        return Change(f"Hit zone {name} at {at:.3f} s",
                      [Set(path, CommentedSeq([_key(at, written)]))])
    existing = key_near(current, at)
    what = "hidden" if written is None else "box"
    if existing is not None:
        old = keys[existing].get("box") if isinstance(keys[existing], Mapping) else None
        same = (old is None and written is None) or (
            old is not None and written is not None and tuple(old) == written)
        if same:
            return Change(f"Hit zone {name}: {what} at {at:.3f} s", [])
        return Change(f"Hit zone {name}: {what} at {at:.3f} s",
                      [Set((*path, existing, "box"), _box_node(written))])
    position = sum(1 for key in keys if isinstance(key, Mapping)
                   and _is_number(key.get("at")) and float(key["at"]) <= at)
    # A plain mapping: inserted, it is written in flow style if the zone's other keys are.
    return Change(f"Hit zone {name}: {what} at {at:.3f} s",
                  [Insert((*path, position), {"at": at, "box": _box_node(written)})])


def hide_from(data: Data, index: int, zone: int, at: float) -> Change:
    """Zone ``zone`` out of the picture from ``at`` (until a later key boxes it again)."""
    return set_key(data, index, zone, at, None)


def remove_key(data: Data, index: int, zone: int, key: int) -> Change:
    """Delete one key of a zone; its only key takes the zone with it."""
    current = zones(data, index)[zone]
    keys = current.get("keys")
    if not isinstance(keys, list) or len(keys) <= 1:
        return remove_zone(data, index, zone)
    at = keys[key].get("at") if isinstance(keys[key], Mapping) else None
    when = f" at {at:.3f} s" if _is_number(at) else ""
    return Change(f"Delete key of hit zone {_name(current.get('person'), current.get('zone'))}"
                  f"{when}", [Delete(("segments", index, "hit_zones", zone, "keys", key))])


def remove_zone(data: Data, index: int, zone: int) -> Change:
    """Delete a zone with all its keys; the segment's last takes its ``hit_zones`` too."""
    current = zones(data, index)[zone]
    name = _name(current.get("person"), current.get("zone"))
    path: TreePath = ("segments", index, "hit_zones")
    if len(zones(data, index)) <= 1:
        return Change(f"Delete hit zone {name}", [Delete(path)])
    return Change(f"Delete hit zone {name}", [Delete((*path, zone))])


# -- inside ----------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _name(person: Any, zone: Any) -> str:
    return f"`{person}` · {zone}"


def _checked_time(segment: Mapping[str, Any], at: float) -> float:
    start, end = segment.get("in"), segment.get("out")
    at = round(float(at), 3)
    length = end - start if isinstance(start, int | float) and isinstance(end, int | float) \
        else None
    if at < 0 or (length is not None and at > length + SAME_TIME_S):
        raise EditError(f"{at:.3f} s is outside the segment; a hit zone's key must be "
                        "within it")
    return at


def _checked_box(box: Box) -> Box:
    x, y, w, h = (round(float(v), PLACES) for v in box)
    if w < MIN_SIZE or h < MIN_SIZE or x < 0 or y < 0 or x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
        raise EditError(f"the box {[x, y, w, h]} is not inside the picture; draw it on the "
                        "picture")
    return x, y, w, h


def _box_node(box: Box | None) -> CommentedSeq | None:
    if box is None:
        return None
    # One line per key: `[x, y, w, h]`, as a person would write it.
    out = CommentedSeq(int(v) if v.is_integer() else v for v in box)
    out.fa.set_flow_style()
    return out


def _key(at: float, box: Box | None) -> CommentedMap:
    # A zone's first key: `{at: 1.2, box: [...]}` one a line, which later keys follow.
    key = CommentedMap([("at", int(at) if at.is_integer() else at), ("box", _box_node(box))])
    key.fa.set_flow_style()
    return key
