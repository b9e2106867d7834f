"""Clips checked against what the scenario asks of them, and absolute clip paths.

A clip too short for its segment is an error wherever media is checked (``validate
--check-media`` and the pre-flight before a run), probed from the file itself when the
index has not seen it or it changed since. An absolute clip path plays only from under a
media root configured for this PC; anywhere else it is one clear error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulator.agency import default_profile
from simulator.cli.app import app
from simulator.documents import DocumentError
from simulator.media import IndexedClips, vocabulary_for
from simulator.paths import DATA_ENV
from simulator.playback.barcode import write_barcode_clip
from simulator.playback.preflight import VLC_LARGEST, preflight
from simulator.record import Record
from simulator.scenario import lint, load_scenario, parse_scenario

runner = CliRunner()
MEDIA_ROOTS_FILE = "media-roots.yaml"

PORCH = """\
schema_version: 1
id: porch
title: Porch
people:
  - {id: man, role: subject}
variants:
  - id: a
    people: {man: {race: white, gender: man, age_band: age_35_44, language: en,
                   disability: none_visible}}
    clips: {talk: 'CLIP'}
start: talk
segments:
  - id: talk
    clip: talk
    in: 0
    out: 9
    cues:
      - {id: hand, at: 7, kind: threat_cue, person: man}
    outcome: {kind: resolved_peacefully}
"""
CLIPS_LINE = PORCH.splitlines().index("    clips: {talk: 'CLIP'}") + 1


def clip(path: Path, seconds: int) -> Path:
    """A real H.264 clip of ``seconds`` at 10 frames a second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_barcode_clip(path, clip_number=1, frames=10 * seconds, fps=10, width=160,
                       height=90, audio=False)
    return path


def porch(folder: Path, reference: str, text: str = PORCH) -> Path:
    """The porch scenario in ``folder``/porch, its clip named by ``reference``."""
    scenario = folder / "porch" / "scenario.yaml"
    scenario.parent.mkdir(parents=True, exist_ok=True)
    scenario.write_text(text.replace("CLIP", reference), encoding="utf-8")
    return scenario


def validate(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["validate", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output.splitlines()


def errors(lines: list[str]) -> list[str]:
    return [line for line in lines if ": error: " in line]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'record.sqlite3'}"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own, where media roots are configured."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv(DATA_ENV, str(folder))
    return folder


def set_media_roots(data: Path, *roots: Path | str) -> Path:
    listed = "".join(f"  - '{root}'\n" for root in roots)
    (data / MEDIA_ROOTS_FILE).write_text(f"schema_version: 1\nroots:\n{listed}",
                                         encoding="utf-8")
    return data / MEDIA_ROOTS_FILE


# -- a clip too short for its segment ---------------------------------------------------

TOO_SHORT = ("{path} lasts 5s, but segment `talk` needs it to 9s (`out`, segments[0].out); "
             "also past the clip's end: cue `hand` (7s); give segment `talk` an `out` of at "
             "most 5s, or use a clip at least 9s long")


def test_validate_check_media_refuses_a_clip_too_short_though_it_is_not_indexed(tmp_path, db):
    short = clip(tmp_path / "library" / "porch" / "a" / "talk.mp4", 5)
    scenario = porch(tmp_path / "library", "a/talk.mp4")
    code, lines = validate("--check-media", "--db", db, str(scenario))
    assert code == 1, lines
    [error] = errors(lines)
    assert error.startswith(f"{scenario}:{CLIPS_LINE}:")
    assert error.endswith(": error: variants[0].clips.talk: "
                          + TOO_SHORT.format(path=short) + " [clip-too-short]")
    assert any("[clip-not-indexed]" in line for line in lines)


def test_validate_check_media_probes_a_clip_changed_since_it_was_indexed(tmp_path, db):
    talk = clip(tmp_path / "library" / "porch" / "a" / "talk.mp4", 10)
    scenario = porch(tmp_path / "library", "a/talk.mp4")
    record = Record.open(db)
    record.media_index().scan([talk.parent], vocabulary_for(default_profile()))
    record.close()
    code, lines = validate("--check-media", "--db", db, str(scenario))
    assert code == 0 and errors(lines) == [], lines
    # A shorter take copied over the indexed one: the index still says 10 s.
    clip(talk, 5)
    code, lines = validate("--check-media", "--db", db, str(scenario))
    assert code == 1
    [error] = errors(lines)
    assert error.endswith(TOO_SHORT.format(path=talk) + " [clip-too-short]")


def test_a_segment_starting_past_the_clips_end_is_told_to_move(tmp_path, db):
    text = PORCH.replace("    outcome: {kind: resolved_peacefully}\n", """\
    lines:
      - {at: 8.5, who: man, says: Go away}
    decision:
      default: late
      while_waiting: {mode: loop, from: 8, to: 9}
      branches:
        - {id: late, label: Later, hotkey: "1", to: late}
  - id: late
    clip: talk
    in: 6
    out: 8
    outcome: {kind: resolved_peacefully}
""")
    short = clip(tmp_path / "library" / "porch" / "a" / "talk.mp4", 5)
    loaded = load_scenario(porch(tmp_path / "library", "a/talk.mp4", text))
    record = Record.open(db)
    media = IndexedClips(loaded, record.media_index())
    report = lint(loaded.scenario, default_profile(), source=loaded.source, media=media)
    record.close()
    assert [p.message for p in report.errors] == [
        f"{short} lasts 5s, but segment `talk` needs it to 9s (`out`, segments[0].out); also "
        "past the clip's end: cue `hand` (7s), the `while_waiting` loop (9s), line 1 (8.5s); "
        "give segment `talk` an `out` of at most 5s, or use a clip at least 9s long",
        f"{short} lasts 5s, but segment `late` needs it to 8s (`out`, segments[1].out); also "
        "past the clip's end: `in` (6s); move segment `late` (`in` and `out`) into the "
        "clip's 5s, or use a clip at least 8s long",
    ]
    assert {p.code for p in report.errors} == {"clip-too-short"}


def test_preflight_refuses_a_clip_too_short_for_its_segment(tmp_path):
    loaded = parse_scenario(PORCH.replace("CLIP", "a/talk.mp4"), str(tmp_path / "s.yaml"))
    long_enough = clip(tmp_path / "long" / "talk.mp4", 9)
    assert preflight(loaded, "a", lambda v, c: long_enough) == []
    short = clip(tmp_path / "short" / "talk.mp4", 5)
    [problem] = preflight(loaded, "a", lambda v, c: short)
    assert (problem.segment_id, problem.clip_id, problem.path) == ("talk", "talk", short)
    assert str(problem) == "segment `talk`: " + TOO_SHORT.format(path=short).replace(
        " lasts", ": lasts", 1)


def test_preflight_refuses_footage_larger_than_the_player_is_for(tmp_path):
    loaded = parse_scenario(PORCH.replace("CLIP", "a/talk.mp4"), str(tmp_path / "s.yaml"))
    big = tmp_path / "big.mp4"
    write_barcode_clip(big, clip_number=1, frames=270, fps=30, width=1920, height=1080,
                       audio=False)
    assert preflight(loaded, "a", lambda v, c: big) == []  # the frame-exact player
    problems = preflight(loaded, "a", lambda v, c: big, largest=VLC_LARGEST,
                         player="the vlc player")
    assert [p.segment_id for p in problems] == ["talk"]
    assert str(problems[0]) == (
        f"segment `talk`: {big}: 1920x1080 is larger than the vlc player is for (1280x720): "
        "its memory grows with every cut; play with `backend: pyav` in projector.yaml, or "
        "re-encode the clip smaller")


def test_project_refuses_to_play_a_clip_too_short_for_its_segment(tmp_path, db):
    short = clip(tmp_path / "library" / "porch" / "a" / "talk.mp4", 5)
    porch(tmp_path / "library", "a/talk.mp4")
    result = runner.invoke(app, ["project", "--scenario", "porch", "--library",
                                 str(tmp_path / "library"), "--db", db, "--windowed",
                                 "320x180"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    # The pre-flight's lines are wrapped to the terminal's width.
    assert ("pre-flight: segment `talk`: " + TOO_SHORT.format(path=short).replace(
        " lasts", ": lasts", 1)) in " ".join(result.output.split())


def test_project_on_the_vlc_player_refuses_footage_larger_than_720p(tmp_path, db):
    big = tmp_path / "library" / "porch" / "a" / "talk.mp4"
    big.parent.mkdir(parents=True)
    write_barcode_clip(big, clip_number=1, frames=270, fps=30, width=1920, height=1080,
                       audio=False)
    porch(tmp_path / "library", "a/talk.mp4")
    result = runner.invoke(app, ["project", "--scenario", "porch", "--library",
                                 str(tmp_path / "library"), "--db", db, "--windowed",
                                 "320x180", "--backend", "vlc"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert ("1920x1080 is larger than the vlc player is for (1280x720)"
            in " ".join(result.output.split()))


# -- absolute clip paths and media roots --------------------------------------------------

def outside_roots(reference: str, roots: str) -> str:
    return (f"`{reference}` is an absolute path outside the scenario's folder, and {roots}; "
            "move the clip under the scenario's folder and name it from there, or add a "
            "media root holding it")


@pytest.mark.parametrize("reference", [
    "/srv/footage/door.mp4", "C:\\Footage\\door.mp4", "\\\\nas\\footage\\door.mp4",
])
def test_an_absolute_clip_path_with_no_media_root_is_one_clear_error(tmp_path, data,
                                                                     reference):
    scenario = porch(tmp_path / "library", reference)
    code, lines = validate(str(scenario))
    assert code == 1
    [error] = errors(lines)
    assert error == (
        f"{scenario}:{CLIPS_LINE}:13: error: variants[0].clips.talk: " + outside_roots(
            reference, f"this PC has no media roots ({data / MEDIA_ROOTS_FILE} lists none)")
        + " [clip-outside-media-roots]")


def test_an_absolute_clip_path_outside_every_media_root_is_one_clear_error(tmp_path, data):
    footage = tmp_path / "footage"
    footage.mkdir()
    roots_file = set_media_roots(data, footage)
    elsewhere = clip(tmp_path / "usb" / "talk.mp4", 9)
    scenario = porch(tmp_path / "library", str(elsewhere))
    code, lines = validate("--check-media", "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}",
                           str(scenario))
    assert code == 1
    [error] = errors(lines)
    assert error.endswith(": error: variants[0].clips.talk: " + outside_roots(
        str(elsewhere), f"it is under none of the media roots in {roots_file} ({footage})")
        + " [clip-outside-media-roots]")


def test_an_absolute_clip_path_under_a_media_root_is_played(tmp_path, data, db):
    footage = tmp_path / "footage"
    talk = clip(footage / "porch" / "talk.mp4", 9)
    set_media_roots(data, footage)
    scenario = porch(tmp_path / "library", str(talk))
    code, lines = validate("--check-media", "--db", db, str(scenario))
    assert code == 0 and errors(lines) == [], lines
    loaded = load_scenario(scenario)
    assert loaded.clip_path("a", "talk") == talk
    assert preflight(loaded, "a", loaded.clip_path) == []


def test_a_link_under_a_media_root_to_a_file_outside_it_is_refused(tmp_path, data):
    footage = tmp_path / "footage"
    footage.mkdir()
    set_media_roots(data, footage)
    outside = clip(tmp_path / "elsewhere" / "talk.mp4", 9)
    link = footage / "talk.mp4"
    link.symlink_to(outside)
    text = PORCH.replace("CLIP", str(link))
    with pytest.raises(DocumentError) as refused:
        load_scenario(porch(tmp_path / "library", str(link)))
    [problem] = refused.value.problems
    assert problem.field == "variants[0].clips.talk"
    assert problem.message.startswith(f"`{link}` is a link to {outside}, outside every media "
                                      "root")
    # Text that is not checked on loading (a stored version) is never played from there.
    assert parse_scenario(text, str(tmp_path / "s.yaml")).clip_path("a", "talk") is None


@pytest.mark.parametrize("reference", [
    "../talk.mp4", "a/../../talk.mp4", "/srv/footage/../../etc/passwd",
    "C:\\Footage\\..\\..\\Windows\\win.ini", "C:talk.mp4", "",
])
def test_a_clip_path_that_climbs_out_is_one_error(reference):
    with pytest.raises(DocumentError) as refused:
        parse_scenario(PORCH.replace("CLIP", reference), "s.yaml")
    [problem] = refused.value.problems
    assert problem.field == "variants[0].clips"


def test_an_absolute_path_is_loaded_only_from_under_a_media_root_even_when_stored(tmp_path,
                                                                                 data):
    elsewhere = clip(tmp_path / "usb" / "talk.mp4", 9)
    stored = parse_scenario(PORCH.replace("CLIP", str(elsewhere)), "stored")
    assert stored.clip_path("a", "talk") is None
    set_media_roots(data, elsewhere.parent)
    assert stored.clip_path("a", "talk") == elsewhere


def test_a_media_root_that_is_not_absolute_is_refused_naming_its_line(tmp_path, data):
    roots_file = set_media_roots(data, "footage")
    scenario = porch(tmp_path / "library", str(tmp_path / "talk.mp4"))
    code, lines = validate(str(scenario))
    assert code == 1
    [error] = errors(lines)
    assert error.startswith(f"{roots_file}:3:5: error: roots[0]: ")
    assert "`footage` is not an absolute folder" in error
