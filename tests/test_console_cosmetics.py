"""What the console shows, checked as an instructor in a dark room would read it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QHelpEvent, QImage
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)
from test_catalog import edit
from test_review_training import play

from instructor_console.console_window import ConsoleWindow
from instructor_console.review_panel import ReviewPanel
from instructor_console.setup_panel import AUTOMATIC, SetupPanel
from instructor_console.theme import DARK
from simulator.access.privacy import erase_trainee
from simulator.agency import default_profile
from simulator.projector.host import ProjectorHost
from simulator.projector.settings import ProjectorSettings
from simulator.record import Record
from simulator.review.rubric import bundled_rubric, load_rubric
from simulator.runtime import MonotonicClock
from simulator.scenario import bundled_library
from simulator.training import Auditing, Gate, Reviewing

pytestmark = pytest.mark.gui

# The size `branchpoint console` opens at, less its status bar.
CONSOLE = (1280, 770)


def review_panel(record: Record) -> ReviewPanel:
    """The review panel of a console on ``record``, with no accounts."""
    gate = Gate(record, None, "console")
    return ReviewPanel(Reviewing(gate), Auditing(gate), default_profile(),
                       load_rubric(bundled_rubric()))


@pytest.fixture
def record(tmp_path):
    opened = Record.open(f"sqlite:///{tmp_path / 'record.sqlite3'}")
    yield opened
    opened.close()


def host(record, library) -> ProjectorHost:
    return ProjectorHost(record, library, default_profile(), ProjectorSettings(audio=False),
                         MonotonicClock(), windowed_size=(320, 180))


def setup_panel(qtbot, record, library) -> SetupPanel:
    panel = SetupPanel(host(record, library), default_profile())
    qtbot.addWidget(panel)
    panel.load_catalog()
    panel.resize(*CONSOLE)
    panel.show()
    return panel


def test_every_page_of_the_console_fits_the_window_it_opens_in(qtbot, record, doorway):
    window = ConsoleWindow(host(record, bundled_library()), default_profile(), MonotonicClock(),
                           load_rubric(bundled_rubric()))
    qtbot.addWidget(window)
    window.setup.load_catalog()
    window.resize(*CONSOLE)
    window.show()
    assert window.minimumSizeHint().width() <= CONSOLE[0]
    # Review mode with a run open, its replay clock and keys under the picture.
    run_id = play(record, doorway, [record.people.add("trainee", "Officer Reyes")])
    assert window.open_review() and window.review.open_run(run_id)
    qtbot.waitUntil(lambda: "Space play" in window.review.clock.text(), timeout=5000)
    QApplication.sendPostedEvents()  # the layouts take the new text into account
    assert window.minimumSizeHint().width() <= CONSOLE[0], window.review.clock.text()


# -- the review list --------------------------------------------------------------------------


def test_the_run_list_names_who_played_each_run_as_plain_text(qtbot, record, doorway):
    hostile = "<b>Reyes</b><img src=x>"
    reyes = record.people.add("trainee", hostile)
    byrne = record.people.add("trainee", "Officer Byrne")
    gone = record.people.add("trainee", "Officer Gone")
    play(record, doorway, [reyes, byrne])
    play(record, doorway, [gone])
    erase_trainee(record, gone)
    panel = review_panel(record)
    qtbot.addWidget(panel)
    items = [panel.runs.item(row) for row in range(panel.runs.count())]
    newest, first = (item.text().splitlines() for item in items)
    assert "(erased)" in newest and "Officer Gone" not in "".join(newest)
    # Item views draw their text as it is: tags show as typed, never as markup.
    assert f"{hostile}, Officer Byrne" in first
    assert not any(GuiQt.mightBeRichText(item.toolTip()) for item in items)


def test_the_review_timeline_says_what_its_ticks_mean(qtbot, record):
    from instructor_console.marker_bar import LEGEND, TICKS

    panel = review_panel(record)
    qtbot.addWidget(panel)
    explained = {colour for colour, _meaning in LEGEND}
    assert {colour for colour, _row in TICKS.values()} == explained
    text = panel.legend.text().replace("&nbsp;", " ")
    for colour, meaning in LEGEND:
        assert f'<span style="color:{colour}">&#9608;</span> {meaning}' in text
    assert "thin tick: retracted" in text and "shaded: paused" in text


# -- drop-downs ---------------------------------------------------------------------------------


def edit_field(combo: QComboBox) -> QRect:
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    return combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                        QStyle.SubControl.SC_ComboBoxEditField, combo)


def tooltip(qtbot, widget: QWidget, at: QPoint) -> str:
    """The tooltip shown for a pause of the pointer at ``at``, or "" for none."""
    QToolTip.hideText()
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=2000)
    QApplication.sendEvent(widget, QHelpEvent(QEvent.Type.ToolTip, at, widget.mapToGlobal(at)))
    return QToolTip.text() if QToolTip.isVisible() else ""


def test_set_up_drop_downs_show_their_choices_whole_within_the_screen(qtbot, record):
    panel = setup_panel(qtbot, record, bundled_library())
    # The set-up never asks for more room than the window the console opens in.
    assert panel.minimumSizeHint().width() <= CONSOLE[0]
    combos = (panel.focus_filter, panel.pledge_filter, panel.setting_filter,
              panel.people_filter, panel.variant, panel.projector_screen)
    screen = panel.screen().availableGeometry()
    for combo in combos:
        metrics = QFontMetrics(combo.font())
        # What a class starts with reads whole, without opening anything.
        assert combo.currentIndex() == 0
        assert metrics.horizontalAdvance(combo.currentText()) <= edit_field(combo).width(), (
            combo.currentText())
        for row in range(combo.count()):
            combo.setCurrentIndex(row)
            text = combo.currentText()
            shown = combo.shown_text()
            assert metrics.horizontalAdvance(shown) <= edit_field(combo).width(), text
            if shown != text:  # cut short, said so, and the whole in its tooltip
                assert shown.endswith("…") and text.startswith(shown[:-1])
                assert tooltip(qtbot, combo, combo.rect().center()) == text
            else:
                assert tooltip(qtbot, combo, combo.rect().center()) == ""
        combo.setCurrentIndex(0)
        combo.showPopup()
        view = combo.view()
        qtbot.waitUntil(view.isVisible, timeout=2000)
        assert view.window().geometry().width() <= screen.width()
        for row in range(combo.count()):
            # Each choice is laid out whole in the list: wrapped if it must be, never cut.
            area = view.visualRect(combo.model().index(row, 0))
            needed = metrics.boundingRect(QRect(0, 0, area.width() - 8, 10_000),
                                          Qt.TextFlag.TextWordWrap, combo.itemText(row))
            assert needed.height() <= area.height(), combo.itemText(row)
        combo.hidePopup()
    assert panel.variant.itemText(0) == AUTOMATIC


# -- check boxes --------------------------------------------------------------------------------


def luminance(colour: QColor) -> float:
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG 2 contrast ratio of two colours."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def border_contrast(image: QImage, box: QRect, background: QColor) -> float:
    """The weakest side of the box's border against the background.

    Each side is read along its middle half; at each point the best of the three outermost
    pixels counts, so rounded corners and antialiasing do not matter.
    """
    def side(points) -> float:
        return min(max(contrast(image.pixelColor(p), background) for p in across)
                   for across in points)

    xs = range(box.left() + box.width() // 4, box.right() - box.width() // 4 + 1)
    ys = range(box.top() + box.height() // 4, box.bottom() - box.height() // 4 + 1)
    return min(side([[QPoint(x, box.top() + d) for d in range(3)] for x in xs]),
               side([[QPoint(x, box.bottom() - d) for d in range(3)] for x in xs]),
               side([[QPoint(box.left() + d, y) for d in range(3)] for y in ys]),
               side([[QPoint(box.right() - d, y) for d in range(3)] for y in ys]))


def test_an_empty_check_box_or_radio_button_is_clearly_visible_on_the_dark_theme(qtbot):
    page = QWidget()
    page.setStyleSheet(DARK)
    box = QCheckBox("Pseudonymise exports")
    radio = QRadioButton("Projector in a window")
    trainees = QListWidget()
    item = QListWidgetItem("Officer Reyes")
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Unchecked)
    trainees.addItem(item)
    layout = QVBoxLayout(page)
    layout.addWidget(box)
    layout.addWidget(radio)
    layout.addWidget(trainees)
    qtbot.addWidget(page)
    page.resize(400, 200)
    page.show()

    for button, element in ((box, QStyle.SubElement.SE_CheckBoxIndicator),
                            (radio, QStyle.SubElement.SE_RadioButtonIndicator)):
        option = QStyleOptionButton()
        button.initStyleOption(option)
        indicator = button.style().subElementRect(element, option, button)
        image = button.grab().toImage()
        background = image.pixelColor(indicator.right() + 3, indicator.center().y())
        assert contrast(background, QColor("#111418")) < 1.1  # the page's own background
        # WCAG 2.1 asks 3:1 of what identifies a control (success criterion 1.4.11).
        assert border_contrast(image, indicator, background) >= 3.0, button.text()

    view_option = QStyleOptionViewItem()
    trainees.initViewItemOption(view_option)
    view_option.index = trainees.model().index(0, 0)
    view_option.rect = trainees.visualRect(view_option.index)
    view_option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    indicator = trainees.style().subElementRect(
        QStyle.SubElement.SE_ItemViewItemCheckIndicator, view_option, trainees)
    image = trainees.viewport().grab().toImage()
    background = image.pixelColor(indicator.center().x(), view_option.rect.bottom() + 4)
    assert border_contrast(image, indicator, background) >= 3.0


# -- counts -------------------------------------------------------------------------------------


def test_counts_of_one_read_in_the_singular(qtbot, record, tmp_path, doorway_text):
    library = tmp_path / "library"
    (library / "single").mkdir(parents=True)
    single = edit(doorway_text, "id: doorway", "id: single")
    single = single[:single.index("  - id: b")] + single[single.index("start: door"):]
    (library / "single" / "scenario.yaml").write_text(single, encoding="utf-8")
    panel = setup_panel(qtbot, record, library)
    listed = panel.scenarios.item(0).text()
    assert " · 1 variant · " in listed, listed
    roster = tmp_path / "class.csv"
    roster.write_text("name\nOfficer Reyes\n", encoding="utf-8")
    assert panel.import_roster(roster)
    assert panel.checks.text() == "roster: 1 trainee from class.csv"


def score_one_item(qtbot, reviewed_run, rater: str) -> tuple[ReviewPanel, bool]:
    """The review panel on the reviewed run, one level picked, saved as ``rater``."""
    run, record, _, _, _ = reviewed_run
    panel = review_panel(record)
    qtbot.addWidget(panel)
    assert panel.open_run(run.summary.id)
    panel.rater.setText(rater)
    next(iter(panel.levels.values())).setCurrentIndex(1)
    return panel, panel.save_scores()


def test_saving_one_score_says_one(qtbot, reviewed_run):
    panel, saved = score_one_item(qtbot, reviewed_run, "Sgt. Okafor")
    assert saved
    assert panel.scored.text().startswith("saved 1 score. 1 rater so far."), panel.scored.text()


def test_a_rater_named_with_a_control_character_is_refused_on_screen(qtbot, reviewed_run):
    run, record, _, _, _ = reviewed_run
    panel, saved = score_one_item(qtbot, reviewed_run, "Sgt.\u202eOkafor")
    assert not saved
    assert "U+202E" in panel.scored.text() and not record.scores.standing(run_ids=[run.summary.id])


def test_a_tooltip_shows_markup_as_typed():
    from PySide6.QtGui import QTextDocument

    from instructor_console.theme import plain_tooltip

    for text in ("<b>Reyes</b><img src=x>", "He walks at the officer", "a < b & c"):
        shown = QTextDocument()
        if GuiQt.mightBeRichText(plain_tooltip(text)):
            shown.setHtml(plain_tooltip(text))
        else:
            shown.setPlainText(plain_tooltip(text))
        assert shown.toPlainText() == text


def test_a_label_shows_a_name_that_looks_like_markup_as_typed(qtbot):
    from instructor_console.theme import label

    hostile = "<b>Reyes</b><img src=x>"
    shown = label(f"logging for: {hostile}", "logging")
    qtbot.addWidget(shown)
    shown.show()
    assert shown.textFormat() == Qt.TextFormat.PlainText
    # Drawn as text, the tags take their own width; as markup, they would take none.
    assert shown.sizeHint().width() >= shown.fontMetrics().horizontalAdvance(
        f"logging for: {hostile}")


def test_a_typed_trainee_name_with_a_control_character_is_refused_as_typed(qtbot, record):
    panel = setup_panel(qtbot, record, bundled_library())
    panel.new_trainee.setText("Dana\x1b[2A")
    QTest.keyClick(panel.new_trainee, Qt.Key.Key_Return)
    assert panel.trainees.count() == 0
    assert "not added" in panel.checks.text() and "U+001B ESCAPE" in panel.checks.text()
    assert panel.new_trainee.text() == "Dana\x1b[2A"  # kept, to be corrected
    panel.new_trainee.setText("Dana Reyes")
    QTest.keyClick(panel.new_trainee, Qt.Key.Key_Return)
    assert [panel.trainees.item(0).text()] == ["Dana Reyes"]
