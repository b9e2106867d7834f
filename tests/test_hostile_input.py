"""Hostile files and filters: each refused with a clear error, and nothing changed.

The pairing brute force and hostile WebSocket messages are in test_console_server.py,
test_remote_console.py, test_transport.py and the protocol fuzzer; YAML bombs in
test_scenario_loading.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import DOORWAY
from sqlalchemy import text
from typer.testing import CliRunner

from simulator.agency import default_profile
from simulator.cli.app import app
from simulator.documents import DocumentError
from simulator.documents.loading import MAX_DOCUMENT_BYTES
from simulator.media import IndexedClips, vocabulary_for
from simulator.playback.barcode import write_barcode_clip
from simulator.record import Record
from simulator.scenario import lint, load_scenario, parse_scenario
from simulator.scenario.loader import SCENARIO_FILE

runner = CliRunner()
DOOR = "clips: {door: a/door.mp4, calm: a/calm.mp4, knife: a/knife.mp4}"


# Absolute paths are refused when a scenario file is loaded, unless under a media root of
# this PC: tests/test_media_checks.py.
@pytest.mark.parametrize("reference", [
    "/etc/../etc/passwd", "C:\\\\Windows\\\\..\\\\win.ini", "C:win.ini",
    "../other/door.mp4", "a/../../door.mp4", "..\\\\..\\\\door.mp4", "",
])
def test_a_clip_path_out_of_the_scenarios_folder_is_refused(reference):
    hostile = DOORWAY.replace(DOOR, DOOR.replace("a/door.mp4", f'"{reference}"'))
    with pytest.raises(DocumentError) as refused:
        parse_scenario(hostile, "doorway.yaml")
    (problem,) = refused.value.problems
    assert problem.field == "variants[0].clips"
    assert "outside the scenario's folder; give a path inside it" in problem.message
    assert "media:<clip id>" in problem.message


def test_a_clip_that_links_out_of_the_scenarios_folder_is_not_played(tmp_path):
    outside = tmp_path / "elsewhere" / "door.mp4"
    outside.parent.mkdir()
    write_barcode_clip(outside, clip_number=1, frames=10, width=160, height=90, audio=False)
    folder = tmp_path / "library" / "doorway"
    (folder / "a").mkdir(parents=True)
    (folder / SCENARIO_FILE).write_text(DOORWAY, encoding="utf-8")
    (folder / "a" / "door.mp4").symlink_to(outside)
    loaded = load_scenario(folder)
    assert loaded.clip_path("a", "door") is None
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    index = record.media_index()
    report = lint(loaded.scenario, default_profile(), media=IndexedClips(loaded, index))
    missing = [p for p in report.problems if p.code == "clip-missing"
               and p.field == "variants[0].clips.door"]
    assert missing and "a link to a file outside the scenario's folder" in missing[0].message
    record.close()


def test_a_huge_scenario_file_is_refused_unread(tmp_path):
    huge = tmp_path / SCENARIO_FILE
    huge.write_text("# padding\n" * (MAX_DOCUMENT_BYTES // 10 + 1), encoding="utf-8")
    with pytest.raises(DocumentError, match=r"bytes; a scenario is at most 4,194,304 bytes"):
        load_scenario(tmp_path)


def _absurd_clip(path: Path, width: int, height: int, last_second: int) -> None:
    """Two black frames, at 0 s and at ``last_second``: as big and as long as claimed."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        picture = np.zeros((height, width, 3), dtype=np.uint8)
        for pts in (0, last_second):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
                format="yuvj420p")
            frame.pts = pts
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_media_with_absurd_dimensions_or_duration_is_refused_and_the_scan_goes_on(tmp_path):
    footage = tmp_path / "footage"
    footage.mkdir()
    _absurd_clip(footage / "giant.mkv", 16384, 4200, 1)
    _absurd_clip(footage / "endless.mkv", 64, 48, 30_000)
    write_barcode_clip(footage / "fine.mp4", clip_number=1, frames=10, width=160, height=90,
                       audio=False)
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    index = record.media_index()
    report = index.scan([footage], vocabulary_for(default_profile()))
    reasons = {path.name: reason for path, reason in report.unreadable}
    assert reasons == {"giant.mkv": "frame size 16384x4200 is beyond any projector",
                       "endless.mkv": "claims to last 8.3 h; not training footage"}
    assert [c.path.name for c in index.clips() if c.status == "present"] == ["fine.mp4"]
    record.close()


def test_filters_carrying_sql_are_values_not_statements(tmp_path):
    from simulator.scenario import bundled_library

    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    script = str(bundled_library() / "welfare-check" / "demo-script.yaml")
    ran = runner.invoke(app, ["run", "--headless", "--scenario", "welfare-check", "--script",
                              script, "--speed", "1000", "--db", db])
    assert ran.exit_code == 0, ran.output

    def counts() -> dict[str, int]:
        with Record.open(db).engine.connect() as c:
            return {t: c.execute(text(f"select count(*) from {t}")).scalar()
                    for t in ("events", "people", "runs", "media_clips")}

    before = counts()
    injections = [
        (["media", "search", "--shows", "race=white' OR '1'='1"], "is not a value of `race`"),
        (["media", "search", "--tag", "light=night'; DROP TABLE media_clips; --"], None),
        (["audit", "report", "--cohort", "x'; DROP TABLE events; --"], "no trainee"),
        (["audit", "report", "--trainee", "x' OR 1=1 --"], "no trials"),
        (["records", "officer", "Robert'); DROP TABLE people;--"], "no trainee named"),
        (["sessions", "show", "%' OR '1'='1"], "no session starts with"),
        (["export", "%", "--format", "events-csv"], "neither a run nor a session"),
    ]
    for args, says in injections:
        result = runner.invoke(app, [*args, "--db", db], env={"COLUMNS": "200"})
        if says is None:  # a well-formed filter that matches nothing
            assert result.exit_code == 0 and "0 clips" in result.output, args
        else:
            assert result.exit_code == 2 and says in result.output, (args, result.output)
    assert counts() == before
    listed = runner.invoke(app, ["audit", "report", "--db", db])
    assert listed.exit_code == 0 and json.loads(listed.stdout)["trials"] > 0
