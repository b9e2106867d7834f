"""Size caps bound the work: scenarios read fast with the same verdicts, trials stream.

Timings and memory are measured in bench/scenario_validate.py and bench/trial_import.py;
here only that the fast ways give the same answers as the slow ones, and that the caps
refuse clearly.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import DOORWAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_loader import mutated_scenarios
from typer.testing import CliRunner

from simulator.agency import default_profile
from simulator.audit.source import import_trials, imported_trials, with_imported
from simulator.audit.statistics import audit
from simulator.audit.trials import frame, read_trials_csv, trial_batches
from simulator.cli.app import app
from simulator.documents import DocumentError, parse_document
from simulator.documents.yaml_nodes import load_with_locations
from simulator.scenario import LintReport, bundled_library, lint, load_scenario, parse_scenario
from simulator.scenario import loader as scenario_loader
from simulator.scenario.fast_yaml import load_plain, locate
from simulator.scenario.lint import _parse_field
from simulator.scenario.model import Scenario

runner = CliRunner()


# -- scenarios -----------------------------------------------------------------------------


def _verdict(read):
    """What a reader makes of a text: the scenario, or its problems, or what it raised."""
    try:
        return "ok", read().model_dump()
    except DocumentError as exc:
        return "problems", [str(p) for p in exc.problems]
    except Exception as exc:  # the slow reader's own failures must be the fast one's too
        return type(exc).__name__, str(exc)


def _same_verdict(text: str) -> None:
    fast = _verdict(lambda: parse_scenario(text, "s.yaml").scenario)
    slow = _verdict(lambda: parse_document(text, Scenario, source="s.yaml", kind="scenario",
                                           current=1, minimum=1))
    assert fast == slow


def _with_segments(count: int) -> str:
    segments = "".join(
        f"  - {{id: s{i}, clip: c, in: 0, out: 5, decision: {{default: go, branches: "
        f"[{{id: go, label: Go, hotkey: '1', to: s{i + 1}}}]}}}}\n" for i in range(count - 1))
    return textwrap.dedent("""\
        schema_version: 1
        id: many
        title: Many
        variants: [{id: a, people: {}, clips: {c: c.mp4}}]
        start: s0
        segments:
        """) + segments + f"  - {{id: s{count - 1}, clip: c, in: 0, out: 5, outcome: " \
        "{kind: arrest}}\n"


def test_a_scenario_over_the_segment_cap_is_refused_naming_the_file_field_and_fix(
        tmp_path, monkeypatch):
    monkeypatch.setattr(scenario_loader, "MAX_SEGMENTS", 3)
    folder = tmp_path / "many"
    folder.mkdir()
    path = folder / "scenario.yaml"
    path.write_text(_with_segments(3))
    assert len(load_scenario(path).scenario.segments) == 3
    text = _with_segments(4)
    path.write_text(text)
    with pytest.raises(DocumentError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    line = text.splitlines().index("segments:") + 1
    assert str(problem).startswith(f"{path}:{line}:1: error: segments: 4 segments; a "
                                   "scenario holds at most 3. Split it into several")
    assert problem.code == "too-many-segments"
    # A version already in a record still opens: the cap is for files coming in.
    assert len(parse_scenario(text, "record").scenario.segments) == 4
    result = runner.invoke(app, ["validate", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert f"{path}:{line}:1: error: segments: 4 segments" in result.output


@pytest.mark.parametrize(("unusual", "where"), [
    (lambda t: t.replace("start: s0", "<<: {start: s0}"), "segments:"),  # a merge key
    (lambda t: t.replace("title: Many", "title: !!str Many"), "segments:"),  # a tag
    (lambda t: t.replace("id: many", "id: many\nid: again"), "segments:"),  # a duplicate
    (lambda t: t + "---\nid: second\n", "segments:"),  # a second document
    (lambda t: t + "title: [Many\n", "segments:"),  # not YAML after the segments
    # The segments themselves brought in by a merge key, in a file with a tag too.
    (lambda t: t.replace("title: Many", "title: !!str Many").replace(
        "segments:\n", "<<:\n  segments:\n").replace("\n  - {id: s", "\n    - {id: s"),
     "  segments:"),
])
def test_the_segment_cap_holds_for_text_only_the_documents_reader_reads(
        tmp_path, monkeypatch, unusual, where):
    """Checked from the parser's events before the documents reader builds anything."""
    monkeypatch.setattr(scenario_loader, "MAX_SEGMENTS", 3)
    read_by_documents = []
    monkeypatch.setattr(scenario_loader, "parse_document",
                        lambda *a, **k: read_by_documents.append(a) or parse_document(*a, **k))
    folder = tmp_path / "many"
    folder.mkdir()
    path = folder / "scenario.yaml"
    text = unusual(_with_segments(4))
    path.write_text(text)
    with pytest.raises(DocumentError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    line = text.splitlines().index(where) + 1
    assert str(problem).startswith(f"{path}:{line}:{where.index('s') + 1}: error: segments: 4 "
                                   "segments; a scenario holds at most 3. Split it")
    assert read_by_documents == []


def test_a_merge_key_is_read_by_the_fast_reader_as_the_documents_reader_reads_it(
        monkeypatch):
    """A merge key (``<<``) alone no longer sends a file to the documents reader, which
    keeps every value's line and takes twice the memory at the caps."""
    monkeypatch.setattr(scenario_loader, "parse_document", lambda *a, **k: pytest.fail(
        "read by the documents reader"))
    for text in (DOORWAY.replace("start: door", "<<: {start: door}"),
                 DOORWAY.replace("start: door", "<<: [{start: door}, {id: doorway}]").replace(
                     "id: doorway\n", ""),
                 DOORWAY.replace("    clip: calm\n    in: 6\n    out: 8\n",
                                 "    <<: &t {clip: calm, in: 6, out: 8}\n")
                 + "  - {<<: *t, id: again, outcome: {kind: arrest}}\n"):
        assert "<<" in text
        assert parse_scenario(text, "s.yaml").scenario == parse_document(
            text, Scenario, source="s.yaml", kind="scenario", current=1, minimum=1)


@pytest.mark.parametrize("text", [
    DOORWAY,
    DOORWAY.replace("in: 1.0", "in: soon"),  # a wrong type
    DOORWAY.replace("    clip: knife\n", "    clip: knife\n    clipp: x\n"),  # unknown field
    DOORWAY.replace("from: 4, to: 6", "from: 6, to: 4"),  # a validator inside a union
    DOORWAY.replace("id: calm\n", "id: door\n", 1),  # a model validator at the root
    DOORWAY.replace("id: doorway", "id: doorway\nid: twice"),  # a duplicate key
    DOORWAY.replace("in: 1.0", "in: 1.0\n    in: 2\n    in: 3").replace(
        "    out: 5\n", "    out: 5\n    out: 6\n"),  # several, nested, thrice
    DOORWAY.replace("id: doorway", "id: doorway\nid: [twice").replace("title", "id"),
    DOORWAY.replace("schema_version: 1", "schema_version: 9"),  # too new
    DOORWAY.replace("schema_version: 1\n", ""),  # no version
    DOORWAY.replace("schema_version: 1\n", "") + "schema_version: 0\n",  # too old, late
    DOORWAY.replace("schema_version: 1", "schema_version: true"),
    DOORWAY.replace("schema_version: 1", "schema_version: '1'"),
    DOORWAY.replace("title: Doorway", "title: [Doorway"),  # not YAML
    DOORWAY.replace("title: Doorway", "title: !!python/name:os.system"),  # a tag
    DOORWAY.replace("    clips: {door: b/door", "    clips: &c {door: b/door").replace(
        "start: door", "x: *c\nstart: door"),  # an anchor and an alias
    DOORWAY.replace("start: door", "<<: {start: door}"),  # a merge key
    DOORWAY.replace("start: door", "<<: {start: door, id: again}"),  # merged twice
    DOORWAY.replace("start: door", "<<: [{start: door}, {start: calm}]"),  # twice in a list
    DOORWAY.replace("start: door", "<<: [{start: door}, *x]"),  # an unknown anchor
    DOORWAY.replace("start: door", "<<: start"),  # not a mapping
    DOORWAY.replace("start: door", "<<: {start: door}\n<<: {title: Again}").replace(
        "title: Doorway\n", ""),  # two merge keys
    DOORWAY.replace("start: door", "<<: {<<: {start: door}}"),  # a merge in a merge
    DOORWAY.replace("start: door", "<<: {start: door, clipp: x}"),  # an unknown field
    DOORWAY.replace("in: 1.0", "<<: {in: soon}"),  # a wrong type, merged
    DOORWAY + "---\nid: second\n",  # two documents
    "", "just text", "- a list", "a: [" * 200 + "]" * 200,
    "schema_version: 1\nwhen: 2024-13-45\n",  # a timestamp that is no date
    "schema_version: 1\n" + "x: &a [1, 2]\n" + "".join(
        f"x{i}: &a{i} [*{'a' if i == 0 else f'a{i - 1}'}, *{'a' if i == 0 else f'a{i - 1}'}]\n"
        for i in range(20)),  # an alias bomb
])
def test_the_fast_reader_gives_the_documents_readers_verdict(text):
    _same_verdict(text)


def test_a_key_equal_to_another_written_otherwise_is_named_where_the_first_is():
    # The documents reader fails on this one (KeyError): 1 and true are the same key.
    text = DOORWAY.replace("id: doorway", "id: doorway\n1: a\n'1': b\ntrue: c")
    with pytest.raises(DocumentError) as caught:
        parse_scenario(text, "s.yaml")
    line = text.splitlines().index("1: a") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"s.yaml:{line + 2}:1: error: True: `True` is given twice here (first at line "
        f"{line}); keep one"]


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mutated_scenarios())
def test_the_fast_reader_gives_the_same_verdict_on_mutated_scenarios(text):
    _same_verdict(text)


@pytest.mark.fuzz
@given(st.text(max_size=200))
def test_the_fast_reader_gives_the_same_verdict_on_any_text(text):
    _same_verdict(text)


def test_lines_found_for_reported_fields_only_match_the_full_map():
    for path in sorted(bundled_library().glob("*/scenario.yaml")):
        text = path.read_text()
        data, everything = load_with_locations(text)
        assert load_plain(text) == data
        assert locate(text, list(everything)) == everything
        some = [p for p in everything if len(p) > 3][::7]
        wanted = {p[:end] for p in some for end in range(len(p) + 1)}
        assert locate(text, some) == {p: everything[p] for p in wanted}


def test_lint_problems_are_placed_as_before_and_a_clean_report_reads_nothing():
    assert LintReport(()).located("not: [yaml").problems == ()
    text = (DOORWAY.replace("to: talked", "to: nowhere").replace("default: calm", "")
            .replace("person: man, response_window: 3.0", "person: ghost, response_window: 3"))
    report = lint(parse_scenario(text).scenario, default_profile(), source="s.yaml")
    assert len(report.problems) >= 3
    _, locations = load_with_locations(text)
    expected = []
    for problem in report.problems:
        path = _parse_field(problem.field)
        found = next(locations[path[:end]] for end in range(len(path), -1, -1)
                     if path[:end] in locations)
        expected.append((problem.field, found))
    assert [(p.field, (p.line, p.column)) for p in report.located(text).problems] == expected


# -- trials --------------------------------------------------------------------------------

HEADER = ["trainee_id", "session_id", "scenario_id", "variant_id", "cue_id", "threat",
          "response", "latency_ms", "force_level", "subject.race", "subject.gender",
          "response_source"]


def _trials_csv(path: Path, rows: int, *, bad_line: int | None = None) -> Path:
    """A trial file of ``rows`` rows; the row on file line ``bad_line`` has a bad threat."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(rows):
        threat = "maybe" if i + 2 == bad_line else ("true" if i % 2 else "FALSE")
        response = ("force", "no_force", "timeout")[i % 3]
        writer.writerow([
            f"t{i % 7}", f"s{i % 3}", "doorway", "a", f"c{i % 4}", threat, response,
            "" if response == "timeout" else f"{400 + i}.5", "cew" if response == "force"
            else "", ("white", "black_african_american", "'=1+1")[i % 3],
            "" if i % 5 == 0 else ("man", "woman")[i % 2], "instructor" if i % 11 == 0
            else ""])
    path.write_text(out.getvalue())
    return path


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    plain = table.astype({c: object for c in table.columns
                          if c not in ("threat", "latency_ms")})
    return plain.sort_values(list(plain.columns)).reset_index(drop=True)


def test_a_streamed_import_of_many_batches_stores_what_one_batch_does(tmp_path, db_url,
                                                                       monkeypatch):
    from simulator.record import Record, trial_imports

    monkeypatch.setattr(trial_imports, "IMPORT_BATCH", 4)  # the record inserts four at a time
    path = _trials_csv(tmp_path / "trials.csv", 23)
    whole = read_trials_csv(path)
    assert len(whole) == 23 and whole.at[2, "subject.race"] == "=1+1"
    assert [len(b) for b in trial_batches(path, batch_rows=5)] == [5, 5, 5, 5, 3]
    record = Record.open(db_url)
    try:
        import_id, stored = import_trials(record, trial_batches(path, batch_rows=5),
                                          "trials.csv")
        assert stored == 23 and import_id
        assert [len(b) for b in record.trial_imports.rows(batch_rows=10)] == [10, 10, 3]
        read = imported_trials(record)
        assert isinstance(read["trainee_id"].dtype, pd.CategoricalDtype)
        assert list(read.columns) == [*HEADER[:9], "subject.gender", "subject.race",
                                      "response_source"]
        assert _sorted(read).equals(_sorted(whole[read.columns]))
        # The audit over the compact table is the audit over the file's.
        assert audit(read) == audit(whole)
    finally:
        record.close()


def test_a_bad_line_in_a_late_batch_leaves_nothing_imported_and_is_named(tmp_path, record,
                                                                       monkeypatch):
    from simulator.record import trial_imports

    monkeypatch.setattr(trial_imports, "IMPORT_BATCH", 3)  # earlier batches really are inserted
    path = _trials_csv(tmp_path / "late.csv", 40, bad_line=37)
    batches = trial_batches(path, batch_rows=6)
    with pytest.raises(DocumentError) as caught:
        import_trials(record, batches, "late.csv")
    [problem] = caught.value.problems
    assert str(problem) == (f"{path}:37: error: threat: `threat` is 'maybe'; write true or "
                            "false")
    assert list(record.trial_imports.rows()) == []


def test_the_command_line_streams_and_names_a_late_bad_line(tmp_path, monkeypatch):
    from simulator.cli import audit as audit_cli
    from simulator.record import Record, trial_imports

    monkeypatch.setattr(trial_imports, "IMPORT_BATCH", 3)
    monkeypatch.setattr(audit_cli, "trial_batches",
                        lambda file: trial_batches(file, batch_rows=6))
    db = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    bad = _trials_csv(tmp_path / "bad.csv", 40, bad_line=37)
    result = runner.invoke(app, ["audit", "import-trials", str(bad), "--db", db],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert f"{bad}:37: error: threat: `threat` is 'maybe'" in result.output
    assert "nothing was imported" in result.output
    good = _trials_csv(tmp_path / "good.csv", 40)
    result = runner.invoke(app, ["audit", "import-trials", str(good), "--db", db],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "imported 40 trials" in result.output
    record = Record.open(db)
    try:
        assert sum(len(b) for b in record.trial_imports.rows()) == 40
    finally:
        record.close()


def test_another_writer_commits_while_an_import_is_still_reading_its_file(tmp_path,
                                                                         monkeypatch):
    """The record's write lock is taken only to copy checked rows in, not while the file
    is read: a console run writing the same record meanwhile must not time out."""
    import sqlite3

    from simulator.record import Record, trial_imports

    monkeypatch.setattr(trial_imports, "IMPORT_BATCH", 4)  # batches are stored while reading on
    path = _trials_csv(tmp_path / "trials.csv", 30)
    database = tmp_path / "record.sqlite3"
    record = Record.open(f"sqlite:///{database}")
    committed = []

    def batches_and_a_write_midway():
        for i, table in enumerate(trial_batches(path, batch_rows=5)):
            yield table
            if i == 3:  # 20 rows read, several batches stored: another process writes
                other = sqlite3.connect(database, timeout=0.2)
                try:
                    with other:
                        other.execute("CREATE TABLE IF NOT EXISTS elsewhere (x)")
                        other.execute("INSERT INTO elsewhere VALUES (1)")
                    committed.append(True)
                except sqlite3.OperationalError as exc:
                    committed.append(str(exc))
                finally:
                    other.close()

    try:
        _, stored = import_trials(record, batches_and_a_write_midway(), "trials.csv")
        assert committed == [True]
        assert stored == 30 and sum(len(b) for b in record.trial_imports.rows()) == 30
    finally:
        record.close()


def test_a_bad_header_or_an_empty_file_is_refused_at_once(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("trainee_id,threat\n" + "t,true\n" * 10)
    with pytest.raises(DocumentError, match="missing columns session_id"):
        next(trial_batches(path, batch_rows=2))
    path.write_text("")
    with pytest.raises(DocumentError, match="cannot read it as UTF-8 CSV"):
        next(trial_batches(path))
    path.write_text(",".join(HEADER) + "\n")
    assert len(read_trials_csv(path)) == 0


def test_many_bad_lines_stop_the_reading_at_thirty_problems(tmp_path):
    path = tmp_path / "t.csv"
    good = _trials_csv(tmp_path / "g.csv", 1).read_text().splitlines()
    path.write_text("\n".join([good[0], *[good[1].replace("FALSE", "no")] * 1000]) + "\n")
    read = []
    batches = trial_batches(path, batch_rows=4)
    with pytest.raises(DocumentError) as caught:
        read.extend(batches)
    assert read == [] and len(caught.value.problems) == 30
    assert caught.value.problems[-1].line == 31


def test_recorded_and_imported_trials_combine_as_categories(tmp_path, record):
    path = _trials_csv(tmp_path / "trials.csv", 12)
    import_trials(record, read_trials_csv(path), "trials.csv")
    recorded = frame([{"trainee_id": "r1", "session_id": "s", "scenario_id": "doorway",
                       "variant_id": "b", "cue_id": "hand", "threat": False,
                       "response": "force", "latency_ms": 500.0, "force_level": "cew",
                       "response_source": "device", "subject.race": "white",
                       "subject.age_band": "age_35_44", "run_id": "r"}])
    both = with_imported(record, recorded)
    assert len(both) == 13 and isinstance(both["trainee_id"].dtype, pd.CategoricalDtype)
    assert both["subject.gender"].iloc[0] == "unrecorded"
    assert list(both["subject.age_band"])[1:] == ["unrecorded"] * 12
    assert list(both["run_id"].isna()) == [False] + [True] * 12
    assert audit(both) == audit(pd.concat([recorded, read_trials_csv(path)],
                                          ignore_index=True).fillna(
        {"subject.gender": "unrecorded", "subject.age_band": "unrecorded"}))
    assert imported_trials(record)["latency_ms"].isna().sum() == 4


def test_the_model_fitted_on_cell_counts_is_the_trial_level_fit():
    import numpy as np
    import statsmodels.api as sm

    from simulator.audit.statistics import audit_attribute

    rng = np.random.default_rng(3)
    n = 6000
    race = rng.choice(["white", "black", "asian"], n)
    scenario = rng.choice(["a", "b", "c"], n)
    trainee = rng.integers(0, 40, n)
    p = 0.15 + 0.05 * (race == "black") + 0.1 * (scenario == "c") + 0.002 * trainee
    table = pd.DataFrame({
        "trainee_id": [f"t{t}" for t in trainee], "session_id": "s", "scenario_id": scenario,
        "variant_id": "a", "cue_id": "c", "threat": rng.random(n) < 0.3,
        "response": np.where(rng.random(n) < p, "force", "no_force"),
        "latency_ms": rng.normal(600, 50, n), "force_level": "", "response_source": "device",
        "subject.race": race})
    found = audit_attribute(table, "race", reference="white")["comparisons"]
    nt = table[~table["threat"]]
    design = pd.get_dummies(nt["subject.race"], dtype=float).drop(columns=["white"])
    design = design.join(pd.get_dummies(nt["scenario_id"], prefix="s", drop_first=True,
                                        dtype=float))
    design.insert(0, "const", 1.0)
    fit = sm.GLM((nt["response"] == "force").astype(float), design,
                 family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(nt["trainee_id"])[0]})
    low, high = fit.conf_int().T.to_numpy()
    for i, race_group in enumerate(design.columns):
        if race_group not in ("black", "asian"):
            continue
        model = found[race_group]["model_no_threat"]
        assert model["odds_ratio"] == pytest.approx(np.exp(fit.params[race_group]), rel=1e-9)
        assert model["ci95"] == pytest.approx([np.exp(low[i]), np.exp(high[i])], rel=1e-9)
        assert model["p"] == pytest.approx(fit.pvalues[race_group], rel=1e-9)
        assert model["trainees"] == 40


def test_validate_shows_errors_first_and_counts_what_it_leaves_out(tmp_path, monkeypatch):
    from simulator.cli import app as cli_app

    monkeypatch.setattr(cli_app, "MAX_PROBLEMS_SHOWN", 2)
    folder = tmp_path / "doorway"
    folder.mkdir()
    # Lint finds three warnings (unreachable) before the four errors.
    text = (DOORWAY.replace("to: calm}", "to: nowhere}").replace("to: talked", "to: gone")
            .replace("to: knife}", "to: away}"))
    (folder / "scenario.yaml").write_text(text)
    result = runner.invoke(app, ["validate", str(folder)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(": ")[1] for line in lines[:2]] == ["error", "error"]
    assert "segment `door` is a dead end" in lines[0]
    line = next(i for i, text_line in enumerate(text.splitlines(), 1)
                if "to: nowhere" in text_line)
    assert lines[1].startswith(f"{folder / 'scenario.yaml'}:{line}:")
    assert "leads to segment `nowhere`" in lines[1]
    assert lines[2] == ("... and 5 more problems not shown (2 of them errors); fix these "
                        "first and validate again")
    assert lines[3].endswith("4 errors, 3 warnings")
