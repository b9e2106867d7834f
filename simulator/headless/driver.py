"""Drives a run in real (or scaled) time from a script, with no screen."""

from __future__ import annotations

import time
from collections.abc import Callable

from simulator.headless.player import HeadlessPlayer
from simulator.headless.script import Script
from simulator.protocol import EndRun
from simulator.runtime import ScenarioRun

# Poll at least this often even when nothing is due, so a run never sleeps through a
# report from a player that cannot say in advance when its next frame comes.
MAX_IDLE_NS = 20_000_000


def drive(
    run: ScenarioRun,
    script: Script,
    player: HeadlessPlayer,
    *,
    now_ns: Callable[[], int],
    sleep_ns: Callable[[int], None] = lambda ns: time.sleep(ns / 1e9),
    resumed: bool = False,
) -> None:
    """Start (or recover) ``run`` and feed it ``script`` until it ends.

    On a resumed run, steps the run already applied (their command ids are in its state)
    are skipped, and the rest keep their spacing from the last one applied.
    """
    applied = set(run.state.applied_commands)
    pending = [(i, step) for i, step in enumerate(script.commands)
               if f"script:{i}" not in applied]
    if resumed:
        done = [step.at for i, step in enumerate(script.commands) if f"script:{i}" in applied]
        run.recover()
        offset = max(done, default=0.0)
    else:
        run.start()
        offset = 0.0
    origin = now_ns()
    while not run.ended:
        now = now_ns()
        # A step that ends the run is the last it takes, however many others fell due
        # with it: nothing may follow `run_ended`.
        while (pending and not run.ended
               and origin + round((pending[0][1].at - offset) * 1e9) <= now):
            index, step = pending.pop(0)
            run.handle(step.command(index, run.state, now_ns()))
        run.poll()
        if run.ended:
            return
        if not pending and run.state.status == "paused":
            # Nothing in the script will ever resume it: end rather than wait forever.
            run.handle(EndRun(command_id="script:end", note="script finished while paused"))
            return
        wake = [now + MAX_IDLE_NS]
        if pending:
            wake.append(origin + round((pending[0][1].at - offset) * 1e9))
        for due in (run.next_deadline_ns(), player.next_report_ns()):
            if due is not None:
                wake.append(due)
        delay = min(wake) - now_ns()
        if delay > 0:
            sleep_ns(delay)
