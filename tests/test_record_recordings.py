"""Trainee recordings in the record: the tables and their migration, the repository, verify
and backups, on SQLite and a real PostgreSQL, with real files in a real data folder."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError
from test_record import play_some

from simulator.paths import check_store, installation, recordings_dir
from simulator.record import Record, verify_run
from simulator.record.app_role import grant_statements
from simulator.record.backup import BackupError, backup, restore, staged
from simulator.record.database import create_record_engine, migrate
from simulator.record.rows import now
from simulator.record.schema import recording_fragments, recordings

FRAGMENT_BYTES = 3000


def recorded_run(record: Record, doorway, clock, *, fragments: int = 3,
                 store: Path | None = None) -> tuple[str, str, str, Path]:
    """A run with a recording of ``fragments`` files in the data folder's store (or
    ``store``): the run's id, its trainee's, the recording's id and its folder."""
    run, trainee = play_some(record, doorway, clock, finish=False)
    run_id = run.state.run_id
    folder = (store or recordings_dir()) / run_id
    folder.mkdir(parents=True)
    recording_id = record.recordings.add(
        run_id, 1, str(folder) if store else run_id, camera="Room cam (USB)",
        microphone="Lectern mic", video_size="1280x720", fps=30.0, audio_rate=48000)
    for index in range(fragments):
        name = f"{index:06d}.mp4"
        data = bytes([index + 1]) * FRAGMENT_BYTES
        (folder / name).write_bytes(data)
        record.recordings.add_fragment(
            recording_id, index, name, 1, index * 1_000_000_000,
            index * 1_000_000_000 + 966_666_666, 30, 48000,
            hashlib.sha256(data).hexdigest(), len(data), "1/1000000")
    (folder / "manifest.jsonl").write_text("{}\n", encoding="utf-8")
    return run_id, trainee, recording_id, folder


@pytest.fixture
def local(tmp_path) -> Record:
    """A SQLite record, for what does not depend on the database: files, verify, backups."""
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


@pytest.fixture
def data_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("BRANCHPOINT_DATA", str(folder))
    return folder


def test_the_upgrade_to_0008_keeps_the_settings_and_adds_recordings(db_url, data_folder):
    engine = create_record_engine(db_url)
    migrate(engine, to="0007")
    with engine.begin() as c:
        # As 0007 knew the table: two columns fewer than now.
        c.execute(text("INSERT INTO agency_settings (agency_key, retention_days, "
                       "idle_minutes) VALUES ('*', 30, 5)"))
    engine.dispose()
    record = Record.open(db_url)
    try:
        assert record.agency_settings.of(None) == (30, 5, None, None)
        assert record.recordings.of_runs([]) == []
    finally:
        record.close()


def test_fragments_are_added_once_in_order_and_never_under_another_hash(
        record, doorway, clock, data_folder):
    run_id, _, recording_id, folder = recorded_run(record, doorway, clock)
    [stored] = record.recordings.of_run(run_id)
    assert (stored.folder, stored.location(), stored.held, stored.erased_utc) == (
        run_id, folder, True, None)
    assert (stored.camera, stored.video_size, stored.fps, stored.audio_rate) == (
        "Room cam (USB)", "1280x720", 30.0, 48000)
    assert [f.index for f in stored.fragments] == [0, 1, 2]
    first = stored.fragments[0]
    # A crash scan registering what was already registered changes nothing.
    record.recordings.add_fragment(recording_id, 0, first.name, 1, first.first_ns,
                                   first.last_ns, 30, 48000, first.sha256, first.size_bytes,
                                   first.time_base)
    with pytest.raises(ValueError, match=r"fragment 0 .* already recorded with SHA-256"):
        record.recordings.add_fragment(recording_id, 0, first.name, 1, 0, 1, 30, 48000,
                                       "0" * 64, 10, "1/1000000")
    assert record.recordings.of_run(run_id)[0].fragments == stored.fragments
    # A resumed run records a second time base into the same folder, and no other.
    resumed = record.recordings.add(run_id, 9, run_id)
    with pytest.raises(ValueError, match="share its one folder"):
        record.recordings.add(run_id, 12, str(data_folder / "elsewhere" / run_id))
    assert [r.id for r in record.recordings.of_run(run_id)] == [recording_id, resumed]
    assert record.recordings.runs_with_recordings([run_id, "nope"]) == {run_id}


def test_a_recording_that_would_not_do_is_refused_saying_why(
        local, doorway, clock, data_folder):
    run, _ = play_some(local, doorway, clock, finish=False)
    run_id = run.state.run_id
    for folder, given, message in (
            ("../../etc", {}, "is not <store>/"),
            ("/srv/recordings/other-run", {}, "is not <store>/"),
            (run_id, {"camera": "cam\x1b[2J"},
             "the camera's name: character 4 is U\\+001B ESCAPE"),
            (run_id, {"video_size": "big"}, "give width x height"),
            (run_id, {"audio_rate": 0}, "samples per second")):
        with pytest.raises(ValueError, match=message):
            local.recordings.add(run_id, 1, folder, **given)
    assert local.recordings.of_run(run_id) == []


def test_a_fragment_that_would_not_do_is_refused_saying_why(
        local, doorway, clock, data_folder):
    _, _, recording_id, _ = recorded_run(local, doorway, clock, fragments=0)
    good = {"recording_id": recording_id, "index": 0, "name": "000000.mp4", "base_seq": 1,
            "first_ns": 0, "last_ns": 5, "video_frames": 1, "audio_samples": 0,
            "sha256": "a" * 64, "size_bytes": 1, "time_base": "1/1000000"}
    for change, message in (({"name": "../000000.mp4"}, "is not a fragment's"),
                            ({"name": "C:evil.mp4"}, "is not a fragment's"),
                            ({"name": "evil.mp4"}, "is not a fragment's"),
                            ({"name": "000001.mp4"}, "not 000000.mp4 as its index says"),
                            ({"sha256": "A" * 64}, "64 lower-case hex"),
                            ({"time_base": "fast"}, "give it as `1/1000000`"),
                            ({"last_ns": -1}, "last stamp before its first"),
                            ({"recording_id": "no-such"}, "no recording no-such")):
        with pytest.raises(ValueError, match=message):
            local.recordings.add_fragment(**(good | change))


def test_verify_checks_every_fragment_and_names_the_run_the_fragment_and_the_fix(
        local, doorway, clock, data_folder):
    run_id, _, _, folder = recorded_run(local, doorway, clock)
    checked = verify_run(local, run_id)
    assert checked.ok and checked.recording == f"recording: 3 fragments checked in {folder}"
    (folder / "000001.mp4").unlink()
    (folder / "000002.mp4").write_bytes(b"\x07" * FRAGMENT_BYTES)  # same size, other bytes
    found = verify_run(local, run_id)
    assert [(f.kind, f.seq) for f in found.findings] == [("recording_missing", None),
                                                         ("recording_changed", None)]
    missing, changed = (f.detail for f in found.findings)
    assert missing.startswith(f"recording fragment 1 (000001.mp4) of run {run_id} is missing")
    assert "does not match its recorded SHA-256" in changed
    assert "--include-recordings" in missing


def test_verify_names_files_a_stopped_run_left_unstored_without_failing(
        local, doorway, clock, data_folder):
    run_id, _, _, folder = recorded_run(local, doorway, clock)
    (folder / "000003.mp4").write_bytes(b"\x04" * FRAGMENT_BYTES)
    (folder / "000004.mp4").write_bytes(b"\x05" * FRAGMENT_BYTES)
    checked = verify_run(local, run_id)
    assert checked.ok
    assert checked.recording == (
        f"recording: 3 fragments checked in {folder}; 2 fragment files in {folder} not in "
        "the record yet: resuming the run stores them")


def test_verify_skips_an_erased_or_not_held_recording_and_says_so(
        local, doorway, clock, data_folder):
    run_id, _, recording_id, folder = recorded_run(local, doorway, clock)
    for file in folder.iterdir():
        file.unlink()
    assert local.recordings.mark_erased([recording_id], now()) == 1
    assert local.recordings.mark_erased([recording_id], now()) == 0  # once only
    checked = verify_run(local, run_id)
    assert checked.ok and checked.recording is not None
    assert checked.recording.startswith("recording erased ")
    assert checked.recording.endswith("3 fragments' hashes kept, their files not checked")
    assert local.recordings.runs_with_recordings([run_id]) == set()
    with pytest.raises(ValueError, match="was erased"):
        local.recordings.add(run_id, 20, run_id)
    with pytest.raises(ValueError, match="was erased"):
        local.recordings.add_fragment(recording_id, 7, "000007.mp4", 1, 0, 1, 1, 0,
                                       "b" * 64, 1, "1/1000000")


def test_a_backup_without_the_files_restores_them_as_not_held_here(
        local, doorway, clock, data_folder, tmp_path):
    kept_run, *_ = recorded_run(local, doorway, clock)
    lost_run, _, _, lost_folder = recorded_run(local, doorway, clock, fragments=2)
    made = backup(local, tmp_path / "record.zip")
    assert (made.recordings_included, made.recording_files, made.rows["recordings"],
            made.rows["recording_fragments"]) == (False, 0, 2, 5)
    with zipfile.ZipFile(tmp_path / "record.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert not [n for n in archive.namelist() if n.startswith("recordings/")]
    assert manifest["recordings"] == {"included": False, "files": 0, "bytes": 0,
                                      "elsewhere": []}
    # The PC lost one run's files, not the other's: that one is still held here.
    for file in lost_folder.iterdir():
        file.unlink()
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "record.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    restored = restore(stage, target, checked)
    assert (restored.recordings_included, restored.recordings_not_held) == (False, 1)
    assert target.recordings.of_run(kept_run)[0].held
    assert not target.recordings.of_run(lost_run)[0].held
    lost = verify_run(target, lost_run)
    assert lost.ok and lost.recording == ("recording not held here (restored from a backup "
                                          "without its files): 2 fragments not checked")
    assert verify_run(target, kept_run).recording.startswith("recording: 3 fragments checked")
    for opened in (stage, target):
        opened.close()


def test_a_backup_with_the_files_puts_them_back_where_the_record_says(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    run_id, _, _, folder = recorded_run(local, doorway, clock)
    agency_store = tmp_path / "agency-store"
    store_run, _, _, store_folder = recorded_run(local, doorway, clock, fragments=1,
                                                 store=agency_store)
    made = backup(local, tmp_path / "record.zip", include_recordings=True)
    assert (made.recordings_included, made.recording_files, made.recording_bytes) == (
        True, 4, 4 * FRAGMENT_BYTES)
    with zipfile.ZipFile(tmp_path / "record.zip") as archive:
        assert json.loads(archive.read("manifest.json"))["recordings"]["included"] is True
        assert archive.getinfo(f"recordings/{run_id}/000002.mp4").compress_type == \
            zipfile.ZIP_STORED
    # A new PC: another data folder, and the agency's store emptied.
    new_data = tmp_path / "new-pc"
    monkeypatch.setenv("BRANCHPOINT_DATA", str(new_data))
    for file in store_folder.iterdir():
        file.unlink()
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "record.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    # The agency's store only as the administrator names it for the restore.
    restored = restore(stage, target, checked, stores=[agency_store])
    assert (restored.recordings_included, restored.recording_files) == (True, 4)
    assert (new_data / "recordings" / run_id / "000002.mp4").read_bytes() == \
        (folder / "000002.mp4").read_bytes()
    assert (store_folder / "000000.mp4").exists()
    assert all(verify_run(target, r).ok for r in (run_id, store_run))
    for opened in (stage, target):
        opened.close()


def test_a_restore_that_fails_removes_the_files_it_put_back(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    run_id, *_ = recorded_run(local, doorway, clock)
    backup(local, tmp_path / "record.zip", include_recordings=True)
    new_data = tmp_path / "new-pc"
    monkeypatch.setenv("BRANCHPOINT_DATA", str(new_data))
    # Another file already where the last fragment goes: nothing is overwritten.
    (new_data / "recordings" / run_id).mkdir(parents=True)
    (new_data / "recordings" / run_id / "000002.mp4").write_bytes(b"someone else's")
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "record.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    with pytest.raises(BackupError, match=r"000002\.mp4 is already there and has 14 bytes"):
        restore(stage, target, checked)
    assert sorted(p.name for p in (new_data / "recordings" / run_id).iterdir()) == [
        "000002.mp4"]
    assert target.runs.summaries() == []
    for opened in (stage, target):
        opened.close()


def test_a_backup_refuses_a_changed_file_and_a_restore_a_changed_backup(
        local, doorway, clock, data_folder, tmp_path):
    run_id, _, _, folder = recorded_run(local, doorway, clock)
    (folder / "000001.mp4").write_bytes(b"\x09" * FRAGMENT_BYTES)
    with pytest.raises(BackupError, match=f"fragment 1 \\(000001.mp4\\) of the recording of "
                                          f"run {run_id} .* was changed"):
        backup(local, tmp_path / "refused.zip", include_recordings=True)
    assert not (tmp_path / "refused.zip").exists()
    (folder / "000001.mp4").write_bytes(b"\x02" * FRAGMENT_BYTES)
    backup(local, tmp_path / "record.zip", include_recordings=True)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tmp_path / "record.zip") as source, \
            zipfile.ZipFile(tampered, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            out.writestr(item, b"\x00" * len(data) if item.filename.endswith("1.mp4")
                         else data)
    (tmp_path / "scratch").mkdir()
    with pytest.raises(BackupError, match=f"recordings/{run_id}/000001.mp4 does not match"):
        staged(tampered, tmp_path / "scratch")


def rewritten(source: Path, target: Path, edit) -> None:
    """A copy of the backup ``source`` whose table rows ``edit(table, rows)`` changed, with
    its manifest's digests made to match, as someone crafting a backup would."""
    with zipfile.ZipFile(source) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    with zipfile.ZipFile(target, "w") as out:
        for name, data in members.items():
            if name.startswith("tables/"):
                table = name.removeprefix("tables/").removesuffix(".jsonl")
                rows = edit(table, [json.loads(line) for line in data.splitlines()])
                data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
                manifest["tables"][table] = {"rows": len(rows),
                                             "sha256": hashlib.sha256(data).hexdigest()}
            if name != "manifest.json":
                out.writestr(name, data)
        out.writestr("manifest.json", json.dumps(manifest))


def test_a_crafted_backup_cannot_put_files_where_its_rows_say(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    run_id, *_ = recorded_run(local, doorway, clock)
    backup(local, tmp_path / "record.zip", include_recordings=True)
    outside = tmp_path / "outside" / "deep"

    def elsewhere(table, rows):
        for row in rows:
            if table == "recordings":
                row |= {"folder": str(outside / run_id), "host": None}
        return rows

    rewritten(tmp_path / "record.zip", tmp_path / "crafted.zip", elsewhere)
    new_data = tmp_path / "new-pc"
    monkeypatch.setenv("BRANCHPOINT_DATA", str(new_data))
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "crafted.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    with pytest.raises(BackupError, match=f"agency store {outside}, which this restore was "
                                          f"not given.*--recordings-store {outside}"):
        restore(stage, target, checked)
    assert not (tmp_path / "outside").exists() and not (new_data / "recordings").exists()
    assert target.runs.summaries() == []
    # Named by the administrator, it is an agency store: the files go there.
    restored = restore(stage, target, checked, stores=[outside])
    assert restored.recording_files == 3 and (outside / run_id / "000000.mp4").is_file()
    assert verify_run(target, run_id).ok
    for opened in (stage, target):
        opened.close()


def test_a_backup_of_the_data_folders_store_goes_into_this_pcs_whatever_its_host(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    run_id, *_ = recorded_run(local, doorway, clock)
    backup(local, tmp_path / "record.zip", include_recordings=True)
    rewritten(tmp_path / "record.zip", tmp_path / "crafted.zip",
              lambda table, rows: [r | {"host": "ELSEWHERE#00000000"} if table == "recordings"
                                   else r for r in rows])
    new_data = tmp_path / "new-pc"
    monkeypatch.setenv("BRANCHPOINT_DATA", str(new_data))
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "crafted.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    restore(stage, target, checked)
    [stored] = target.recordings.of_run(run_id)
    assert (stored.host, stored.elsewhere()) == (installation(), None)
    folder = new_data / "recordings" / run_id
    assert sorted(p.name for p in folder.iterdir()) == ["000000.mp4", "000001.mp4",
                                                        "000002.mp4"]
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "000000.mp4").stat().st_mode) == 0o600
    for opened in (stage, target):
        opened.close()


def test_a_restore_that_fails_removes_the_folders_it_made(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    recorded_run(local, doorway, clock)
    backup(local, tmp_path / "record.zip", include_recordings=True)
    new_data = tmp_path / "new-pc"
    monkeypatch.setenv("BRANCHPOINT_DATA", str(new_data))
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "record.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    # The target fails once the files are in place: its runs table is already taken.
    with target.engine.begin() as c:
        c.execute(text("CREATE TRIGGER no_runs BEFORE INSERT ON runs "
                       "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    with pytest.raises(DBAPIError, match="refused"):
        restore(stage, target, checked)
    assert not (new_data / "recordings").exists()
    for opened in (stage, target):
        opened.close()


def test_a_recording_on_another_pc_is_not_checked_here_and_says_whose(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    run_id, _, _, folder = recorded_run(local, doorway, clock)
    store_run, _, _, store_folder = recorded_run(local, doorway, clock, fragments=1,
                                                 store=tmp_path / "agency-store")
    projector = installation()
    assert local.recordings.of_run(run_id)[0].host == projector
    assert local.recordings.of_run(store_run)[0].host is None
    (store_folder / "000000.mp4").unlink()
    # Another PC of the same shared record: its own data folder.
    monkeypatch.setenv("BRANCHPOINT_DATA", str(tmp_path / "admin-pc"))
    checked = verify_run(local, run_id)
    assert checked.ok and checked.recording == (
        f"recording held on {projector}: 3 fragments not checked here (verify on that PC "
        "checks them)")
    # An agency's store is reached from every PC: its missing file is found here too.
    assert [f.kind for f in verify_run(local, store_run).findings] == ["recording_missing"]
    # A run's recordings stay on one PC.
    with pytest.raises(ValueError, match=f"recorded on {projector}.*record it on that PC"):
        local.recordings.add(run_id, 9, run_id)
    monkeypatch.setenv("BRANCHPOINT_DATA", str(data_folder))
    (folder / "000001.mp4").unlink()
    assert [f.kind for f in verify_run(local, run_id).findings] == ["recording_missing"]


def test_a_backup_with_the_files_leaves_out_and_lists_those_on_another_pc(
        local, doorway, clock, data_folder, tmp_path, monkeypatch):
    run_id, *_ = recorded_run(local, doorway, clock)
    monkeypatch.setenv("BRANCHPOINT_DATA", str(tmp_path / "admin-pc"))
    made = backup(local, tmp_path / "record.zip", include_recordings=True)
    assert (made.recording_files, made.recordings_elsewhere) == (0, 1)
    (tmp_path / "scratch").mkdir()
    stage, checked = staged(tmp_path / "record.zip", tmp_path / "scratch")
    target = Record.open(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    restored = restore(stage, target, checked)
    # Still the projector's, still held there.
    [stored] = target.recordings.of_run(run_id)
    assert stored.held and stored.elsewhere() is not None and restored.recording_files == 0
    assert verify_run(target, run_id).ok
    for opened in (stage, target):
        opened.close()


def test_the_database_keeps_fragments_and_lets_a_recording_only_be_marked_erased_once(
        record, doorway, clock, data_folder):
    run_id, _, recording_id, _ = recorded_run(record, doorway, clock)
    refusals = (update(recordings).values(held=False),
                update(recordings).values(folder="/elsewhere/" + run_id),
                update(recordings).values(host="OTHER#00000000"),
                update(recordings).values(erased_utc=now(), held=False),
                delete(recordings),
                update(recording_fragments).values(sha256="0" * 64),
                delete(recording_fragments))
    for statement in refusals:
        with pytest.raises(DBAPIError, match="refused"), record.engine.begin() as c:
            c.execute(statement)
    assert record.recordings.mark_erased([recording_id], now()) == 1
    with pytest.raises(DBAPIError, match="refused"), record.engine.begin() as c:
        c.execute(update(recordings).values(erased_utc=None))
    [stored] = record.recordings.of_run(run_id)
    assert stored.erased_utc is not None and stored.held and len(stored.fragments) == 3
    # The application role may set erased_utc, and change nothing else of a recording.
    assert "GRANT SELECT, INSERT, UPDATE (erased_utc) ON recordings TO app" in \
        grant_statements(record, "app")


def test_lengths_are_checked_whatever_the_database(local, doorway, clock, data_folder):
    run, _ = play_some(local, doorway, clock, finish=False)
    run_id = run.state.run_id
    with pytest.raises(ValueError, match=r"the camera's name .* longer than 200"):
        local.recordings.add(run_id, 1, run_id, camera="C" * 201)
    with pytest.raises(ValueError, match=r"the microphone's name .* longer than 200"):
        local.recordings.add(run_id, 1, run_id, microphone="M" * 201)
    with pytest.raises(ValueError, match=r"host .* longer than 100"):
        local.recordings.add(run_id, 1, run_id, host="H" * 101)
    with pytest.raises(ValueError, match=r"an agency's store .* give no host"):
        local.recordings.add(run_id, 1, str(data_folder / "store" / run_id), host="PC#1")
    recording_id = local.recordings.add(run_id, 1, run_id)
    with pytest.raises(ValueError, match=r"fragment name 'f+\.mp4' is not a fragment's"):
        local.recordings.add_fragment(recording_id, 0, "f" * 61 + ".mp4", 1, 0, 1, 1, 0,
                                      "a" * 64, 10, "1/1000000")


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix",
                    reason="needs symbolic links")
def test_a_store_or_run_folder_that_is_a_link_is_refused(
        local, doorway, clock, data_folder, tmp_path):
    run_id, _, _, folder = recorded_run(local, doorway, clock)
    target = tmp_path / "target"
    folder.rename(target)
    folder.symlink_to(target, target_is_directory=True)
    [stored] = local.recordings.of_run(run_id)
    with pytest.raises(ValueError, match=r"is a link .* neither reads nor deletes"):
        stored.location()
    checked = verify_run(local, run_id)
    assert [f.kind for f in checked.findings] == ["recording_changed"]
    (tmp_path / "linked-store").symlink_to(target, target_is_directory=True)
    with pytest.raises(ValueError, match="a link"):
        check_store(str(tmp_path / "linked-store"))
