"""Where a shot landed on whom: hit zones that move with the people on screen.

A segment's hit zones are keyed boxes (`HitZone`, `ZoneKey`): at each key, a box on the
picture, or none while the zone is out of it. Between two keys with boxes the box moves in
a straight line; a key without a box hides the zone until the next key, with no movement
into or out of it. These functions are pure and cheap enough to run for every shot: each
zone's keys are searched by bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from simulator.scenario.model import HitZone, Segment, ZoneKey

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Hit:
    """The zone a point fell in: whose, and which part of them (``head``, ``torso``...)."""

    person: str
    zone: str


def _key_time(key: ZoneKey) -> float:
    return key.at


def zone_box(zone: HitZone, at_s: float) -> Box | None:
    """The zone's box ``at_s`` seconds from its segment's in-point; None while it is hidden.

    Before the first key the first key's box holds, after the last the last's. Between
    two keys with boxes, x, y, width and height move linearly; a key without a box hides
    the zone until the next key.
    """
    keys = zone.keys
    after = bisect_right(keys, at_s, key=_key_time)
    if after == 0:
        return keys[0].box
    before = keys[after - 1]
    if after == len(keys):
        return before.box
    following = keys[after]
    start, end = before.box, following.box
    span = following.at - before.at
    if start is None or end is None or span <= 0:
        return start
    fraction = (at_s - before.at) / span
    return (start[0] + (end[0] - start[0]) * fraction,
            start[1] + (end[1] - start[1]) * fraction,
            start[2] + (end[2] - start[2]) * fraction,
            start[3] + (end[3] - start[3]) * fraction)


def hit_at(segment: Segment, at_s: float, x: float, y: float) -> Hit | None:
    """The zone of ``segment`` that the point (x, y) falls in ``at_s`` seconds from its in-point.

    ``x`` and ``y`` are fractions of the picture from its top-left corner; a point on a
    box's edge is inside it. Where boxes overlap, the smallest wins: a head drawn inside a
    torso's box is the head. None when the point falls in no zone (a miss).
    """
    best: Hit | None = None
    best_area = 0.0
    for zone in segment.hit_zones:
        box = zone_box(zone, at_s)
        if box is None:
            continue
        left, top, width, height = box
        if not (left <= x <= left + width and top <= y <= top + height):
            continue
        area = width * height
        if best is None or area < best_area:
            best, best_area = Hit(zone.person, zone.zone), area
    return best
