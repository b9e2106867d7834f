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


def single_shot(clip_id: str, *, out_point: float, loop=None, end_s: float = 12.0):
    from simulator.review.timeline import Shot, Timeline

    shot = Shot(seq=2, segment_id="s", clip_id=clip_id, start_s=0.0, end_s=end_s,
                in_point=0.0, out_point=out_point, loop=loop)
    return Timeline("r", "x", "a", ("t",), end_s, (shot,), ())


@pytest.mark.parametrize(("at_s", "frame"), [
    (4.0, 120), (5.5, 165),  # the segment plays on past the loop's span
    (7.0, 60), (8.5, 45),  # then, at the out-point (6 s), loops 1-3 s while waiting
])
def test_a_waiting_loop_that_ends_before_the_out_point(qtbot, clip_files, at_s, frame):
    surface = VideoSurface()
    qtbot.addWidget(surface)
    surface.resize(320, 180)
    player = ReplayPlayer(single_shot("door", out_point=6.0, loop=(1.0, 3.0)),
                          clip_files, [surface])
    player.seek(at_s)
    assert shown_code(surface.current_image()) == (1, frame)
    player.close()


def test_an_out_point_off_the_frame_grid_holds_the_last_frame(qtbot, clip_files):
    surface = VideoSurface()
    qtbot.addWidget(surface)
    player = ReplayPlayer(single_shot("door", out_point=5.01), clip_files, [surface])
    player.seek(9.0)
    # The projector ends a segment at the frame boundary nearest its out-point (150), so
    # the last frame on screen, held, was 149.
    assert shown_code(surface.current_image()) == (1, 149)
    player.close()


def test_a_missing_clip_is_said_once_and_shows_nothing(qtbot, clip_files):
    surface = VideoSurface()
    qtbot.addWidget(surface)
    said: list[str] = []
    player = ReplayPlayer(single_shot("door", out_point=6.0), {}, [surface])
    player.problem.connect(said.append)
    player.play()
    qtbot.wait(300)
    player.seek(2.0)
    player.close()
    assert len(said) == 1 and "`door`" in said[0] and "cannot be replayed" in said[0]
    assert surface.current_image() is None


def fired(seq: int, at_s: float, x: float, y: float, placement, *, after: bool = False):
    from simulator.review.timeline import FiredShot

    return FiredShot(seq=seq, at_s=at_s, trainee_id="t", device="pistol_red", action="firearm",
                     x=x, y=y, segment_id="s", clip_s=at_s, into_segment_s=at_s,
                     frame_index=round(at_s * FPS), person_id=None, person_role=None,
                     zone=None, placement=placement, cue_id=None, latency_ms=None,
                     after_threat_ended=after)


def colour_at(surface, x: float, y: float):
    from PySide6.QtGui import QColor

    picture = surface.picture_rect()
    shown = surface.grab().toImage()
    ratio = shown.devicePixelRatio()
    pixel = shown.pixelColor(round((picture.left() + x * picture.width()) * ratio),
                             round((picture.top() + y * picture.height()) * ratio))
    return QColor(pixel).name()


def test_a_shot_is_drawn_where_it_landed_for_a_second_in_its_placements_colour(
        qtbot, clip_files):
    from dataclasses import replace

    from simulator.review.shots import PLACEMENT_COLOURS

    surface = VideoSurface()
    qtbot.addWidget(surface)
    surface.resize(640, 360)
    surface.show()
    timeline = replace(single_shot("door", out_point=10.0), fired=(
        fired(3, 2.0, 0.3, 0.6, "threat"), fired(4, 2.5, 0.7, 0.3, "non_threat", after=True),
        fired(5, 6.0, 0.5, 0.5, "miss")))
    player = ReplayPlayer(timeline, clip_files, [surface])
    player.seek(1.9)  # before any shot: the picture as it was
    before = colour_at(surface, 0.3, 0.6)
    assert before != PLACEMENT_COLOURS["threat"]
    player.seek(2.6)  # both shots landed within the second
    assert colour_at(surface, 0.3, 0.6) == PLACEMENT_COLOURS["threat"]
    assert colour_at(surface, 0.7, 0.3) == PLACEMENT_COLOURS["non_threat"]
    # The frame under the marks is still the recorded one.
    assert shown_code(surface.current_image()) == (1, round(2.6 * FPS))
    player.seek(3.2)  # the first has faded; the second has 0.3 s left
    assert colour_at(surface, 0.3, 0.6) != PLACEMENT_COLOURS["threat"]
    assert colour_at(surface, 0.7, 0.3) == PLACEMENT_COLOURS["non_threat"]
    player.seek(6.05)
    assert colour_at(surface, 0.5, 0.5) == PLACEMENT_COLOURS["miss"]
    assert colour_at(surface, 0.7, 0.3) != PLACEMENT_COLOURS["non_threat"]
    surface.grab().save(str(clip_files["door"].parent / "shot-marks.png"))
    player.close()
    assert not surface.overlays
