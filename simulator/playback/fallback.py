"""When a clip cannot be shown, the run still needs its marks and out-point on time."""

from __future__ import annotations

from simulator.ports import MarkShown, PlayerReport, PlayRequest, ReachedOut


def reports_on_the_clock(request: PlayRequest, start_ns: int, marks_left: list[int], *,
                         reached_out: bool) -> list[PlayerReport]:
    """What ``request`` still has to report, at the times it would have from ``start_ns``.

    A player whose media failed keeps the last good picture up and fires these as their
    times come, so cues open, the decision window opens and default branches fire as if
    the segment had played.
    """
    reports: list[PlayerReport] = [
        MarkShown(request.token, i, start_ns + round(request.marks[i] * 1e9))
        for i in marks_left]
    if not reached_out:
        reports.append(ReachedOut(request.token,
                                  start_ns + round((request.out_s - request.in_s) * 1e9)))
    return sorted(reports, key=lambda report: report.t_ns)
