"""Replaying a recorded run shows, at every marker, the very frame the trainee saw."""

from __future__ import annotations

import math

import pytest
from test_playback import shown_code

from simulator.playback.barcode import write_barcode_clip
from simulator.playback.replay import ReplayPlayer
from simulator.playback.surface import VideoSurface
from simulator.protocol import ChooseBranch, Pause, RaiseFlag, RecordDecision, Resume
from simulator.review.timeline import build_timeline

pytestmark = pytest.mark.gui

FPS = 30
CLIPS = {"door": (1, 12.0), "calm": (2, 8.0), "knife": (3, 5.0)}


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay")
    files = {}
    for clip_id, (number, seconds) in CLIPS.items():
        files[clip_id] = folder / f"{clip_id}.mp4"
        write_barcode_clip(files[clip_id], clip_number=number, frames=round(seconds * FPS),
                           width=320, height=180, gop=15, audio=False)
    return files


@pytest.fixture
def replay(qtbot, run, clock, journal, doorway, clip_files):
    run.start()
    run.poll()
    for seconds in (4.5, 2.5):
        clock.advance(seconds)
        run.poll()
    run.handle(RecordDecision(trainee_id="t1", action="verbal_direction"))
    run.handle(Pause())
    clock.advance(2.0)
    run.handle(Resume())
    run.handle(RaiseFlag(note="here"))
    clock.advance(6.0)
    run.poll()
    run.handle(ChooseBranch(branch_id="knife", offer_seq=run.offer_seq))
    run.poll()
    clock.advance(6.0)
    run.poll()
    assert run.ended
    timeline = build_timeline(journal.events, doorway.scenario)
    surface = VideoSurface()
    qtbot.addWidget(surface)
    surface.resize(320, 180)
    surface.show()
    player = ReplayPlayer(timeline, clip_files, [surface])
    yield player, surface, timeline
    player.close()


def expected(timeline, at_s):
    shot, media_s = timeline.frame_at(at_s)
    last = round(CLIPS[shot.clip_id][1] * FPS) - 1
    return CLIPS[shot.clip_id][0], min(last, math.floor(media_s * FPS + 1e-6))


def test_every_marker_and_shot_start_shows_the_recorded_frame(replay):
    player, surface, timeline = replay
    moments = sorted({m.at_s for m in timeline.markers} | {s.start_s for s in timeline.shots}
                     | {s.start_s + 0.51 for s in timeline.shots})
    for at_s in moments:
        player.seek(at_s)
        assert shown_code(surface.current_image()) == expected(timeline, at_s), at_s
    # Backwards works as well as forwards (a coordinator clicks anywhere).
    for at_s in reversed(moments):
        player.seek(at_s)
        assert shown_code(surface.current_image()) == expected(timeline, at_s), at_s


def test_stepping_moves_one_frame_and_playing_moves_on_in_real_time(qtbot, replay):
    player, surface, timeline = replay
    player.seek(2.0)
    assert shown_code(surface.current_image()) == (1, round(3.0 * FPS))  # in-point 1 s
    player.step(1)
    assert shown_code(surface.current_image()) == (1, round(3.0 * FPS) + 1)
    player.step(-2)
    assert shown_code(surface.current_image()) == (1, round(3.0 * FPS) - 1)
    positions: list[float] = []
    player.moved.connect(positions.append)
    player.play()
    qtbot.wait(400)
    player.pause()
    assert 0.25 < player.position - 2.0 < 0.8 and len(positions) > 5
    code = shown_code(surface.current_image())
    assert code == expected(timeline, player.position) or code == (
        1, expected(timeline, player.position)[1] - 1)  # the next frame may be due this tick


def test_the_replay_can_go_to_a_second_screen(qtbot, replay):
    player, surface, timeline = replay
    projector = VideoSurface()
    qtbot.addWidget(projector)
    projector.resize(640, 360)
    projector.show()
    player.add_surface(projector)
    player.seek(timeline.shots[-1].start_s + 1.0)
    assert shown_code(projector.current_image()) == shown_code(surface.current_image())
    player.remove_surface(projector)
    assert projector.current_image() is None
