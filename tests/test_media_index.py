"""The media index on real (generated) clips: incremental scans, moves, damage, tags, search,
coverage, proxies and thumbnails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from sqlalchemy import create_engine

from media_index import MediaIndex, SearchFilter, probe
from media_index.coverage import Appearance, ReferenceError, coverage, load_reference
from media_index.playability import Playability, measure
from media_index.probe import ProbeError
from media_index.proxy import make_proxy
from media_index.thumbnails import thumbnail
from simulator.agency import combined_group, default_profile
from simulator.media import vocabulary_for

VOCABULARY = vocabulary_for(default_profile())


def _render(path, seconds, gop_frames=5):
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size=128x72:rate=10:duration={seconds}", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={seconds}", "-g", str(gop_frames), "-c:v", "libx264",
         "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)],
        check=True)


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory):
    """Three tiny real clips, rendered once per test run."""
    folder = tmp_path_factory.mktemp("clips")
    _render(folder / "door.mp4", 3)
    _render(folder / "calm.mp4", 2)
    _render(folder / "long_gop.mp4", 4, gop_frames=40)
    return folder


@pytest.fixture
def footage(tmp_path, clip_cache):
    folder = tmp_path / "footage"
    (folder / "a").mkdir(parents=True)
    shutil.copy(clip_cache / "door.mp4", folder / "a" / "door.mp4")
    shutil.copy(clip_cache / "calm.mp4", folder / "a" / "calm.mp4")
    (folder / "a" / "door.tags.yaml").write_text(
        "schema_version: 1\n"
        "people: {man: {race: [black_african_american, hispanic_latino], gender: man}}\n"
        "setting: {environment: indoor, light: night}\n")
    return folder


@pytest.fixture
def index(db_url):
    return MediaIndex.open(create_engine(db_url))


def test_probe_reads_real_streams(clip_cache):
    facts = probe(clip_cache / "door.mp4")
    assert (facts.width, facts.height, facts.video_codec, facts.audio_codec) == (
        128, 72, "h264", "aac")
    assert abs(facts.duration_s - 3.0) < 0.15 and facts.fps == 10.0
    assert facts.max_keyframe_interval_s == pytest.approx(0.5, abs=0.01)
    assert probe(clip_cache / "long_gop.mp4").max_keyframe_interval_s >= 3.9


def test_first_scan_then_nothing_is_read_again(index, footage):
    first = index.scan([footage], VOCABULARY)
    assert sorted(p.name for p in first.added) == ["calm.mp4", "door.mp4"] and first.ok
    again = index.scan([footage], VOCABULARY)
    assert (again.unchanged, again.added, again.changed) == (2, [], [])
    door = index.by_path(footage / "a" / "door.mp4")
    assert door.people == {"man": {"gender": ["man"],
                                   "race": ["black_african_american", "hispanic_latino"]}}
    assert door.setting == {"environment": "indoor", "light": "night"}


def test_a_file_root_indexes_that_file_alone(index, footage):
    door = footage / "a" / "door.mp4"
    report = index.scan([door], VOCABULARY)
    assert report.added == [door] and report.ok
    assert index.by_path(door).people["man"]["gender"] == ["man"]  # its sidecar is read
    index.scan([footage], VOCABULARY)
    # A file root watches that file only: the rest of its folder is not marked missing.
    (footage / "a" / "calm.mp4").unlink()
    assert index.scan([door], VOCABULARY).missing == []
    door.unlink()
    assert index.scan([door], VOCABULARY).missing == [door]


def test_renamed_file_is_recognised_by_hash(index, footage):
    index.scan([footage], VOCABULARY)
    before = index.by_path(footage / "a" / "calm.mp4")
    (footage / "a" / "calm.mp4").rename(footage / "calm-take-2.mp4")
    report = index.scan([footage], VOCABULARY)
    assert [(a.name, b.name) for a, b in report.moved] == [("calm.mp4", "calm-take-2.mp4")]
    assert report.added == [] and report.missing == []
    after = index.by_path(footage / "calm-take-2.mp4")
    assert after.id == before.id and after.content_hash == before.content_hash


def test_deleted_file_is_marked_missing_never_dropped(index, footage):
    index.scan([footage], VOCABULARY)
    (footage / "a" / "door.mp4").unlink()
    report = index.scan([footage], VOCABULARY)
    assert [p.name for p in report.missing] == ["door.mp4"]
    kept = index.by_path(footage / "a" / "door.mp4")
    assert kept.status == "missing" and kept.people  # tags and facts stay on record
    assert index.scan([footage], VOCABULARY).missing == []  # reported once


def test_corrupt_file_is_reported_and_the_scan_goes_on(index, footage, clip_cache):
    (footage / "a" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    truncated = (clip_cache / "door.mp4").read_bytes()
    (footage / "truncated.mov").write_bytes(truncated[: len(truncated) // 3])
    report = index.scan([footage], VOCABULARY)
    reasons = {p.name: r for p, r in report.unreadable}
    assert set(reasons) == {"broken.mp4", "truncated.mov"}
    assert "not a readable video file" in reasons["broken.mp4"]
    assert sorted(p.name for p in report.added) == [
        "broken.mp4", "calm.mp4", "door.mp4", "truncated.mov"]
    assert index.by_path(footage / "a" / "broken.mp4").status == "unreadable"
    assert index.by_path(footage / "a" / "door.mp4").status == "present"


def test_sidecar_with_unknown_value_names_file_and_field(index, footage):
    sidecar = footage / "a" / "calm.tags.yaml"
    sidecar.write_text("schema_version: 1\npeople: {woman: {race: [white, martian]}}\n")
    report = index.scan([footage], VOCABULARY)
    [(path, message)] = report.tag_problems
    assert path == sidecar
    assert message.startswith(f"{sidecar}: people.woman.race: `martian` is not a value of `race`")
    sidecar.write_text("schema_version: 1\npeople: {woman: {race: white}}\n")
    fixed = index.scan([footage], VOCABULARY)
    assert fixed.tag_problems == [] and [p.name for p in fixed.retagged] == ["calm.mp4"]
    assert index.by_path(footage / "a" / "calm.mp4").people == {"woman": {"race": ["white"]}}


def test_search_by_setting_demographic_and_duration(index, footage):
    index.scan([footage], VOCABULARY)
    def names(**kw):
        return [c.path.name for c in index.search(SearchFilter(**kw))]
    assert names(setting={"light": "night"}) == ["door.mp4"]
    assert names(demographics=[("race", "hispanic_latino")]) == ["door.mp4"]
    both = [("race", "hispanic_latino"), ("race", "black_african_american"), ("gender", "man")]
    assert names(demographics=both) == ["door.mp4"]
    assert names(demographics=[("race", "hispanic_latino"), ("gender", "woman")]) == []
    assert names(min_duration_s=2.5) == ["door.mp4"]
    assert names(max_duration_s=2.5) == ["calm.mp4"]
    assert names(demographics=[("race", "x' OR '1'='1")]) == []


def test_coverage_shares_against_a_reference_csv(tmp_path):
    csv = tmp_path / "community.csv"
    csv.write_text("attribute,group,share,counts\n"
                   "race,hispanic_latino,40%,any:hispanic_latino\n"
                   "race,white,0.35,\nrace,black_african_american,0.15,\n"
                   "race,two_or_more,0.10,combined\n")
    reference = load_reference(csv)
    people = [Appearance({"race": ["white"]}, 3), Appearance({"race": ["white"]}, 1),
              Appearance({"race": ["black_african_american", "hispanic_latino"]}, 2),
              Appearance({"race": ["asian", "white"]}, 1), Appearance({"race": ["asian"]}, 1),
              Appearance({}, 2)]
    profile = default_profile()
    [race] = coverage(people, ["race"], lambda a, v: combined_group(profile, a, v), reference)
    shares = {g.group: (round(g.share, 4), g.reference) for g in race.groups}
    assert shares == {
        "white": (0.4, 0.35), "hispanic_latino": (0.2, 0.40),
        "black_african_american": (0.0, 0.15), "two_or_more": (0.1, 0.10),
        "asian": (0.1, None), "unrecorded": (0.2, None)}
    gaps = {g.group: round(g.gap, 4) for g in race.groups if g.gap is not None}
    assert gaps == {"white": 0.05, "hispanic_latino": -0.2, "black_african_american": -0.15,
                    "two_or_more": 0.0}
    assert race.people == 6 and race.small


@pytest.mark.parametrize(("text", "expected"), [
    ("attribute,group\nrace,white\n", "missing column(s) share"),
    ("attribute,group,share\nrace,white,lots\n", ":2: share: `lots` is not a number"),
    ("attribute,group,share\nrace,white,0.5\n", "add up to 0.500"),
])
def test_bad_reference_csv_names_line_and_field(tmp_path, text, expected):
    csv = tmp_path / "ref.csv"
    csv.write_text(text)
    with pytest.raises(ReferenceError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_reference(csv)


def test_proxy_has_short_keyframe_interval_and_same_timing(clip_cache, tmp_path):
    source = clip_cache / "long_gop.mp4"
    proxy = make_proxy(source, "ab" * 32, tmp_path)
    facts, original = probe(proxy), probe(source)
    assert facts.max_keyframe_interval_s <= 0.55
    assert abs(facts.duration_s - original.duration_s) < 0.15 and facts.fps == original.fps
    assert make_proxy(source, "ab" * 32, tmp_path) == proxy  # cached


def test_thumbnail_is_a_cached_jpeg(clip_cache, tmp_path):
    still = thumbnail(clip_cache / "door.mp4", "cd" * 32, tmp_path)
    assert still.read_bytes()[:3] == b"\xff\xd8\xff"
    assert thumbnail(clip_cache / "door.mp4", "cd" * 32, tmp_path) == still


def test_coverage_cli_writes_json_and_html(tmp_path, footage):
    from typer.testing import CliRunner

    from simulator.cli.app import app

    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    runner = CliRunner()
    indexed = runner.invoke(app, ["media", "index", str(footage), "--db", db])
    assert indexed.exit_code == 0, indexed.output
    result = runner.invoke(app, ["media", "coverage", "--format", "json", "--db", db])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    race = next(a for a in report["views"]["clips"] if a["attribute"] == "race")
    assert race["people"] == 1
    assert {g["group"]: g["share"] for g in race["groups"]}["hispanic_latino"] == 1.0
    page = tmp_path / "coverage.html"
    html = runner.invoke(app, ["media", "coverage", "--out", str(page), "--db", db])
    assert html.exit_code == 0 and "<svg" in page.read_text() and "2020 Census" in page.read_text()


def test_scenarios_can_name_indexed_clips_by_id_or_hash(tmp_path, footage, doorway_text,
                                                        clock):
    from sqlalchemy import text

    from simulator.headless.player import HeadlessPlayer
    from simulator.media import IndexedClips
    from simulator.record import Record
    from simulator.scenario import lint, parse_scenario
    from simulator.training.runs import begin_run

    record = Record.open(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    index = record.media_index()
    index.scan([footage], VOCABULARY)
    door = index.by_path(footage / "a" / "door.mp4")
    calm = index.by_path(footage / "a" / "calm.mp4")
    text_ = doorway_text.replace(
        "clips: {door: a/door.mp4, calm: a/calm.mp4, knife: a/knife.mp4}",
        f"clips: {{door: 'media:{door.id}', calm: 'media:{calm.content_hash[:16]}', "
        "knife: 'media:0123456789abcdef'}")
    loaded = parse_scenario(text_, str(tmp_path / "scenario.yaml"))
    report = lint(loaded.scenario, default_profile(), media=IndexedClips(loaded, index))
    problems = {(p.code, p.field) for p in report.problems if p.field.startswith("variants[0]")}
    # Door and calm were found through the index (and are too short for the doorway's
    # segments, which proves they were probed); the unknown hash is missing.
    assert problems == {("clip-missing", "variants[0].clips.knife"),
                        ("clip-too-short", "variants[0].clips.door"),
                        ("clip-too-short", "variants[0].clips.calm"),
                        ("clip-tags-disagree", "variants[0].clips.door")}
    trainee = record.people.add("trainee", "T")
    run = begin_run(record, loaded, session_id=record.sittings.open([trainee]), variant_id="a",
                    variant_assignment="chosen",
                    trainee_ids=[trainee], instructor_id=None, clock=clock,
                    player=HeadlessPlayer(clock))
    with record.engine.connect() as c:
        played = dict(c.execute(text("select clip_id, content_hash from run_clips")).all())
    assert played == {"door": door.content_hash, "calm": calm.content_hash}
    # An indexed, unchanged file is not read again at run start: its index hash is used.
    from simulator.media import played_clip

    stat = door.path.stat()
    door.path.write_bytes(b"\0" * stat.st_size)  # same size...
    os.utime(door.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and time
    assert played_clip(index, "door", door.path).content_hash == door.content_hash
    os.utime(door.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert played_clip(index, "door", door.path).content_hash != door.content_hash
    run.start()
    assert run.state.segment_id == "door"


def test_a_move_without_its_sidecar_keeps_the_tags(index, footage):
    index.scan([footage], VOCABULARY)
    (footage / "a" / "door.mp4").rename(footage / "door-renamed.mp4")
    report = index.scan([footage], VOCABULARY)
    assert len(report.moved) == 1 and "kept its tags" in report.notes[0]
    assert index.by_path(footage / "door-renamed.mp4").people["man"]["gender"] == ["man"]
    assert index.scan([footage], VOCABULARY).unchanged == 2  # and keeps them next time


def test_a_clip_missing_since_earlier_is_found_again_under_a_new_name(index, footage):
    index.scan([footage], VOCABULARY)
    first = index.by_path(footage / "a" / "calm.mp4")
    archive = footage.parent / "archive"
    archive.mkdir()
    (footage / "a" / "calm.mp4").rename(archive / "calm.mp4")
    assert [p.name for p in index.scan([footage], VOCABULARY).missing] == ["calm.mp4"]
    (archive / "calm.mp4").rename(footage / "calm-returned.mp4")
    report = index.scan([footage], VOCABULARY)
    assert report.added == [] and index.by_path(footage / "calm-returned.mp4").id == first.id


def test_known_problems_are_reported_on_every_scan(index, footage):
    (footage / "broken.mp4").write_bytes(b"not video" * 100)
    (footage / "a" / "calm.tags.yaml").write_text("schema_version: 1\npeople: {p: {race: x}}\n")
    assert not index.scan([footage], VOCABULARY).ok
    again = index.scan([footage], VOCABULARY)
    assert not again.ok
    assert [p.name for p, _ in again.unreadable] == ["broken.mp4"]
    assert [p.name for p, _ in again.tag_problems] == ["calm.tags.yaml"]
    assert "(as before)" in again.unreadable[0][1]


def test_odd_names_are_reported_not_fatal(index, footage):
    import os

    os.symlink(footage / "a" / "calm.mp4", footage / "link.mp4")
    bad = os.fsencode(str(footage)) + b"/caf\xe9.mp4"
    with open(bad, "wb") as handle:
        handle.write(b"x")
    (footage / "take [bold]").mkdir()
    (footage / "a" / "door.mp4").rename(footage / "take [bold]" / "door.mp4")
    (footage / "a" / "door.tags.yaml").rename(footage / "take [bold]" / "door.tags.yaml")
    report = index.scan([footage], VOCABULARY)
    reasons = sorted(r for _, r in report.skipped)
    assert len(reasons) == 2 and "symbolic link" in reasons[0] and "not valid text" in reasons[1]
    assert index.by_path(footage / "take [bold]" / "door.mp4").status == "present"


def test_duplicate_values_and_hidden_roots(index, footage):
    (footage / "a" / "door.tags.yaml").write_text(
        "schema_version: 1\npeople: {man: {race: [white, white]}}\n")
    hidden = footage / ".archive"
    hidden.mkdir()
    (footage / "a" / "calm.mp4").rename(hidden / "calm.mp4")
    assert index.scan([hidden], VOCABULARY).added  # a hidden folder given as a root is walked
    report = index.scan([footage], VOCABULARY)
    assert report.ok and report.missing == []  # hidden below a root: not walked, not missing
    assert index.by_path(footage / "a" / "door.mp4").people == {"man": {"race": ["white"]}}


def test_a_changed_clip_forgets_its_proxy(index, footage, clip_cache, tmp_path):
    index.scan([footage], VOCABULARY)
    clip = index.by_path(footage / "a" / "calm.mp4")
    index.set_proxy(clip.id, tmp_path / "old-proxy.mp4")
    shutil.copy(clip_cache / "long_gop.mp4", footage / "a" / "calm.mp4")
    report = index.scan([footage], VOCABULARY)
    assert [p.name for p in report.changed] == ["calm.mp4"]
    assert index.by_path(footage / "a" / "calm.mp4").proxy_path is None


@pytest.mark.parametrize(("data", "expected"), [
    (b"attribute,group,share\nrace\n", ":2: every row needs"),
    (b"attribute,group,share\nrace,white\n", ":2: share: `` is not a number"),
    (b"attribute,group,share\nrace,Caf\xe9,1\n", "not UTF-8"),
    (b"attribute,group,share,counts\nrace,white,1,anyy:white\n", "counts: `anyy:white`"),
    (b"attribute,group,share\nrace,white,60\n", "write 60%"),
    (b"attribute,group,share\nrace,white,0.5\nrace,white,0.5\n", "listed twice"),
])
def test_reference_csv_mistakes(tmp_path, data, expected):
    csv = tmp_path / "ref.csv"
    csv.write_bytes(data)
    with pytest.raises(ReferenceError) as caught:
        load_reference(csv)
    assert expected in str(caught.value)


def test_coverage_cli_refuses_a_misspelt_reference_group(tmp_path, footage):
    from typer.testing import CliRunner

    from simulator.cli.app import app

    csv = tmp_path / "ref.csv"
    csv.write_text("attribute,group,share\nrace,whte,0.6\nrace,asian,0.4\n")
    result = CliRunner().invoke(app, ["media", "coverage", "--format", "json", "--reference",
                                      str(csv), "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "group `whte` of `race` is not one of our values" in (
        result.output)


def test_playability_decodes_at_the_size_shown_and_says_whether_it_is_real_time(
        clip_cache, tmp_path):
    measured = measure(clip_cache / "door.mp4", screen=(64, 64))
    assert (measured.width, measured.height) == (64, 36)  # 128x72 fitted to the screen
    assert measured.clip_fps == 10 and measured.frames == 20  # two seconds of it
    assert measured.decode_fps > 0 and measured.realtime  # a tiny clip, on any PC
    assert measure(clip_cache / "calm.mp4", seconds=30).frames == 20  # the whole clip
    assert not Playability(60.0, 1920, 1080, decode_fps=89.9, frames=120).realtime
    assert Playability(60.0, 1920, 1080, decode_fps=90.0, frames=120).realtime
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(ProbeError, match=r"junk\.mp4: not a readable video file"):
        measure(junk)


def test_the_playable_command_names_each_clip_and_those_too_slow_here(
        tmp_path, footage, monkeypatch):
    from typer.testing import CliRunner

    from simulator.cli import media as media_cli
    from simulator.cli.app import app

    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    runner = CliRunner()
    assert runner.invoke(app, ["media", "index", str(footage), "--db", db]).exit_code == 0
    fine = runner.invoke(app, ["media", "playable", "--screen", "640x360", "--db", db],
                         env={"COLUMNS": "200"})
    assert fine.exit_code == 0, fine.output
    assert fine.stdout.count(" yes ") == 2 and "calm.mp4" in fine.stdout
    for screen in ("huge", "\u00b2x1080", "1920x"):
        bad = runner.invoke(app, ["media", "playable", "--screen", screen, "--db", db])
        assert bad.exit_code == 2 and "not a screen size like 1920x1080" in bad.output
    # Decoding as the projector does: here there is no graphics chip, and software decodes.
    software = runner.invoke(app, ["media", "playable", "--decoding", "software", "--screen",
                                   "640x360", "--db", db], env={"COLUMNS": "200"})
    assert software.exit_code == 0 and "decoding in software (no hardware" in software.output
    chip = runner.invoke(app, ["media", "playable", "--decoding", "vaapi", "--screen",
                               "640x360", "--db", db], env={"COLUMNS": "200"})
    assert chip.exit_code == 0 and "decoding in software (tried vaapi: " in chip.output
    hostile = runner.invoke(app, ["media", "playable", "--decoding", "vaapi\x1b[2J",
                                  "--db", db], env={"COLUMNS": "200"})
    assert hostile.exit_code == 2 and "use auto, software or a device kind" in hostile.output
    assert "\x1b" not in hostile.output

    def slow(path, *, screen, seconds, **_):
        return Playability(50.0, *screen, decode_fps=40.0, frames=100)

    monkeypatch.setattr(media_cli, "measure", slow)
    too_slow = runner.invoke(app, ["media", "playable", "--db", db], env={"COLUMNS": "200"})
    assert too_slow.exit_code == media_cli.EXIT_PROBLEMS
    assert too_slow.stdout.count(" NO ") == 2
    assert "2 clips cannot be played in real time here" in too_slow.output


def test_playback_proxies_are_made_where_a_clip_is_too_slow_checked_and_played_in_its_place(
        tmp_path, footage, doorway_text, clock, monkeypatch):
    from dataclasses import replace

    from sqlalchemy import text
    from typer.testing import CliRunner

    from simulator.cli import media as media_cli
    from simulator.cli.app import app
    from simulator.headless.player import HeadlessPlayer
    from simulator.media import playback_clip
    from simulator.protocol import RunStarted
    from simulator.record import Record
    from simulator.scenario import parse_scenario
    from simulator.training.runs import begin_run

    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    runner = CliRunner()
    monkeypatch.setenv("BRANCHPOINT_DATA", str(tmp_path / "data"))
    assert runner.invoke(app, ["media", "index", str(footage), "--db", db]).exit_code == 0
    nothing = runner.invoke(app, ["media", "proxies", "--playback", "--db", db])
    assert nothing.exit_code == 0 and "no clip needs a playback proxy" in nothing.output

    # This PC decodes the originals too slowly, and the copies as they really decode.
    real_measure = media_cli.measure

    def originals_slow(path, *, screen, seconds, **decoding):
        measured = real_measure(path, screen=screen, seconds=seconds, **decoding)
        return measured if ".proxy." in path.name else replace(measured, decode_fps=1.0)

    monkeypatch.setattr(media_cli, "measure", originals_slow)
    made = runner.invoke(app, ["media", "proxies", "--playback", "--screen", "640x360",
                               "--height", "36", "--db", db], env={"COLUMNS": "300"})
    assert made.exit_code == 0, made.output
    assert made.output.count("playback proxy:") == 2
    record = Record.open(db)
    index = record.media_index()
    door = index.by_path(footage / "a" / "door.mp4")
    proxy = door.playback_proxy_path
    assert proxy is not None and proxy.is_relative_to(tmp_path / "data" / "proxies")
    facts, original = probe(proxy), probe(door.path)
    assert (facts.width, facts.height, facts.fps) == (64, 36, original.fps)
    assert abs(facts.duration_s - original.duration_s) < 0.15
    playable = runner.invoke(app, ["media", "playable", "--screen", "640x360", "--db", db],
                             env={"COLUMNS": "300"})
    assert playable.exit_code == 0 and playable.stdout.count("from its proxy") == 2

    # The projector plays the copies; the record names the originals, whose people the
    # index knows, and says the copies were played.
    trainee = record.people.add("trainee", "T")
    loaded = parse_scenario(doorway_text, str(footage / "scenario.yaml"))
    player = HeadlessPlayer(clock)
    run = begin_run(record, loaded, session_id=record.sittings.open([trainee]), variant_id="a",
                    variant_assignment="chosen", trainee_ids=[trainee], instructor_id=None,
                    clock=clock, player=player)
    run.start()
    assert player.played[0].path == str(proxy)
    with record.engine.connect() as c:
        played = dict(c.execute(text("select clip_id, content_hash from run_clips")).all())
    assert played == {"door": door.content_hash,  # the knife's take is not filmed yet
                      "calm": index.by_path(footage / "a" / "calm.mp4").content_hash,
                      "knife": None}
    started = next(e for e in record.runs.events(run.state.run_id) if isinstance(e, RunStarted))
    assert started.playback_proxies == ["calm", "door"]

    # A new take copied over the original: its old copy would show the wrong frames.
    stat = door.path.stat()
    os.utime(door.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert playback_clip(loaded, index, "a", "door") == door.path
    shutil.copy(footage / "a" / "calm.mp4", door.path)
    index.scan([footage], VOCABULARY)
    assert index.by_path(door.path).playback_proxy_path is None
    record.close()

    # A copy that is still too slow is not indexed: the projector would drop its frames.
    monkeypatch.setattr(media_cli, "measure", lambda path, *, screen, seconds, **decoding: replace(
        real_measure(path, screen=screen, seconds=seconds, **decoding), decode_fps=1.0))
    slow = runner.invoke(app, ["media", "proxies", "--playback", "--height", "36", "--db", db],
                         env={"COLUMNS": "300"})
    assert slow.exit_code == media_cli.EXIT_PROBLEMS
    assert "a 36-line copy still decodes at only 1 fps here" in slow.output
    assert "try a smaller --height" in slow.output
    record = Record.open(db)
    assert record.media_index().by_path(door.path).playback_proxy_path is None
    record.close()


def test_the_playback_proxy_migration_goes_down_and_up_with_the_tags_kept(index, footage,
                                                                         tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    index.scan([footage], VOCABULARY)
    door = index.by_path(footage / "a" / "door.mp4")
    index.set_playback_proxy(door.id, tmp_path / "door.proxy.mp4")
    config = Config()
    config.set_main_option("script_location", "media_index:migrations")
    config.attributes["engine"] = index.engine
    command.downgrade(config, "m0001")
    columns = {c["name"] for c in inspect(index.engine).get_columns("media_clips")}
    assert "playback_proxy_path" not in columns and "proxy_path" in columns
    again = MediaIndex.open(index.engine)  # upgraded on opening
    door = again.by_path(footage / "a" / "door.mp4")
    assert door.playback_proxy_path is None and door.people["man"]["gender"] == ["man"]


def test_a_small_proxy_of_hd_footage_says_its_colours_are_bt709(tmp_path):
    from simulator.playback.decode import SegmentDecoder

    source = tmp_path / "hd.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=1280x720:rate=10:duration=1", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", str(source)], check=True)
    proxy = make_proxy(source, "cd" * 32, tmp_path / "cache", max_height=180)
    assert proxy.name == f"{'cd' * 32}.180p.proxy.mp4"
    for path, lines in ((source, 720), (proxy, 180)):
        decoder = SegmentDecoder(path, 0.0, 0.2, yuv=True)
        picture = next(iter(decoder)).picture
        decoder.close()
        # Unsaid in the source (HD, so BT.709); said in the proxy, which is under 720 lines.
        assert (picture.height, picture.matrix, picture.full_range) == (lines, "bt709", False)
