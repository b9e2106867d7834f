"""Trainee recordings as personal data: the agency's setting, viewing and exporting through
the gate, erasure and retention deleting the files, and the command line's options.

Real SQLite records, real MP4 fragments written by the recorder's own writer, real files.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from test_access_cli import as_
from test_record import play_some
from test_training_reviewing import lines
from test_training_sitting import PASSWORD, SCENARIO, a_class, play_out

from simulator.access import AccessDenied, AccessLog, Accounts, Role
from simulator.access.privacy import RecordingNotDeleted, due_for_erasure, erase_trainee
from simulator.access.settings import AgencySettings, keep_settings, settings_of
from simulator.agency import default_profile
from simulator.devices.frames import CameraFrame
from simulator.paths import check_store, installation, recording_folder
from simulator.record import Record, verify_run
from simulator.recording.fragments import FragmentWriter, VideoFormat
from simulator.review.export import ExportFormat
from simulator.review.rubric import bundled_rubric
from simulator.training import COMMAND_LINE, Administering, Gate, Reviewing
from simulator.training.sitting import RunPlan


@pytest.fixture
def data_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("BRANCHPOINT_DATA", str(folder))
    return folder


def gate(record: Record, username: str | None, where: str = COMMAND_LINE) -> Gate:
    """A gate for an account as if signed in (the password was checked elsewhere), or for
    no one on a record without accounts."""
    account = Accounts(record).get(username) if username is not None else None
    return Gate(record, account, where)


def class_run(record: Record, instructor: str | None, trainee: str) -> str:
    """One run played in a class of ``instructor``'s account (or of no account); its id."""
    sitting = a_class(record, gate(record, instructor, "console"))
    sitting.preflight(SCENARIO)
    started = sitting.start(RunPlan(SCENARIO, (trainee,)))
    play_out(started)
    sitting.end()
    return started.run.state.run_id


@pytest.fixture
def classes(tmp_path, data_folder):
    """Two classes, one run each, on a SQLite record without accounts; the first run
    (Officer Reyes's) recorded with real fragments in the data folder."""
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    runs = {"diaz": class_run(record, None, "Officer Reyes"),
            "lee": class_run(record, None, "Officer Byrne")}
    record_run(record, runs["diaz"])
    yield record, runs
    record.close()


def record_run(record: Record, run_id: str) -> int:
    """Two and a half seconds of a small grey picture, written and registered as the
    projector would: the folder the agency's settings name, each fragment added as it is
    finished. How many fragments that made (it depends on the fragment length)."""
    folder, stored = AgencySettings(record_trainees=True).recording_folder(run_id)
    recording_id = record.recordings.add(run_id, 1, stored, camera="Room cam",
                                         video_size="64x48", fps=10.0)
    writer = FragmentWriter(folder, base_seq=1, origin_ns=0, video=VideoFormat(64, 48, 10.0),
                            audio=None)
    for number in range(25):
        image = np.full((48, 64, 3), 8 * number, dtype=np.uint8)
        writer.add_frame(CameraFrame(image, number, number * 100_000_000))
    written = writer.close()
    for f in written:
        record.recordings.add_fragment(recording_id, f.index, f.name, f.base_seq,
                                       f.first_ns, f.last_ns, f.video_frames,
                                       f.audio_samples, f.sha256, f.size_bytes, f.time_base)
    assert len(written) > 1, "several fragments, so that erasure deletes more than one"
    return len(written)


def test_recording_is_off_until_the_agency_allows_it_and_goes_where_it_says(
        tmp_path, data_folder):
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    run_id = "0b7d8a5e-3f8e-4a53-9d7e-3c1c2f3a4b5c"
    assert not settings_of(record, None).may_record_trainees
    assert settings_of(record, None).recording_folder(run_id) == (
        data_folder / "recordings" / run_id, run_id)
    store = tmp_path / "agency" / "recordings"
    keep_settings(record, None, AgencySettings(30, None, True, str(store)))
    kept = settings_of(record, None)
    assert kept.may_record_trainees and store.is_dir()  # made when it is set
    assert kept.recording_folder(run_id) == (store / run_id, str(store / run_id))
    for store_given, message in (("recordings", "give an absolute path"),
                                 (str(tmp_path / "a" / ".." / "b"), "no `..` in the path"),
                                 ("", "not a folder's path"),
                                 (str(tmp_path / "record.sqlite3"), "cannot be made")):
        with pytest.raises(ValueError, match=f"recordings store .*{message}"):
            keep_settings(record, None, AgencySettings(record_trainees=True,
                                                       recordings_store=store_given))
    assert settings_of(record, None) == kept
    for bad in ("../../etc", run_id.upper(), "x"):
        with pytest.raises(ValueError, match="run's id"):
            recording_folder(store, bad)
    record.close()


def test_viewing_and_exporting_need_what_reviewing_the_run_needs_and_are_logged(
        tmp_path, data_folder):
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    accounts = Accounts(record)
    accounts.add("diaz", Role.instructor, PASSWORD, display_name="Sgt. Diaz")
    accounts.add("lee", Role.instructor, PASSWORD, display_name="Sgt. Lee")
    accounts.add("okafor", Role.coordinator, PASSWORD)
    runs = {"diaz": class_run(record, "diaz", "Officer Reyes"),
            "lee": class_run(record, "lee", "Officer Byrne")}
    fragments = record_run(record, runs["diaz"])
    diaz = Reviewing(gate(record, "diaz", "console"))
    seen = diaz.recording_of(runs["diaz"])
    assert lines(record)[-1] == ("diaz", "view_recording", runs["diaz"])
    assert seen is not None and seen.playable and seen.camera == "Room cam"
    assert [f.index for f in seen.fragments] == list(range(fragments))
    # Another instructor's run: refused, as its other views are, and logged so.
    lee = Reviewing(gate(record, "lee"))
    with pytest.raises(AccessDenied, match="another instructor's session"):
        lee.recording_of(runs["diaz"])
    assert lines(record)[-1] == ("lee", "refused", runs["diaz"])
    with pytest.raises(AccessDenied):
        lee.export_recording(runs["diaz"], tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    okafor = Reviewing(gate(record, "okafor"))
    assert okafor.recording_of(runs["lee"]) is None  # not recorded: nothing to play
    out = okafor.export_recording(runs["diaz"], tmp_path / "exports" / "reyes.mp4")
    entry = lines(record)[-1]
    assert entry == ("okafor", "export_recording", runs["diaz"])
    with av.open(str(out)) as played:
        assert sum(1 for _ in played.decode(video=0)) == 25
    with pytest.raises(ValueError, match="was not recorded"):
        okafor.export_recording(runs["lee"], tmp_path / "none.mp4")
    record.close()


def test_no_export_of_runs_carries_anything_of_a_recording(classes):
    record, runs = classes
    reviewing = Reviewing(gate(record, None))
    [stored] = record.recordings.of_run(runs["diaz"])
    # Not the PDF, whose compressed text no search would see into; it is drawn from the
    # same rows as the HTML.
    for to in (f for f in ExportFormat if f is not ExportFormat.pdf):
        data = reviewing.export([runs["diaz"]], to, profile=default_profile(),
                                rubric=bundled_rubric(), pseudonymise=True).data
        text = data if isinstance(data, str) else data.decode("latin-1")
        assert stored.fragments[0].sha256 not in text
        assert "000000.mp4" not in text and str(stored.location()) not in text


def test_erasure_deletes_the_files_then_marks_the_recording_and_verify_stays_green(
        classes, data_folder):
    record, runs = classes
    folder = data_folder / "recordings" / runs["diaz"]
    (folder / "000003.mp4.partial").write_bytes(b"what a crash left")
    reyes = record.people.find("trainee", "Officer Reyes")
    Administering(gate(record, None)).erase([reyes], expired=False)
    assert not folder.exists()
    erased = AccessLog(record).entries()[-1]
    assert (erased.action, erased.target, erased.detail["recordings"]) == ("erased", reyes, 1)
    [stored] = record.recordings.of_run(runs["diaz"])
    assert stored.erased_utc is not None and len(stored.fragments) > 1  # hashes kept
    checked = verify_run(record, runs["diaz"])
    assert checked.ok and checked.recording.startswith("recording erased ")
    reviewing = Reviewing(gate(record, None))
    seen = reviewing.recording_of(runs["diaz"])
    assert seen is not None and seen.erased and not seen.playable
    with pytest.raises(ValueError, match=r"was erased on .*only its hashes remain"):
        reviewing.export_recording(runs["diaz"], folder / "x.mp4")


def test_an_erasure_that_cannot_delete_a_file_deletes_nothing_and_marks_nothing(
        classes, data_folder):
    record, runs = classes
    folder = data_folder / "recordings" / runs["diaz"]
    (folder / "thumbnails").mkdir()
    reyes = record.people.find("trainee", "Officer Reyes")
    with pytest.raises(RecordingNotDeleted, match=f"{folder / 'thumbnails'} is a folder"):
        erase_trainee(record, reyes)
    assert (folder / "000000.mp4").exists()
    assert record.recordings.of_run(runs["diaz"])[0].erased_utc is None
    assert record.people.display_names([reyes]) == {reyes: "Officer Reyes"}
    (folder / "thumbnails").rmdir()
    assert erase_trainee(record, reyes).recordings == 1 and not folder.exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a POSIX account that file permissions bind (not root)")
def test_a_file_that_may_not_be_deleted_is_named(classes, data_folder):
    record, runs = classes
    folder = data_folder / "recordings" / runs["diaz"]
    folder.chmod(0o500)
    try:
        with pytest.raises(RecordingNotDeleted, match=r"cannot delete .*000000\.mp4"):
            erase_trainee(record, record.people.find("trainee", "Officer Reyes"))
    finally:
        folder.chmod(0o700)
    assert record.recordings.of_run(runs["diaz"])[0].erased_utc is None


def test_retention_erases_the_recordings_of_expired_trainees(classes, data_folder):
    record, runs = classes
    keep_settings(record, None, AgencySettings(retention_days=1))
    later = datetime.now(UTC) + timedelta(days=2)
    expired = due_for_erasure(record, later)
    assert len(expired) == 2
    for person_id in expired:
        erase_trainee(record, person_id)
    assert not (data_folder / "recordings" / runs["diaz"]).exists()
    assert record.recordings.runs_with_recordings(list(runs.values())) == set()


def test_the_command_line_sets_recording_and_backs_up_with_or_without_the_files(
        classes, tmp_path, data_folder):
    record, runs = classes
    db = record.url
    store = tmp_path / "agency-store"
    done = as_(None, "settings", "--record-trainees", "--recordings-store", str(store),
               "--db", db)
    assert done.exit_code == 0, done.output
    assert f"trainees may be recorded, into {store}" in " ".join(done.output.split())
    refused = as_(None, "settings", "--recordings-store", "relative/folder", "--db", db)
    assert refused.exit_code == 2 and "give an absolute path" in refused.output
    off = as_(None, "settings", "--no-record-trainees", "--db", db)
    assert "trainees are not recorded" in off.output
    without = as_(None, "backup", str(tmp_path / "plain.zip"), "--db", db)
    assert "without the recordings' files" in " ".join(without.output.split())
    made = as_(None, "backup", str(tmp_path / "full.zip"), "--include-recordings",
               "--db", db)
    [stored] = record.recordings.of_run(runs["diaz"])
    assert made.exit_code == 0
    assert f"with {len(stored.fragments)} recording files" in made.output
    # Restored on a PC that lacks the files: not held there, and verify passes.
    (data_folder / "recordings" / runs["diaz"] / "000001.mp4").unlink()
    restored_db = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    restored = as_(None, "restore", str(tmp_path / "plain.zip"), "--db", restored_db)
    assert restored.exit_code == 0, restored.output
    assert "1 recordings are not held here" in " ".join(restored.output.split())
    checked = as_(None, "verify", "--db", restored_db)
    assert checked.exit_code == 0, checked.output


def test_a_recording_on_another_pc_is_erased_there_or_forgotten_when_its_files_are_gone(
        classes, data_folder, tmp_path, monkeypatch):
    record, runs = classes
    folder = data_folder / "recordings" / runs["diaz"]
    files = sorted(p.name for p in folder.iterdir())
    projector = installation()
    reyes = record.people.find("trainee", "Officer Reyes")
    # The administrator's PC, on the same shared record: it cannot reach the projector's
    # data folder, so it neither skips the recording nor calls it erased.
    monkeypatch.setenv("BRANCHPOINT_DATA", str(tmp_path / "admin-pc"))
    with pytest.raises(RecordingNotDeleted, match=f"held on {projector}.*run the erasure "
                                                  "on that PC"):
        erase_trainee(record, reyes)
    refused = as_(None, "erase", reyes, "--yes", "--db", record.url)
    assert refused.exit_code != 0 and "--forget-recordings-elsewhere" in refused.output
    assert record.recordings.of_run(runs["diaz"])[0].erased_utc is None
    assert record.people.display_names([reyes]) == {reyes: "Officer Reyes"}
    # The projector PC was scrapped: the administrator says so, and it is marked erased.
    forgotten = as_(None, "erase", reyes, "--yes", "--forget-recordings-elsewhere",
                    "--db", record.url)
    assert forgotten.exit_code == 0, forgotten.output
    assert "1 recording(s) held on another PC were marked erased without deleting" in \
        " ".join(forgotten.output.split())
    assert record.recordings.of_run(runs["diaz"])[0].erased_utc is not None
    assert AccessLog(record).entries()[-1].detail["recordings_forgotten"] == 1
    assert sorted(p.name for p in folder.iterdir()) == files  # nothing here deleted it


@pytest.mark.skipif(os.name != "posix", reason="needs symbolic links")
def test_an_erasure_never_deletes_through_a_linked_run_folder(classes, data_folder, tmp_path):
    record, runs = classes
    folder = data_folder / "recordings" / runs["diaz"]
    victim = tmp_path / "victim"
    folder.rename(victim)
    (victim / "important.txt").write_text("keep me", encoding="utf-8")
    folder.symlink_to(victim, target_is_directory=True)
    kept = sorted(p.name for p in victim.iterdir())
    reyes = record.people.find("trainee", "Officer Reyes")
    with pytest.raises(ValueError, match=f"{folder} is a link"):
        erase_trainee(record, reyes)
    assert sorted(p.name for p in victim.iterdir()) == kept
    assert record.recordings.of_run(runs["diaz"])[0].erased_utc is None
    assert record.people.display_names([reyes]) == {reyes: "Officer Reyes"}


def test_a_run_that_may_be_recording_still_is_not_erased(tmp_path, data_folder, doorway,
                                                         clock):
    record = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    run, trainee = play_some(record, doorway, clock, finish=False)
    run_id = run.state.run_id
    record_run(record, run_id)
    folder = data_folder / "recordings" / run_id
    # Events are stamped by the run's clock; five minutes after its last one.
    soon = clock.utc_now() + timedelta(minutes=5)
    with pytest.raises(RecordingNotDeleted, match=f"run {run_id} has not ended .* end the "
                                                  "run, or if it was abandoned wait"):
        erase_trainee(record, trainee, now=soon)
    assert folder.is_dir() and record.recordings.of_run(run_id)[0].erased_utc is None
    # Paused for lunch: no event for 31 minutes, but the camera wrote a file a minute ago.
    later = clock.utc_now() + timedelta(minutes=31)
    written = (later - timedelta(minutes=1)).timestamp()
    os.utime(folder / "000000.mp4", (written, written))
    with pytest.raises(RecordingNotDeleted, match=f"run {run_id} has not ended .* recording "
                                                  "file at"):
        erase_trainee(record, trainee, now=later)
    assert (folder / "000000.mp4").exists()
    # Quiet for longer than a run is live, files and all: abandoned (a crash never
    # resumed), so erased.
    for file in folder.iterdir():
        os.utime(file, (clock.utc_now().timestamp(),) * 2)
    assert erase_trainee(record, trainee, now=later).recordings == 1
    assert not folder.exists()
    record.close()


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes; Windows follows the profile")
def test_recordings_are_for_this_account_alone(classes, data_folder, tmp_path):
    _, runs = classes
    recordings = data_folder / "recordings"
    folder = recordings / runs["diaz"]
    for place in (recordings, folder):
        assert stat.S_IMODE(place.stat().st_mode) == 0o700, place
    for file in folder.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert (folder / "manifest.jsonl").exists()
    store = check_store(str(tmp_path / "agency" / "recordings"))
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
