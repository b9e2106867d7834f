"""How long a run was played, from its events' stamps on the run's monotonic clock.

Wall-clock spans lie: a PC whose clock is set back (or forward) between a crash and the
resume would turn seconds of training into a day. The run clock does not jump, and each
time base (a new one starts at ``run_recovered``) is measured on its own, so the time a
crashed run spent waiting to be resumed counts for nothing either.
"""

from __future__ import annotations

from collections.abc import Iterable

BASE_STARTS = frozenset({"run_started", "run_recovered"})


def played_ns(stamps: Iterable[tuple[str, int]]) -> int:
    """Nanoseconds of play in a run's ``(event type, t_ns)`` stamps, in ``seq`` order.

    Play is the run clock's span within each time base less the time spent paused: the
    same active time the runtime's timers run on. A run recovered while paused stays
    paused until its ``resumed``.
    """
    total = 0
    base_start = last = paused_from = None
    paused = 0
    for kind, t_ns in stamps:
        if kind in BASE_STARTS:
            if base_start is not None and last is not None:
                if paused_from is not None:  # paused when the process died
                    paused += last - paused_from
                total += (last - base_start) - paused
            was_paused = paused_from is not None
            base_start = last = t_ns
            paused, paused_from = 0, (t_ns if was_paused else None)
            continue
        if base_start is None:
            continue  # nothing is measured before the run started
        last = t_ns
        if kind == "paused" and paused_from is None:
            paused_from = t_ns
        elif kind == "resumed" and paused_from is not None:
            paused += t_ns - paused_from
            paused_from = None
    if base_start is not None and last is not None:
        if paused_from is not None:
            paused += last - paused_from
        total += (last - base_start) - paused
    return max(total, 0)
