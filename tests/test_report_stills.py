"""The after-action report made with the trainee recording: a still of the trainee at each
decision, read back from the JPEG in the HTML and the PDF by the barcode of its exposure
time; the recording exported beside the report and linked; both logged; never when
pseudonymised; an erased recording said in words. The layout's links and JPEG figures, with
hostile file names.

Real SQLite records, real fragments written by the recorder's own writer from the synthetic
room camera, real JPEG, PDF and MP4 files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from base64 import b64decode, b64encode
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import av
import cv2
import numpy as np
import pytest
from test_recording_privacy import data_folder  # noqa: F401 - a fixture
from test_training_reviewing import lines
from typer.testing import CliRunner

from simulator.access.settings import AgencySettings
from simulator.agency import default_profile
from simulator.cli.app import app
from simulator.headless.room import HeadlessRoom
from simulator.protocol import DecisionRecorded, EndRun, RecordDecision
from simulator.record import Record
from simulator.recording.file_sources import SyntheticRoomCamera, read_stamp
from simulator.recording.fragments import FragmentWriter, VideoFormat
from simulator.review.export import ExportFormat, export_runs
from simulator.review.layout import Figure, Grid, Link, as_html_page, as_pdf_document
from simulator.review.report import RecordingLink, Still, still_moments
from simulator.review.rubric import bundled_rubric
from simulator.runtime import ManualClock
from simulator.scenario import bundled_library
from simulator.training import Gate, Reviewing
from simulator.training.sitting import ClassSitting, RunPlan

SCENARIO = "welfare-check"
SIZE = (160, 96)
FPS = 30.0
SECONDS = 3.0
STILL = re.compile(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"')


@dataclass
class Recorded:
    run_id: str
    recording_id: str
    stamps: list[int]  # the exposure times of the pictures recorded
    moments: dict[int, tuple[int, int]]  # each decision's (base_seq, t_ns)


@pytest.fixture
def record(tmp_path, data_folder):  # noqa: F811 - the fixture imported above
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


def a_class(record: Record, clock: ManualClock) -> ClassSitting:
    sitting = ClassSitting(Gate(record, None, "console"), HeadlessRoom(clock),
                           bundled_library(), default_profile(), clock, label="class")
    sitting.preflight(SCENARIO)
    return sitting


def played(record: Record, trainee: str) -> tuple[str, int, int]:
    """A class run with two decisions, one stamped by a device 0.8 s in and one keyed by
    the instructor 2.1 s in; its id, and its run_started seq and time."""
    clock = ManualClock()
    sitting = a_class(record, clock)
    started = sitting.start(RunPlan(SCENARIO, (trainee,)))
    run = started.run
    run.start()
    run.poll()
    trainee_id = run.state.trainee_ids[0]
    origin = clock.now_ns()
    clock.advance(1.0)
    run.handle(RecordDecision(trainee_id=trainee_id, action="verbal_direction",
                              source="device", input_ns=origin + 800_000_000))
    clock.advance(1.1)
    run.handle(RecordDecision(trainee_id=trainee_id, action="presence"))
    clock.advance(SECONDS - 2.1)
    run.poll()
    run.handle(EndRun(note="done"))
    sitting.end()
    first = record.runs.events(run.state.run_id)[0]
    return run.state.run_id, first.seq, first.t_ns


def record_base(record: Record, run_id: str, base_seq: int, origin_ns: int,
                seconds: float) -> tuple[str, list[int]]:
    """The room recorded on time base ``base_seq`` for ``seconds``, registered as the
    projector does; the recording's id, and its pictures' exposure times."""
    folder, stored = AgencySettings(record_trainees=True).recording_folder(run_id)
    recording_id = record.recordings.add(run_id, base_seq, stored, camera="Room camera",
                                         video_size=f"{SIZE[0]}x{SIZE[1]}", fps=FPS)
    camera = SyntheticRoomCamera(size=SIZE, fps=FPS, start_ns=origin_ns + 10_000_000,
                                 frames=round(seconds * FPS), jitter_ms=4.0, seed=base_seq)
    writer = FragmentWriter(folder, base_seq=base_seq, origin_ns=origin_ns,
                            video=VideoFormat(*SIZE, FPS), audio=None, fragment_s=1.0)
    stamps = []
    while (frame := camera.read()) is not None:
        writer.add_frame(frame)
        stamps.append(frame.exposure_ns)
    for f in writer.close():
        record.recordings.add_fragment(recording_id, f.index, f.name, f.base_seq,
                                       f.first_ns, f.last_ns, f.video_frames,
                                       f.audio_samples, f.sha256, f.size_bytes, f.time_base)
    return recording_id, stamps


def moments_of(record: Record, run_id: str) -> dict[int, tuple[int, int]]:
    return still_moments(Reviewing(Gate(record, None, "console")).run_to_score(run_id))


def recorded_run(record: Record, trainee: str = "Officer Reyes") -> Recorded:
    """A played run whose room was recorded all through."""
    run_id, base_seq, origin_ns = played(record, trainee)
    recording_id, stamps = record_base(record, run_id, base_seq, origin_ns, SECONDS)
    return Recorded(run_id, recording_id, stamps, moments_of(record, run_id))


def shown_at(recorded: Recorded, moment: tuple[int, int]) -> int:
    """The exposure time of the picture on show at ``moment``."""
    return max(s for s in recorded.stamps if s <= moment[1])


def stamp_of(jpeg: bytes) -> int | None:
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[1] == 240
    return read_stamp(picture)


def report(record: Record, run_id: str, to: ExportFormat, beside: Path | None, *,
           pseudonymise: bool = False) -> str | bytes:
    exported = Reviewing(Gate(record, None, "console")).export(
        [run_id], to, profile=default_profile(), rubric=bundled_rubric(),
        pseudonymise=pseudonymise, recording_beside=beside)
    if beside is not None:
        beside.write_bytes(exported.data if isinstance(exported.data, bytes)
                           else exported.data.encode())
    return exported.data


def test_the_html_report_shows_the_trainee_at_each_decision_and_links_the_recording(
        record, tmp_path):
    recorded = recorded_run(record)
    seqs = sorted(recorded.moments)
    assert len(seqs) == 2
    events = {e.seq: e for e in record.runs.events(recorded.run_id)}
    device = events[seqs[0]]
    assert isinstance(device, DecisionRecorded) and device.input_ns is not None
    # The device's decision is shown at its input's stamp, not when it reached the run.
    assert recorded.moments[seqs[0]][1] == device.input_ns != device.t_ns
    before = len(lines(record))
    page = report(record, recorded.run_id, ExportFormat.html, tmp_path / "debrief.html")
    assert isinstance(page, str)
    stills = [b64decode(data) for data in STILL.findall(page)]
    assert [stamp_of(jpeg) for jpeg in stills] == [
        shown_at(recorded, recorded.moments[seq]) for seq in seqs]
    assert "<th>Still</th>" in page and "Still 1 at 0:00.8: Officer Reyes, Verbal direction" in page
    # The recording beside the report, linked by its name alone, and playable.
    assert '<a href="debrief-recording.mp4">debrief-recording.mp4</a>: exported beside' in page
    with av.open(str(tmp_path / "debrief-recording.mp4")) as played_back:
        assert sum(1 for _ in played_back.decode(video=0)) == len(recorded.stamps)
    assert [(action, target) for _, action, target in lines(record)[before:]] == [
        ("export", recorded.run_id), ("view_recording", recorded.run_id),
        ("export_recording", recorded.run_id)]


def test_the_pdf_report_draws_the_stills_and_names_the_recording(record, tmp_path):
    recorded = recorded_run(record)
    pdf = tmp_path / "debrief.pdf"
    reviewing = Reviewing(Gate(record, None, "console"))
    run = reviewing.run_to_score(recorded.run_id)
    pdf.write_bytes(reviewing.export_run(run, ExportFormat.pdf, profile=default_profile(),
                                         rubric=bundled_rubric(), recording_beside=pdf))
    assert (tmp_path / "debrief-recording.mp4").is_file()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "debrief-recording.mp4: exported beside this report" in text
    assert "The trainee at each decision" in text
    # The stills are the JPEGs themselves in the PDF: pulled out as they are, and read.
    subprocess.run(["pdfimages", "-j", str(pdf), str(tmp_path / "image")], check=True)
    jpegs = sorted(tmp_path.glob("image-*.jpg"))
    assert [stamp_of(p.read_bytes()) for p in jpegs] == [
        shown_at(recorded, recorded.moments[seq]) for seq in sorted(recorded.moments)]


def test_a_pseudonymised_report_never_holds_the_recording(record, tmp_path):
    recorded = recorded_run(record)
    before = len(lines(record))
    for to in (ExportFormat.html, ExportFormat.pdf):
        with pytest.raises(ValueError, match="pseudonymised report never holds the trainee "
                                             "recording"):
            report(record, recorded.run_id, to, tmp_path / f"p{to.suffix}", pseudonymise=True)
    with pytest.raises(ValueError, match="only an HTML or PDF report"):
        report(record, recorded.run_id, ExportFormat.decisions_csv, tmp_path / "d.csv")
    # Refused before anything was read or logged.
    assert len(lines(record)) == before and list(tmp_path.glob("*.mp4")) == []
    page = report(record, recorded.run_id, ExportFormat.html, None, pseudonymise=True)
    assert isinstance(page, str)
    assert "data:image/jpeg" not in page and "Still" not in page
    assert "recording" not in page.lower()
    assert "view_recording" not in [action for _, action, _ in lines(record)]


def test_an_erased_recording_is_said_with_its_date_and_a_run_not_recorded_says_nothing(
        record, tmp_path):
    recorded = recorded_run(record)
    [stored] = record.recordings.of_run(recorded.run_id)
    shutil.rmtree(stored.location())
    record.recordings.mark_erased([recorded.recording_id], datetime(2026, 3, 4, tzinfo=UTC))
    page = report(record, recorded.run_id, ExportFormat.html, tmp_path / "erased.html")
    assert isinstance(page, str)
    assert "<td>Trainee recording</td><td>recording erased on 04 March 2026</td>" in page
    assert "data:image/jpeg" not in page and not (tmp_path / "erased-recording.mp4").exists()
    plain, _, _ = played(record, "Officer Byrne")
    page = report(record, plain, ExportFormat.html, tmp_path / "plain.html")
    assert isinstance(page, str)
    assert "Trainee recording" not in page and "data:image/jpeg" not in page
    actions = [action for _, action, target in lines(record) if target == plain]
    assert actions == ["export", "view_recording"]  # asked for, and nothing to export


def test_the_command_line_exports_the_report_with_the_recording(record, tmp_path):
    recorded = recorded_run(record)
    runner = CliRunner()
    db = str(record.url)
    said = runner.invoke(app, ["export", recorded.run_id[:8], "--format", "html",
                               "--with-recording", "--db", db], env={"COLUMNS": "200"})
    assert said.exit_code == 2 and "give --out FILE" in said.output
    out = tmp_path / "class" / "reyes.html"
    said = runner.invoke(app, ["export", recorded.run_id[:8], "--format", "html",
                               "--with-recording", "--out", str(out), "--db", db],
                         env={"COLUMNS": "200"})
    assert said.exit_code == 0, said.output
    assert "trainee recording written to" in said.output
    assert (out.parent / "reyes-recording.mp4").is_file()
    assert len(STILL.findall(out.read_text())) == 2
    said = runner.invoke(app, ["export", recorded.run_id[:8], "--format", "pdf",
                               "--with-recording", "--pseudonymise", "--out",
                               str(tmp_path / "p.pdf"), "--db", db], env={"COLUMNS": "200"})
    assert said.exit_code == 2 and "pseudonymised" in said.output


@pytest.mark.gui
def test_the_console_exports_the_report_with_the_recording_while_trainee_video_is_on(
        qtbot, record, tmp_path):
    from test_console_cosmetics import review_panel  # Qt: only where a console is tested

    recorded = recorded_run(record)
    panel = review_panel(record)
    qtbot.addWidget(panel)
    assert panel.open_run(recorded.run_id)
    panel.export(ExportFormat.html, tmp_path / "off.html")
    assert "data:image/jpeg" not in (tmp_path / "off.html").read_text()
    assert list(tmp_path.glob("*.mp4")) == []
    panel.trainee_video.setChecked(True)
    panel.export(ExportFormat.pdf, tmp_path / "on.pdf")
    assert panel.scored.text().endswith("with the trainee recording")
    assert (tmp_path / "on-recording.mp4").is_file()
    # CSV never: the box asks for the report's stills, not for a recording in a table.
    panel.export(ExportFormat.decisions_csv, tmp_path / "d.csv")
    assert (tmp_path / "d.csv").is_file() and not (tmp_path / "d-recording.mp4").exists()
    # Pseudonymised, the report is refused with the recording, and says why.
    panel.pseudonymise.setChecked(True)
    panel.export(ExportFormat.html, tmp_path / "p.html")
    assert not (tmp_path / "p.html").exists()
    assert "not exported: a pseudonymised report never holds" in panel.scored.text()
    panel.close_run()


def test_a_run_recovered_after_a_crash_links_a_file_per_stretch_and_shows_both(
        record, tmp_path):
    clock = ManualClock()
    started = a_class(record, clock).start(RunPlan(SCENARIO, ("Officer Reyes",)))
    run = started.run
    run.start()
    run.poll()
    run_id, trainee_id = run.state.run_id, run.state.trainee_ids[0]
    clock.advance(1.5)
    run.handle(RecordDecision(trainee_id=trainee_id, action="verbal_direction",
                              source="device", input_ns=clock.now_ns() - 300_000_000))
    # The projector PC dies; another resumes the run on its own clock.
    later = ManualClock(start_ns=90_000_000_000)
    sitting = a_class(record, later)
    resumed = sitting.resume(run_id).run
    resumed.recover()
    resumed.poll()
    later.advance(1.0)
    resumed.handle(RecordDecision(trainee_id=trainee_id, action="presence",
                                  source="device", input_ns=later.now_ns() - 400_000_000))
    later.advance(0.5)
    resumed.handle(EndRun(note="done"))
    sitting.end()
    events = record.runs.events(run_id)
    first, again = (e for e in events if e.type in ("run_started", "run_recovered"))
    stamps = (record_base(record, run_id, first.seq, first.t_ns, 2.0)[1]
              + record_base(record, run_id, again.seq, again.t_ns, 2.0)[1])
    moments = moments_of(record, run_id)
    assert [base for base, _ in moments.values()] == [first.seq, again.seq]
    page = report(record, run_id, ExportFormat.html, tmp_path / "crash.html")
    assert isinstance(page, str)
    assert ('<a href="crash-recording-1.mp4">crash-recording-1.mp4</a>, '
            '<a href="crash-recording-2.mp4">crash-recording-2.mp4</a>: exported beside this '
            "report (one file per stretch of the run, split by a crash)") in page
    for name in ("crash-recording-1.mp4", "crash-recording-2.mp4"):
        with av.open(str(tmp_path / name)) as played_back:
            assert sum(1 for _ in played_back.decode(video=0)) == 60
    # Each still from its own stretch: the second's clock began again at 90 s.
    assert [stamp_of(b64decode(data)) for data in STILL.findall(page)] == [
        max(s for s in stamps if s <= t_ns) for _, t_ns in moments.values()]


class Links(HTMLParser):
    """A page's links: each one's href and its text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.links: list[tuple[str | None, str]] = []
        self._href: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs)["href"]
            self.links.append((self._href, ""))

    def handle_endtag(self, tag: str) -> None:
        self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            href, text = self.links[-1]
            self.links[-1] = (href, text + data)


@pytest.mark.parametrize("name", [
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "/etc/passwd",
    "https://example.invalid/x.mp4", "//example.invalid/x.mp4", "..", ".", "../x.mp4",
    "class/x.mp4", "class\\x.mp4", "C:x.mp4", "", " x.mp4", "x\n.mp4", "\x1b[31mx.mp4"])
def test_a_link_is_only_ever_to_a_plain_file_name_beside_the_report(name):
    with pytest.raises(ValueError, match=r"Link\.href .* is not a plain file name"):
        Link("the recording", name)


def test_a_hostile_file_name_is_linked_as_itself_in_html_and_named_plainly_in_pdf(tmp_path):
    name = '<b onclick="x">"Reyes" #1?&.mp4'
    blocks = [Grid((("", ""), [("Trainee recording", (Link(name, name), ": beside"))]),
                   header=False)]
    page = as_html_page("Report", datetime(2026, 12, 1, tzinfo=UTC), blocks)
    # Escaped for the page, and the whole name one relative path: `#` and `?` are of it.
    assert Links(page).links == [(quote(name, safe=""), name)]
    assert "<b onclick" not in page
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(as_pdf_document("Report", datetime(2026, 12, 1, tzinfo=UTC), blocks))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert f"{name}: beside" in text


def test_a_figure_is_embedded_as_the_picture_it_is(tmp_path):
    done, jpeg = cv2.imencode(".jpg", np.full((24, 40, 3), 200, np.uint8))
    assert done
    still = Figure(jpeg.tobytes(), 0.6, "a still", 0.3, media_type="image/jpeg")
    page = as_html_page("Report", datetime(2026, 12, 1, tzinfo=UTC), [still])
    assert f"data:image/jpeg;base64,{b64encode(jpeg.tobytes()).decode()}" in page
    with pytest.raises(ValueError, match=r"Figure\.data of 'a still' is not image/png"):
        Figure(jpeg.tobytes(), 0.6, "a still")
    with pytest.raises(ValueError, match=r"Figure\.media_type 'image/gif'"):
        Figure(b"GIF89a", 0.6, "a still", media_type="image/gif")


def test_export_runs_takes_stills_and_recordings_only_for_a_report(reviewed_run):
    run, record, _, _, _ = reviewed_run
    decision = next(e.seq for e in run.events if isinstance(e, DecisionRecorded))
    done, jpeg = cv2.imencode(".jpg", np.full((24, 40, 3), 90, np.uint8))
    assert done
    stills = {run.summary.id: {decision: Still(jpeg.tobytes(), 40, 24)}}
    recordings = {run.summary.id: RecordingLink(("reyes-recording.mp4",))}
    common = {"profile": default_profile(), "rubric": bundled_rubric()}
    page = export_runs(record, [run], ExportFormat.html, stills=stills,
                       recordings=recordings, **common)
    assert isinstance(page, str) and len(STILL.findall(page)) == 1
    assert Links(page).links == [("reyes-recording.mp4", "reyes-recording.mp4")]
    for to in (ExportFormat.events_csv, ExportFormat.xapi):
        with pytest.raises(ValueError, match="only an HTML or PDF report"):
            export_runs(record, [run], to, recordings=recordings, **common)
    with pytest.raises(ValueError, match="pseudonymised report never holds"):
        export_runs(record, [run], ExportFormat.pdf, stills=stills, pseudonymise=True,
                    **common)

