"""When a clip cannot be shown, the run still needs its marks and out-point on time."""

from __future__ import annotations

from dataclasses import replace

from simulator.ports import MarkShown, PlayerReport, PlayRequest, ReachedOut


class PendingReports:
    """Reports kept back until their time comes; a pause moves them all by its length."""

    def __init__(self, reports: list[PlayerReport]) -> None:
        self._reports = sorted(reports, key=lambda report: report.t_ns)

    def __bool__(self) -> bool:
        return bool(self._reports)

    @property
    def next_ns(self) -> int | None:
        """When the next one falls due, if any is left."""
        return self._reports[0].t_ns if self._reports else None

    def take_due(self, now_ns: int) -> list[PlayerReport]:
        """Those whose time has come, oldest first; they are no longer pending."""
        due = [r for r in self._reports if r.t_ns <= now_ns]
        self._reports = self._reports[len(due):]
        return due

    def shift(self, ns: int) -> None:
        """Move every one of them ``ns`` later (the length of a pause)."""
        self._reports = [replace(r, t_ns=r.t_ns + ns) for r in self._reports]


def reports_on_the_clock(request: PlayRequest, start_ns: int, marks_left: list[int], *,
                         reached_out: bool) -> PendingReports:
    """What ``request`` still has to report, at the times it would have from ``start_ns``.

    A player whose media failed keeps the last good picture up and gives these out as
    their times come, so cues open, the decision window opens and default branches fire
    as if the segment had played.
    """
    reports: list[PlayerReport] = [
        MarkShown(request.token, i, start_ns + round(request.marks[i] * 1e9))
        for i in marks_left]
    if not reached_out:
        reports.append(ReachedOut(request.token,
                                  start_ns + round((request.out_s - request.in_s) * 1e9)))
    return PendingReports(reports)
