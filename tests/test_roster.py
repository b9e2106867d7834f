"""Class rosters from CSV: what spreadsheets write is read; every mistake names its line."""

from __future__ import annotations

import pytest

from simulator.documents import DocumentError
from simulator.roster import MAX_BYTES, MAX_ROWS, RosterEntry, next_group, read_roster


def write(tmp_path, text: str | bytes, name: str = "class.csv"):
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def problems_of(path):
    with pytest.raises(DocumentError) as caught:
        read_roster(path)
    return caught.value.problems


def test_excel_export_with_bom_semicolons_and_blank_lines(tmp_path):
    text = ("Cohort;NAME;Badge\r\n"
            "2025-A;Reyes, Dana;B-1042\r\n"
            "\r\n"
            ";  Lee Park ;\r\n"
            "2025-A;\"O'Neil; Sam\";B-7\r\n"
            ";;\r\n")
    path = write(tmp_path, "\ufeff".encode() + text.encode("utf-8"))
    assert read_roster(path) == [
        RosterEntry("Reyes, Dana", "B-1042", "2025-A"),
        RosterEntry("Lee Park", None, None),
        RosterEntry("O'Neil; Sam", "B-7", "2025-A"),
    ]


def test_comma_file_with_only_names(tmp_path):
    path = write(tmp_path, "name\nDana Reyes\n\"Park, Lee\"\nÉlodie Martin\n")
    assert [e.name for e in read_roster(path)] == ["Dana Reyes", "Park, Lee", "Élodie Martin"]
    assert all(e.badge is None and e.cohort is None for e in read_roster(path))


def test_missing_name_column_names_the_header_line(tmp_path):
    path = write(tmp_path, "\n\nbadge,cohort\nB-1,2025\n")
    [problem] = problems_of(path)
    assert (problem.line, problem.field, problem.code) == (3, "name", "missing")
    assert str(problem).startswith(f"{path}:3: error: name:")
    assert "name,badge,cohort" in problem.message


def test_empty_name_names_line_and_column(tmp_path):
    path = write(tmp_path, "name,badge\nDana Reyes,B-1\n  ,B-2\nLee Park,B-3\n,B-4\n")
    problems = problems_of(path)
    assert [(p.line, p.field, p.code) for p in problems] == [
        (3, "name", "missing"), (5, "name", "missing")]
    assert "write the trainee's name" in problems[0].message


def test_duplicate_badge_names_both_lines_ignoring_case(tmp_path):
    path = write(tmp_path, "name,badge\nDana Reyes,B-1042\nLee Park,B-7\nSam Oh,b-1042\n")
    [problem] = problems_of(path)
    assert (problem.line, problem.field, problem.code) == (4, "badge", "duplicate")
    assert "line 2" in problem.message and "b-1042" in problem.message


def test_two_trainees_of_one_name_are_refused_because_the_record_would_merge_them(tmp_path):
    path = write(tmp_path, "name,badge\nAlex Kim,101\nLee Park,102\nalex kim,103\n")
    [problem] = problems_of(path)
    assert (problem.line, problem.field, problem.code) == (4, "name", "duplicate")
    assert "line 2" in problem.message and "middle initial" in problem.message


def test_empty_badges_are_not_duplicates(tmp_path):
    path = write(tmp_path, "name,badge\nDana Reyes,\nLee Park,\n")
    assert [e.badge for e in read_roster(path)] == [None, None]


def test_unknown_column_is_refused_with_a_suggestion(tmp_path):
    path = write(tmp_path, "name,bagde,email\nDana Reyes,B-1,d@example.org\n")
    problems = problems_of(path)
    assert [(p.line, p.field, p.code) for p in problems] == [
        (1, "bagde", "unknown-column"), (1, "email", "unknown-column")]
    assert "did you mean `badge`?" in problems[0].message
    assert "did you mean" not in problems[1].message


def test_repeated_column_is_refused(tmp_path):
    path = write(tmp_path, "name,Name\nDana Reyes,Dana\n")
    [problem] = problems_of(path)
    assert (problem.line, problem.code) == (1, "duplicate") and "column 2" in problem.message


def test_unquoted_delimiter_in_a_value_is_named(tmp_path):
    path = write(tmp_path, "name;badge\nDana Reyes;B-1\nLee; Park;B-2\n")
    [problem] = problems_of(path)
    assert problem.line == 3 and "quotes" in problem.message and "`;`" in problem.message


def test_value_under_a_blank_heading_is_refused(tmp_path):
    assert read_roster(write(tmp_path, "name,,\nDana Reyes,,\n")) == [RosterEntry("Dana Reyes")]
    [problem] = problems_of(write(tmp_path, "name,,badge\nDana Reyes,x,B-1\n", "b.csv"))
    assert (problem.line, problem.field) == (2, "column 2")


@pytest.mark.parametrize("text", ["", "\ufeff", "\n  \n\n"])
def test_empty_file(tmp_path, text):
    [problem] = problems_of(write(tmp_path, text))
    assert problem.code == "empty" and "header" in problem.message


def test_header_without_trainees(tmp_path):
    [problem] = problems_of(write(tmp_path, "name,badge\n\n"))
    assert problem.code == "empty" and "no trainee" in problem.message


def test_a_roster_is_a_class_not_an_agency(tmp_path):
    rows = "".join(f"Trainee {n},B-{n}\n" for n in range(MAX_ROWS))
    assert len(read_roster(write(tmp_path, "name,badge\n" + rows))) == MAX_ROWS
    [problem] = problems_of(write(tmp_path, "name,badge\n" + rows + "One More,B-x\n", "b.csv"))
    assert (problem.line, problem.code) == (MAX_ROWS + 2, "too-large")
    assert "a roster is one class" in problem.message
    huge = write(tmp_path, "name\n" + "x" * MAX_BYTES + "\n", "huge.csv")
    [problem] = problems_of(huge)
    assert problem.code == "invalid" and "split the file by class" in problem.message


def test_not_utf8_names_the_line_and_how_to_save(tmp_path):
    path = write(tmp_path, b"name\nDana Reyes\n" + "Élodie Martin\n".encode("cp1252"))
    [problem] = problems_of(path)
    assert (problem.line, problem.code) == (3, "encoding") and "CSV UTF-8" in problem.message


def test_overlong_values_are_refused_before_they_reach_the_record(tmp_path):
    path = write(tmp_path, f"name,badge\n{'n' * 201},B-1\nDana Reyes,{'9' * 101}\n")
    problems = problems_of(path)
    assert [(p.line, p.field, p.code) for p in problems] == [
        (2, "name", "too-long"), (3, "badge", "too-long")]


def test_missing_file_says_so(tmp_path):
    [problem] = problems_of(tmp_path / "nowhere.csv")
    assert "cannot read the file" in problem.message and "nowhere.csv" in str(problem)


def test_the_next_group_of_a_class_follows_the_last_one_in_list_order():
    names = ["Reyes", "Byrne", "Okafor", "Lee", "Diaz"]
    assert next_group(names, ["Reyes"]) == ("Byrne",)
    assert next_group(names, ["Byrne", "Reyes"]) == ("Okafor", "Lee")  # after the last
    assert next_group(names, ["Lee", "Okafor"]) == ("Diaz",)  # the rest, however few
    assert next_group(names, ["Diaz"]) is None
    assert next_group(names, ["Someone else"]) == ("Reyes",)  # not listed: from the start
    assert next_group([], ["Reyes"]) is None
