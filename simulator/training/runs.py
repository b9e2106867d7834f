"""Starting and reopening runs: the runtime wired to the record.

The projector, the console and the headless runner all begin runs the same way: store the
exact scenario text, register the run with the clips it will play, and hand the runtime a
journal onto the record. Reopening after a crash takes the stored state and the stored
scenario version, never the file on disk, which may have changed since.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from media_index import MediaIndex
from simulator.agency import AgencyProfile
from simulator.media import playback_clip, played_clip, resolve_clip
from simulator.ports import Clock, Player
from simulator.protocol.events import RunKind, VariantAssignment
from simulator.protocol.run_state import RunState
from simulator.record import Record
from simulator.runtime import ScenarioRun
from simulator.scenario import LoadedScenario


def begin_run(
    record: Record,
    loaded: LoadedScenario,
    *,
    session_id: str,
    variant_id: str,
    variant_assignment: VariantAssignment,
    trainee_ids: Sequence[str],
    instructor_id: str | None,
    clock: Clock,
    player: Player,
    profile: AgencyProfile | None = None,
    kind: RunKind = "training",
    camera_latency_ms: float | None = None,
) -> ScenarioRun:
    """Register a new run in the record and return it, ready to ``start``.

    ``kind``: a demonstration or a test is recorded like any run, but only training runs
    count in the audit and the training records. ``camera_latency_ms``: the range camera's
    measured latency, recorded with the run; None when no camera watches the screen.
    """
    loaded.scenario.variant(variant_id)
    record.scenario_versions.store(loaded)
    index = record.media_index()

    clips = _decided_once(loaded, index)

    # The record names the clips themselves: the index knows who they show, and a proxy is
    # only this PC's way of showing the same frames.
    originals = {clip_id: path for clip_id in sorted(loaded.scenario.variant(variant_id).clips)
                 if (path := resolve_clip(loaded, index, variant_id, clip_id)) is not None}
    proxied = [clip_id for clip_id, path in originals.items()
               if clips(variant_id, clip_id) != path]

    state = RunState(
        run_id=str(uuid.uuid4()), session_id=session_id, scenario_id=loaded.scenario.id,
        scenario_hash=loaded.content_hash, variant_id=variant_id,
        trainee_ids=list(trainee_ids), instructor_id=instructor_id,
        player_backend=player.backend, timing_mode=player.timing_mode,
        display_lag_ms=player.display_lag_ms, decoding=player.decoding,
        variant_assignment=variant_assignment,
        kind=kind, camera_latency_ms=camera_latency_ms, playback_proxies=proxied or None,
    )
    played = [played_clip(index, clip_id, path) for clip_id, path in originals.items()]
    journal = record.runs.create(state, played)
    return ScenarioRun(loaded, state, clock=clock, player=player, journal=journal,
                       profile=profile, clips=clips)


def reopen_run(
    record: Record,
    run_id: str,
    *,
    clock: Clock,
    player: Player,
    profile: AgencyProfile | None = None,
) -> ScenarioRun:
    """A run rebuilt from its stored state; call ``recover()`` on it to continue."""
    state, journal = record.runs.reopen(run_id)
    loaded = record.scenario_versions.get(state.scenario_hash)
    index = record.media_index()
    return ScenarioRun(loaded, state, clock=clock, player=player, journal=journal,
                       profile=profile, clips=_decided_once(loaded, index))


def _decided_once(loaded: LoadedScenario, index: MediaIndex | None
                  ) -> Callable[[str, str], Path | None]:
    """The file each clip plays from, decided at its first play, not looked up at every cut.

    A proxy deleted since is passed over for the original.
    """

    @functools.cache
    def decided(variant: str, clip_id: str) -> Path | None:
        return playback_clip(loaded, index, variant, clip_id)

    def clips(variant: str, clip_id: str) -> Path | None:
        path = decided(variant, clip_id)
        if path is not None and not path.is_file():
            return resolve_clip(loaded, index, variant, clip_id)
        return path

    return clips
