"""The studio's use cases: new scenarios in the library, saving with tags, previews unrecorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from media_index.sidecar import sidecar_for
from simulator.access import Accounts, Permission, Role
from simulator.agency import default_profile
from simulator.documents import DocumentError
from simulator.headless.player import HeadlessPlayer
from simulator.paths import data_dir
from simulator.playback.barcode import write_barcode_clip
from simulator.protocol.commands import ChooseBranch
from simulator.runtime.clock import ManualClock
from simulator.scenario import bundled_library, load_scenario
from simulator.studio import changes
from simulator.training import AccessDenied, Gate, SignedOut
from simulator.training.authoring import Authoring

PASSWORD = "correct horse battery staple"


@pytest.fixture
def authoring(record, tmp_path: Path) -> Authoring:
    library = tmp_path / "library"
    library.mkdir()
    return Authoring(Gate(record, None, "console"), library, default_profile())


@pytest.fixture
def take(tmp_path: Path) -> Path:
    path = tmp_path / "footage" / "take1.mp4"
    path.parent.mkdir()
    write_barcode_clip(path, clip_number=1, frames=90, fps=30, width=160, height=96,
                       audio=False)
    return path


def _build(authoring: Authoring, take: Path):
    """A scenario made with the studio's edits alone: three segments, two ways on."""
    editor = authoring.new("blank", scenario_id="corner-store", title="Corner store")
    (brought,) = authoring.bring_in([take])
    assert brought.usable and brought.frame_count == 90
    clip = authoring.index.by_path(take)
    for edit in (
        lambda d: changes.add_person(d, role="subject"),
        lambda d: changes.set_demographic(d, 0, "subject", "race", "white"),
        lambda d: changes.set_demographic(d, 0, "subject", "gender", "man"),
        lambda d: changes.set_variant_clip(d, 0, "take1", authoring.reference(clip.id)),
        lambda d: changes.add_segment(d, clip="take1", in_s=0, out_s=1, title="Arrival"),
        lambda d: changes.add_segment(d, clip="take1", in_s=1, out_s=2, title="Calm"),
        lambda d: changes.add_segment(d, clip="take1", in_s=2, out_s=3, title="Runs"),
        lambda d: changes.add_branch(d, 0, 1, kind="de_escalate"),
        lambda d: changes.add_branch(d, 0, 2, kind="escalate"),
        lambda d: changes.set_outcome(d, 1, "resolved_peacefully"),
        lambda d: changes.set_outcome(d, 2, "subject_fled"),
    ):
        editor.apply(edit(editor.checked.data))
    return editor


def test_a_new_scenario_is_saved_in_the_library_with_its_clips_tagged(
        authoring: Authoring, take: Path) -> None:
    editor = _build(authoring, take)
    assert editor.checked.errors == [], [str(p) for p in editor.checked.errors]
    tags = authoring.save(editor)
    saved = authoring.library / "corner-store" / "scenario.yaml"
    assert load_scenario(saved).scenario == editor.checked.scenario
    assert tags.written == (sidecar_for(take),)
    sidecar = yaml.safe_load(sidecar_for(take).read_text())
    assert sidecar["people"] == {"subject": {"race": ["white"], "gender": ["man"]}}
    # The index read the tags back, and lint finds them agreeing with the scenario.
    assert authoring.index.by_path(take).people["subject"]["race"] == ["white"]
    assert [p.code for p in editor.checked.problems if p.code.startswith("clip-")] == []
    assert authoring.scenarios()[0].id == "corner-store"
    assert all("bundled" in e.title for e in authoring.scenarios()[1:])


def test_tags_written_from_a_variant_disagreeing_later_show_up_as_a_problem(
        authoring: Authoring, take: Path) -> None:
    editor = _build(authoring, take)
    authoring.save(editor)
    sidecar = sidecar_for(take)
    sidecar.write_text(sidecar.read_text().replace("white", "black_african_american"))
    authoring.bring_in([take])
    editor.recheck()
    assert "clip-tags-disagree" in {p.code for p in editor.checked.problems}
    authoring.save(editor)  # saving writes them again from the variant
    assert "clip-tags-disagree" not in {p.code for p in editor.checked.problems}


def test_a_scenario_must_keep_its_folders_name(authoring: Authoring, take: Path) -> None:
    editor = _build(authoring, take)
    authoring.save(editor)
    editor.apply(changes.set_scenario_fields(editor.checked.data, {"id": "corner-shop"}))
    with pytest.raises(DocumentError, match="folder in the library is `corner-store`"):
        authoring.save(editor)


@pytest.mark.parametrize("bad", ["", "../escape", "Corner Store", ".hidden", "a/b", "x" * 65])
def test_a_new_scenarios_id_must_be_a_folder_name(authoring: Authoring, bad: str) -> None:
    with pytest.raises(DocumentError, match="cannot be a scenario's id"):
        authoring.new("blank", scenario_id=bad, title="Bad")


def test_an_existing_scenario_is_not_made_again(authoring: Authoring, take: Path) -> None:
    authoring.save(_build(authoring, take))
    with pytest.raises(DocumentError, match="already has a scenario"):
        authoring.new("two_ways", scenario_id="corner-store", title="Again")


def test_a_preview_plays_from_any_segment_and_is_not_recorded(
        authoring: Authoring, take: Path, record) -> None:
    editor = _build(authoring, take)
    clock = ManualClock()
    preview = authoring.preview(editor, "arrival", "a", clock=clock,
                                player=HeadlessPlayer(clock))
    events = preview.run.start()
    assert events[0].type == "run_started" and events[0].run_kind == "test"
    assert preview.run.current_segment.id == "arrival"
    clock.advance(1.5)
    preview.run.poll()
    branch = preview.run.offered_branches[1]
    preview.run.handle(ChooseBranch(branch_id=branch.id, offer_seq=preview.run.offer_seq))
    clock.advance(1.5)
    preview.run.poll()
    assert preview.run.ended
    kinds = [entry.event.type for entry in preview.journal.entries]
    assert kinds[-1] == "run_ended"
    assert preview.journal.entries[-1].event.outcome_kind == "subject_fled"
    assert record.runs.summaries() == []

    later = authoring.preview(editor, "calm", "a", clock=clock, player=HeadlessPlayer(clock))
    later.run.start()
    assert later.run.current_segment.id == "calm"


def test_a_preview_of_a_scenario_with_errors_names_them(authoring: Authoring,
                                                        take: Path) -> None:
    editor = _build(authoring, take)
    editor.apply(changes.update_branch(editor.checked.data, 0, 0, {"to": "nowhere"}))
    clock = ManualClock()
    with pytest.raises(DocumentError, match="nowhere"):
        authoring.preview(editor, "arrival", "a", clock=clock, player=HeadlessPlayer(clock))


def test_the_studio_is_for_those_who_may_run_a_class(record, tmp_path: Path) -> None:
    Accounts(record).add("admin", Role.administrator, PASSWORD)
    gate = Gate.sign_in(record, "admin", PASSWORD, Permission.administer, where="console")
    with pytest.raises(AccessDenied):
        Authoring(gate, tmp_path, default_profile())


def test_a_bundled_scenario_is_edited_as_the_agencys_own_copy(authoring: Authoring) -> None:
    bundled = bundled_library() / "traffic-stop" / "scenario.yaml"
    before = bundled.read_bytes()
    editor = authoring.open(bundled)
    assert Path(editor.document.source) == authoring.library / "traffic-stop" / "scenario.yaml"
    editor.apply(changes.set_scenario_fields(editor.checked.data, {"title": "Our stop"}))
    authoring.save(editor)
    assert bundled.read_bytes() == before
    assert load_scenario(authoring.library / "traffic-stop").scenario.title == "Our stop"
    with pytest.raises(DocumentError, match="already has its own copy"):
        authoring.open(bundled)


def test_the_studio_never_saves_into_the_bundled_library(record) -> None:
    authoring = Authoring(Gate(record, None, "console"), bundled_library(), default_profile())
    assert authoring.library == data_dir() / "scenarios"


def test_a_variant_not_filmed_yet_does_not_stop_another_from_previewing(
        authoring: Authoring, take: Path) -> None:
    editor = _build(authoring, take)
    editor.apply(changes.add_variant(editor.checked.data, label="Second filming"))
    assert any(p.field.startswith("variants[1]") for p in editor.checked.errors)
    clock = ManualClock()
    preview = authoring.preview(editor, "arrival", "a", clock=clock,
                                player=HeadlessPlayer(clock))
    preview.run.start()
    assert preview.run.current_segment.id == "arrival"
    with pytest.raises(DocumentError, match="variants\\[1\\]"):
        authoring.preview(editor, "arrival", "second_filming", clock=clock,
                          player=HeadlessPlayer(clock))


def test_an_account_disabled_meanwhile_can_do_nothing_more(record, tmp_path: Path) -> None:
    accounts = Accounts(record)
    accounts.add("lee", Role.instructor, PASSWORD)
    gate = Gate.sign_in(record, "lee", PASSWORD, Permission.run, where="console")
    authoring = Authoring(gate, tmp_path, default_profile())
    authoring.scenarios()
    accounts.set_disabled("lee", True)
    with pytest.raises(SignedOut, match="disabled"):
        authoring.scenarios()


def test_saving_keeps_what_an_agency_wrote_in_a_sidecar_that_the_scenario_does_not_say(
        authoring: Authoring, take: Path) -> None:
    sidecar_for(take).write_text(
        "schema_version: 1\n"
        "people:\n"
        "  subject: {race: asian, age_band: age_35_44}\n"
        "  clerk: {gender: woman}\n"
        "setting: {location: corner_store, light: night}\n", encoding="utf-8")
    editor = _build(authoring, take)
    authoring.save(editor)
    tags = yaml.safe_load(sidecar_for(take).read_text())
    # The scenario's word wins where it speaks; the rest is the agency's and stays.
    assert tags["people"]["subject"] == {"race": ["white"], "gender": ["man"],
                                         "age_band": "age_35_44"}
    assert tags["people"]["clerk"] == {"gender": "woman"}
    assert tags["setting"] == {"location": "corner_store", "light": "night"}


def test_an_unreadable_sidecar_is_left_alone_and_named(authoring: Authoring,
                                                       take: Path) -> None:
    sidecar_for(take).write_text("people: [unclosed\n", encoding="utf-8")
    editor = _build(authoring, take)
    tags = authoring.save(editor)
    assert tags.written == ()
    assert any("cannot be read" in why and str(sidecar_for(take)) in why for why in tags.skipped)
    assert sidecar_for(take).read_text(encoding="utf-8") == "people: [unclosed\n"
