"""Stand-in clips: what they contain, how they are encoded, and how generation behaves."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import DOORWAY

from simulator.agency.profile import default_profile
from simulator.scenario import LoadedScenario, load_scenario, parse_scenario
from simulator.standins import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    Manifest,
    MissingToolError,
    RenderError,
    StandinError,
    filter_value,
    generate_scenario,
    plan_scenario,
    portrayal,
    read_manifest,
)
from simulator.standins.plan import voice_for
from simulator.standins.render import wrap

TOOLS = ("ffmpeg", "ffprobe", "espeak-ng")


@pytest.fixture
def tools_installed() -> None:
    # A failure, not a skip: bootstrap installs the tools, so their absence is a broken setup.
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run scripts/bootstrap.sh")


needs_tools = pytest.mark.usefixtures("tools_installed")

# DOORWAY with a script on its first segment: lines with every character drawtext and
# the filtergraph treat specially. Line times count from the segment's in-point (1.0).


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the fixture no longer contains {old!r}"
    return text.replace(old, new, 1)


DOORWAY_SCRIPTED = _edit(
    DOORWAY,
    "    out: 11.0\n",
    "    out: 11.0\n"
    "    lines:\n"
    "      - {at: 0.5, who: officer, says: \"Police! It's 100% fine: we're here, "
    "to talk.\", does: knocks twice}\n"
    "      - {at: 3.0, who: man, says: \"What?\", does: \"opens the door; 'quoted' "
    "back\\\\slash [x] {y} %{pts}\"}\n",
)
# One variant only, for tests that render more than once.
ONE_VARIANT = _edit(
    DOORWAY_SCRIPTED,
    "  - id: b\n"
    "    people: {man: {race: [black_african_american], gender: man, age_band: age_35_44,\n"
    "                   language: en, disability: none_visible}}\n"
    "    clips: {door: b/door.mp4, calm: b/calm.mp4, knife: b/knife.mp4}\n",
    "",
)
EXPECTED_DURATIONS = {"door": 11.5, "calm": 8.5, "knife": 5.5}


def _write(tmp: Path, text: str) -> LoadedScenario:
    folder = tmp / "doorway"
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    return load_scenario(folder)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _probe(path: Path, *args: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json", str(path)],
                         capture_output=True, check=True, text=True).stdout
    return json.loads(out)


def _loudest_db(path: Path, start: float, length: float) -> float:
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-ss", str(start), "-t", str(length),
         "-i", str(path), "-map", "0:a", "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, check=True, text=True)
    line = next(x for x in result.stderr.splitlines() if "max_volume" in x)
    value = line.split("max_volume:")[1].split()[0]
    return float("-inf") if value == "-inf" else float(value)


def _pixel_rgb(path: Path, at: float, x: int, y: int) -> tuple[int, int, int]:
    probe = _probe(path, "-select_streams", "v", "-show_entries", "stream=width,height")
    width, height = probe["streams"][0]["width"], probe["streams"][0]["height"]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-ss", str(at), "-i", str(path),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True).stdout
    assert len(raw) == width * height * 3
    i = (y * width + x) * 3
    return raw[i], raw[i + 1], raw[i + 2]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory) -> LoadedScenario:
    return _write(tmp_path_factory.mktemp("scenario"), DOORWAY_SCRIPTED)


@pytest.fixture(scope="module")
def generated(scripted, tmp_path_factory) -> tuple[Path, Manifest, list[str]]:
    if any(shutil.which(t) is None for t in TOOLS):
        pytest.fail("ffmpeg or espeak-ng missing: run scripts/bootstrap.sh")
    out = tmp_path_factory.mktemp("standins")
    messages: list[str] = []
    manifest = generate_scenario(scripted, out, size="tiny", progress=messages.append)
    return out, manifest, messages


# Planning: what each clip shows, without running anything.

def test_a_clip_lasts_to_the_last_out_point_of_its_segments_plus_half_a_second(scripted):
    plans = {(p.variant_id, p.clip_id): p for p in plan_scenario(scripted)}
    assert set(plans) == {(v, c) for v in "ab" for c in EXPECTED_DURATIONS}
    for (_, clip), plan in plans.items():
        assert plan.duration == EXPECTED_DURATIONS[clip]
    assert plans["a", "door"].path == "a/door.mp4"


def test_plan_places_captions_cues_and_titles_in_clip_time(scripted):
    door = next(p for p in plan_scenario(scripted) if p.path == "b/door.mp4")
    first, second = door.captions
    assert (first.start, first.end) == (1.5, 4.0)  # until the next line
    assert first.rows == ("Officer: Police! It's 100% fine: we're here, to talk.",
                          "[knocks twice]")
    assert (second.start, second.end) == (4.0, 7.0)  # no next line: three seconds
    assert second.speakers == ("man",)
    assert [(c.start, c.end, c.text) for c in door.cues] == [(5.0, 7.0, "CUE: Threat cue")]
    assert [(t.start, t.end, t.text) for t in door.titles] == [(1.0, 11.5, "door")]
    assert [(s.at, s.voice) for s in door.speech] == [(1.5, "en-us+m1"), (4.0, "en-us+m3")]


def test_figures_are_labelled_with_the_variant_portrayal_in_words(scripted):
    plans = {p.path: p for p in plan_scenario(scripted)}
    (a,) = plans["a/door.mp4"].figures
    (b,) = plans["b/door.mp4"].figures
    assert a.heading == "MAN (subject of the call)"
    assert a.portrayal == "portrayed as: White man, 35-44, English"
    assert b.portrayal == "portrayed as: Black or African American man, 35-44, English"


def test_portrayal_lists_several_values_and_conditions_but_not_none_visible():
    loaded = parse_scenario(_edit(
        DOORWAY,
        "race: [black_african_american], gender: man, age_band: age_35_44,\n"
        "                   language: en, disability: none_visible",
        "race: [black_african_american, hispanic_latino], gender: man, age_band: age_35_44,\n"
        "                   language: es, disability: [mobility_aid]"))
    text = portrayal(loaded.scenario.variant("b"), "man", default_profile())
    assert text == ("Black or African American and Hispanic or Latino man, 35-44, Spanish, "
                    "uses a mobility aid")


def test_voices_follow_language_and_gender_never_race():
    loaded = parse_scenario(DOORWAY)
    people = {"man"}
    a, b = loaded.scenario.variants
    assert voice_for("man", a, people) == voice_for("man", b, people) == "en-us+m3"
    spanish = b.model_copy(update={"people": {"man": {"language": "es", "gender": "woman"}}})
    assert voice_for("man", spanish, people) == "es-419+f3"
    signing = b.model_copy(update={"people": {"man": {"language": "asl"}}})
    assert voice_for("man", signing, people) is None
    assert voice_for("officer", signing, people) == "en-us+m1"


def test_clips_named_from_the_media_index_get_no_stand_in():
    loaded = parse_scenario(_edit(DOORWAY, "b/knife.mp4", "media:agency-knife-take-2"))
    planned = {(p.variant_id, p.clip_id) for p in plan_scenario(loaded)}
    assert ("a", "knife") in planned and ("b", "knife") not in planned


def test_one_file_for_two_variants_is_refused():
    loaded = parse_scenario(_edit(DOORWAY, "b/knife.mp4", "a/knife.mp4"))
    with pytest.raises(StandinError, match=r"a/knife\.mp4 is mapped by both a/knife and b/knife"):
        plan_scenario(loaded)


def test_filter_values_are_escaped_for_both_filtergraph_levels():
    assert filter_value("plain.txt") == "plain.txt"
    assert filter_value("a:b") == r"a\\:b"
    assert filter_value("between(t,1,2)") == r"between(t\,1\,2)"
    assert filter_value("it's [x];y") == r"it\\\'s\\\ \[x\]\;y"
    assert filter_value("back\\slash") == r"back\\\\slash"


def test_wrapping_keeps_to_the_row_count_and_marks_what_was_cut():
    rows = wrap("word " * 80, 14, 300, 3)
    assert len(rows) == 3 and rows[-1].endswith("…")
    assert wrap("short", 14, 300, 3) == ["short"]
    assert wrap("x" * 200, 14, 100, 9)[0] != "x" * 200  # an unbreakable word is cut


# Rendering: real ffmpeg and espeak-ng, "tiny" size.

@needs_tools
def test_every_variant_clip_is_written_and_recorded(generated, scripted):
    out, manifest, _ = generated
    for variant in scripted.scenario.variants:
        for relative in variant.clips.values():
            record = manifest.clip(relative)
            assert record is not None
            assert _sha(out / relative) == record.sha256
            assert (out / relative).stat().st_size == record.bytes < 60_000
    stored = json.loads((out / MANIFEST_NAME).read_text())
    assert stored["version"] == GENERATOR_VERSION and stored["size"] == "tiny"
    assert stored["parameters"]["width"] == 192 and stored["parameters"]["gop"] == 5
    assert stored["scenario_hash"] == scripted.content_hash
    assert set(stored["tools"]) >= {"ffmpeg", "espeak-ng"}
    assert read_manifest(out) == manifest
    # Nothing half-written is left behind, and files are readable like any other.
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]
    assert (out / "a/door.mp4").stat().st_mode & stat.S_IROTH


@needs_tools
def test_clips_are_h264_and_aac_of_the_planned_length(generated):
    out, manifest, _ = generated
    for record in manifest.clips:
        probe = _probe(out / record.path, "-show_streams", "-show_format")
        streams = {s["codec_type"]: s for s in probe["streams"]}
        assert streams["video"]["codec_name"] == "h264"
        assert (streams["video"]["width"], streams["video"]["height"]) == (192, 108)
        assert streams["video"]["pix_fmt"] == "yuv420p"
        assert streams["audio"]["codec_name"] == "aac"
        expected = EXPECTED_DURATIONS[record.clip]
        assert abs(float(probe["format"]["duration"]) - expected) <= 0.2


@needs_tools
def test_a_keyframe_at_least_every_half_second(generated):
    out, _, _ = generated
    probe = _probe(out / "a/door.mp4", "-select_streams", "v", "-skip_frame", "nokey",
                   "-show_entries", "frame=pts_time")
    times = [float(f["pts_time"]) for f in probe["frames"]]
    assert times[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 0.5 + 1e-6
    assert EXPECTED_DURATIONS["door"] - times[-1] <= 0.5 + 1e-6


@needs_tools
def test_lines_are_spoken_at_their_time_and_other_clips_are_silent(generated):
    out, _, _ = generated
    door = out / "b/door.mp4"
    assert _loudest_db(door, 0.0, 1.4) < -80  # before the first line
    assert _loudest_db(door, 1.6, 0.8) > -30  # the officer's line, from 1.5 s
    assert _loudest_db(out / "b/knife.mp4", 0.0, 5.5) < -80


@needs_tools
def test_the_cue_marker_shows_from_the_cue_time(generated):
    out, _, _ = generated
    # The red frame round the picture: absent before the cue at 5.0 s, present after.
    before = _pixel_rgb(out / "a/door.mp4", 4.5, 0, 80)
    during = _pixel_rgb(out / "a/door.mp4", 5.3, 0, 80)
    assert not (before[0] > 150 and before[1] < 90)
    assert during[0] > 150 and during[1] < 90


@needs_tools
def test_generation_is_deterministic(generated, scripted, tmp_path):
    out, manifest, _ = generated
    again = generate_scenario(scripted, tmp_path / "again", size="tiny")
    assert [(c.path, c.sha256) for c in again.clips] == \
        [(c.path, c.sha256) for c in manifest.clips]
    for record in again.clips:
        assert _sha(tmp_path / "again" / record.path) == _sha(out / record.path)


@needs_tools
def test_a_second_run_renders_nothing(generated, scripted):
    out, manifest, first_messages = generated
    assert len(manifest.rendered) == 6 and any("rendering 6 of 6" in m for m in first_messages)
    mtimes = {r.path: (out / r.path).stat().st_mtime_ns for r in manifest.clips}
    messages: list[str] = []
    again = generate_scenario(scripted, out, size="tiny", progress=messages.append)
    assert again == manifest and again.rendered == ()
    assert messages == ["doorway: 6 stand-in clips up to date (tiny)"]
    assert mtimes == {r.path: (out / r.path).stat().st_mtime_ns for r in manifest.clips}


@needs_tools
def test_only_a_damaged_or_missing_clip_is_rendered_again(generated, scripted, tmp_path):
    out, manifest, _ = generated
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "a/calm.mp4").write_bytes(b"not a video")
    (copy / "b/knife.mp4").unlink()
    again = generate_scenario(scripted, copy, size="tiny")
    assert sorted(again.rendered) == ["a/calm.mp4", "b/knife.mp4"]
    assert _sha(copy / "a/calm.mp4") == manifest.clip("a/calm.mp4").sha256


@needs_tools
def test_changed_parameters_render_everything_again(tmp_path):
    loaded = _write(tmp_path, ONE_VARIANT)
    out = tmp_path / "out"
    assert len(generate_scenario(loaded, out, size="tiny").rendered) == 3
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest["parameters"]["crf"] = 1  # as if the preset had changed
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert len(generate_scenario(loaded, out, size="tiny").rendered) == 3


@needs_tools
def test_paths_with_filtergraph_characters_are_escaped(monkeypatch, tmp_path):
    weird = tmp_path / "it's: a, [weird]; 100% dir \\ x"
    weird.mkdir()
    # Texts and speech are written to the temporary folder, and named inside the graph.
    monkeypatch.setattr(tempfile, "tempdir", str(weird))
    loaded = _write(weird, _edit(ONE_VARIANT, "  - id: a\n",
                                 "  - id: a\n    label: 'A: \"quoted\", 50%'\n"))
    manifest = generate_scenario(loaded, weird / "out", size="tiny")
    assert len(manifest.clips) == 3
    assert all((weird / "out" / c.path).stat().st_size == c.bytes for c in manifest.clips)


def test_missing_tools_are_named_with_their_package_and_the_bootstrap(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(MissingToolError) as raised:
        generate_scenario(parse_scenario(DOORWAY), tmp_path, size="tiny")
    message = str(raised.value)
    assert "`ffmpeg espeak-ng`" in message and "scripts/bootstrap.sh" in message
    assert not list(tmp_path.iterdir())


def _fake_tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_an_ffmpeg_failure_names_the_clip_and_quotes_its_errors(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(bin_dir, "ffmpeg", 'case "$*" in *-version*) echo "ffmpeg version 0.0-fake";'
               ' exit 0;; esac\necho "early noise" >&2\n'
               'echo "No such filter: fake" >&2\nexit 1\n')
    _fake_tool(bin_dir, "espeak-ng", 'echo "eSpeak NG text-to-speech: 0.0-fake"\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    out = tmp_path / "out"
    with pytest.raises(RenderError) as raised:
        generate_scenario(parse_scenario(DOORWAY), out, size="tiny")
    message = str(raised.value)
    assert "No such filter: fake" in message and "exit 1" in message
    assert str(out) in message and ".mp4" in message
    # No clip under a real name, nothing half-written, no manifest.
    assert [p for p in out.rglob("*") if p.is_file()] == []

