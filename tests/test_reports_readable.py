"""Reports people can read: what they say with little data, what their figures show and how
their columns and gaps are labelled, checked on the rendered pages and figures."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from test_audit_statistics import table

from media_index.coverage import Appearance, Reference, ReferenceRow, coverage
from media_index.coverage_report import as_html as coverage_html
from simulator.agency import default_profile
from simulator.audit.document import AuditScope, audit_document, scoped_trials
from simulator.audit.report import audit_figure, audit_html
from simulator.audit.statistics import MIN_TRAINEES, MIN_TRIALS, audit
from simulator.record.scores import Score
from simulator.review.layout import png
from simulator.review.people import People
from simulator.review.report import as_html as review_html
from simulator.review.report import build_run_report, timeline_figure
from simulator.review.rubric import bundled_rubric, load_rubric

PROFILE = default_profile()
NOW = datetime(2026, 11, 30, tzinfo=UTC)
HOSTILE = "<b>$\\bogus{$</b>"  # markup for the page, and broken mathtext for matplotlib


class Page(HTMLParser):
    """A rendered page's paragraphs, tables (rows of (tag, text) cells) and images."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.paragraphs: list[str] = []
        self.tables: list[list[list[tuple[str, str]]]] = []
        self.images = 0
        self._text: list[str] | None = None
        self._cell = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("p", "td", "th"):
            self._text, self._cell = [], tag
        elif tag == "img":
            self.images += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "td", "th") and self._text is not None:
            text = "".join(self._text).strip()
            if tag == "p":
                self.paragraphs.append(text)
            else:
                self.tables[-1][-1].append((tag, text))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def points_sit_by_their_labels(figure: Any) -> dict[int, list[str]]:
    """Each panel's group labels, after checking that every label sits by its own data.

    A label's slot is its share of the panel's width. Every drawn line (an interval, a
    box, a median) must lie within half a slot of the label it belongs to, and every
    label must have something drawn in its slot.
    """
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    shown: dict[int, list[str]] = {}
    for i, axes in enumerate(figure.axes):
        box = axes.get_window_extent(renderer)
        labels = [(t, x) for t, x in zip(axes.get_xticklabels(), axes.get_xticks(),
                                         strict=True) if t.get_text()]
        assert labels, f"panel {i} has no group labels"
        slot = box.width / len(labels)
        at = [float(axes.transData.transform((x, 0))[0]) for _, x in labels]
        for (text, _), x in zip(labels, at, strict=True):
            assert box.x0 <= x <= box.x1, f"{text.get_text()!r} is outside its panel"
            extent = text.get_window_extent(renderer)
            gap = max(extent.x0 - x, x - extent.x1, 0.0)
            assert gap < slot / 2, f"{text.get_text()!r} is drawn away from its tick"
        centres = [float(axes.transData.transform((sum(line.get_xdata()) / len(
            line.get_xdata()), 0))[0]) for line in axes.lines if len(line.get_xdata())]
        assert centres, f"panel {i} draws nothing"
        for centre in centres:
            assert min(abs(centre - x) for x in at) < slot / 2, f"a point of panel {i} " \
                "is away from every label"
        for (text, _), x in zip(labels, at, strict=True):
            assert any(abs(centre - x) < slot / 2 for centre in centres), \
                f"{text.get_text()!r} labels nothing"
        shown[i] = [" ".join(t.get_text().split()) for t, _ in labels]
    return shown


def test_an_audit_of_two_trials_says_they_are_too_few_and_draws_only_what_it_has(
        reviewed_run):
    _, record, _, _, _ = reviewed_run
    page = Page(audit_document(record, PROFILE, AuditScope(), "html"))
    words = " ".join(page.paragraphs)
    # The run's two scored cues: `hand` (no threat) met with a CEW, `blade` timed out.
    assert "2 trials from 1 trainee (1 timeout, left out of rates)." in words
    assert "too few for the statistics to mean anything" in words
    # What statistics.py needs before it tests: two groups, each with MIN_TRIALS answered
    # trials of the kind of cue compared, from MIN_TRAINEES trainees who met both.
    assert (f"only once each has at least {MIN_TRIALS} answered trials of the kind of cue "
            f"compared (with a threat, or without), from at least {MIN_TRAINEES} trainees "
            "who met both") in words
    assert "no other group to compare it with" in words
    # Every attribute shows one group: there is nothing it is a reference for.
    cells = [text for rows in page.tables for row in rows for _, text in row]
    assert "Black or African American" in cells
    assert not [text for text in cells if "(reference)" in text]

    table_, _ = scoped_trials(record, PROFILE, AuditScope())
    race = audit(table_)["attributes"]["race"]
    figure = audit_figure(table_, "race", race, PROFILE)
    # One answered trial, without a threat: a force rate, but no c and no latency yet.
    assert points_sit_by_their_labels(figure) == {0: ["Black or African American"]}
    legend = figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["no threat"]


def test_an_audit_marks_only_its_reference_and_labels_each_group_where_it_is_drawn():
    rows: list[tuple[str, str, bool, str, float | None]] = [
        ("t1", "white", True, "force", 600.0), ("t1", "white", False, "no_force", 700.0),
        ("t2", "white", True, "force", 620.0), ("t2", "white", False, "no_force", 710.0),
        ("t1", "black_african_american", False, "force", 650.0),
        ("t2", HOSTILE, True, "timeout", None)]
    trials = table(rows)
    result = audit(trials)
    race = result["attributes"]["race"]
    assert race["reference"] == "white"
    html = audit_html(result, trials, PROFILE, "Made up trials.", NOW)
    assert HOSTILE not in html and "&lt;b&gt;$\\bogus{$&lt;/b&gt;" in html
    page = Page(html)
    group_table = next(t for t in page.tables if t[0][0] == ("th", "Group"))
    groups = [row[0][1] for row in group_table[1:]]
    assert sorted(groups) == sorted([HOSTILE, "Black or African American",
                                     "White (reference)"])
    assert "6 trials from 2 trainees (1 timeout, left out of rates)." in page.paragraphs
    assert any("too few for the statistics to mean anything" in p for p in page.paragraphs)

    figure = audit_figure(trials, "race", race, PROFILE)
    # The timed-out group has no answer to draw; only White met both kinds of cue, and
    # only White has latencies on threat cues.
    assert points_sit_by_their_labels(figure) == {
        0: ["Black or African American", "White"], 1: ["White"], 2: ["White"]}
    legend = figure.axes[0].get_legend()
    assert sorted(t.get_text() for t in legend.get_texts()) == ["no threat", "threat"]


def test_an_audit_with_no_answered_trial_draws_no_figure():
    trials = table([("t1", "white", True, "timeout", None),
                    ("t1", "white", False, "timeout", None)])
    race = audit(trials)["attributes"]["race"]
    assert audit_figure(trials, "race", race, PROFILE) is None
    page = Page(audit_html(audit(trials), trials, PROFILE, "Made up trials.", NOW))
    assert page.images == 0


def test_coverage_gaps_are_in_percentage_points_and_shares_in_percent():
    reference = Reference("city.csv", {"race": [
        ReferenceRow("race", "white", 0.6, "", "a census"),
        ReferenceRow("race", "black_african_american", 0.4, "", "a census")]})
    shown = [Appearance({"race": ["white"]})] * 3 + [
        Appearance({"race": ["black_african_american"]})]
    views = {"clips": coverage(shown, ["race"], lambda _, values: "+".join(values),
                               reference)}
    # An agency's label for a group is shown as written, in the table and in the chart.
    html = coverage_html(views, reference, {"race": {
        "white": "White", "black_african_american": HOSTILE}}, {"race": "Race/ethnicity"})
    assert HOSTILE not in html
    page = Page(html)
    header, *rows = page.tables[0]
    assert [row[0][1] for row in rows] == ["White", HOSTILE]
    gap = [text for _, text in header].index("Gap (percentage points)")
    assert [row[gap][1] for row in rows] == ["+15.0 pp", "-15.0 pp"]
    assert [(row[2][1], row[3][1]) for row in rows] == [("75.0%", "60.0%"),
                                                        ("25.0%", "40.0%")]
    assert any("in percentage points" in p for p in page.paragraphs)


def test_every_column_of_the_after_action_report_is_labelled(reviewed_run):
    run, _, trainee, _, _ = reviewed_run
    rubric, digest = load_rubric(bundled_rubric())
    scores = [Score(run.summary.id, trainee, rater, rubric.id, digest, item.id,
                    rubric.levels[1].id, 2, NOW, None)
              for rater in ("ann", "bob") for item in rubric.items]
    report = build_run_report(run, People(run.names), PROFILE, scores, rubric)
    page = Page(review_html([report], "After-action report", NOW))
    headed = [rows for rows in page.tables if rows[0][0][0] == "th"]
    assert len(headed) == 4  # decisions, shots (the trigger press), flags, rubric scores
    for header, *rows in headed:
        assert all(tag == "th" and text for tag, text in header), header
        assert all(len(row) == len(header) for row in rows)
    decisions = headed[0]
    retracted = [c for _, c in decisions[0]].index("Retracted")
    assert [row[retracted][1] for row in decisions[1:]] == ["no", "no", "yes"]


def test_the_timeline_figure_has_a_legend_naming_every_kind_of_marker_it_draws(
        reviewed_run):
    run, _, _, _, _ = reviewed_run
    report = build_run_report(run, People(run.names), PROFILE)
    axes = report.figure.axes[0]
    legend = axes.get_legend()
    assert legend is not None
    named = {t.get_text() for t in legend.get_texts()}
    # The doorway run: two cues, a trigger press (a shot the range did not place),
    # decisions with and without force (the firearm retracted), the instructor's branch, a
    # flag. No default branch, no pause.
    assert named == {"Cue", "Shot (not scored)", "Decision", "Decision using force",
                     "Branch taken by the instructor", "Flag", "Retracted"}
    drawn = {c.get_label() for c in axes.collections if len(c.get_offsets())}
    assert drawn == named


def test_a_timeline_legend_names_a_default_branch_and_a_pause(doorway):
    from conftest import MemoryJournal

    from simulator.headless.player import HeadlessPlayer
    from simulator.protocol import Pause, Resume
    from simulator.review.timeline import build_timeline
    from simulator.runtime import ManualClock, ScenarioRun

    clock, journal = ManualClock(), MemoryJournal()
    run = ScenarioRun.new(doorway, run_id="r", session_id="s", variant_id="a",
                          trainee_ids=["t1"], instructor_id=None, clock=clock,
                          player=HeadlessPlayer(clock), journal=journal)
    run.start()
    run.poll()
    clock.advance(2.0)
    run.handle(Pause())
    clock.advance(3.0)
    run.handle(Resume())
    while not run.ended:  # nobody steers: every decision point takes its default
        clock.advance(1.0)
        run.poll()
    # A segment's title is the scenario author's text: drawn as written, not as mathtext.
    figure = timeline_figure(build_timeline(journal.events, doorway.scenario),
                             {"door": HOSTILE})
    assert png(figure).startswith(b"\x89PNG")
    assert HOSTILE in {t.get_text() for t in figure.axes[0].texts}
    axes = figure.axes[0]
    named = {t.get_text() for t in axes.get_legend().get_texts()}
    assert named == {"Cue", "Default branch (time ran out)", "Paused"}
    assert {c.get_label() for c in axes.collections if len(c.get_offsets())} == named - {
        "Paused"}
