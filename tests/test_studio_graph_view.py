"""The studio's graph view: what it draws from plain (often broken) data, and what it says."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from bench.lint_large import generate
from instructor_console.studio.graph_view import ScenarioGraphView
from simulator.documents import Problem

pytestmark = pytest.mark.gui

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*/scenario.yaml"))

SMALL = {
    "start": "door",
    "segments": [
        {"id": "door", "title": "At the door", "clip": "door", "in": 0, "out": 10,
         "decision": {"default": "calm", "branches": [
             {"id": "calm", "label": "Calms down", "hotkey": "1", "kind": "de_escalate",
              "to": "calm"},
             {"id": "knife", "label": "Pulls a knife", "hotkey": "2", "kind": "escalate",
              "to": "knife"},
         ]}},
        {"id": "calm", "title": "Calm", "clip": "calm", "in": 0, "out": 5,
         "outcome": {"kind": "resolved_peacefully"}},
        {"id": "knife", "title": "Knife", "clip": "knife", "in": 0, "out": 5,
         "outcome": {"kind": "force_used"}},
    ],
}


@pytest.fixture
def view(qtbot):
    widget = ScenarioGraphView()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    # Life size, so that every box and handle is big enough to hit with the mouse.
    widget.zoom_by(1 / widget.transform().m11())
    return widget


def at(view: ScenarioGraphView, point: QPointF) -> QPoint:
    view.ensureVisible(point.x() - 5, point.y() - 5, 10, 10, 60, 60)
    return view.mapFromScene(point)


def drag(qtbot, view: ScenarioGraphView, start: QPointF, end: QPointF,
         modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    port = view.viewport()
    here, there = at(view, start), view.mapFromScene(end)
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, modifier, here)
    qtbot.mouseMove(port, here + QPoint(20, 0))
    qtbot.mouseMove(port, there)
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, modifier, there)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.parent.name)
def test_bundled_scenarios_draw_every_segment_and_branch(view, path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    view.show(data)
    segments = data["segments"]
    branches = [(i, j) for i, s in enumerate(segments) if "decision" in s
                for j, _ in enumerate(s["decision"]["branches"])]
    assert view.segment_indexes() == list(range(len(segments)))
    assert view.branch_indexes() == branches
    assert view.dangling_branches() == []
    boxes = [view.segment_rect(i) for i in view.segment_indexes()]
    assert not any(a.intersects(b) for k, a in enumerate(boxes) for b in boxes[k + 1:])


def test_columns_follow_distance_from_start_and_unreachable_come_last(view):
    data = copy.deepcopy(SMALL)
    data["segments"].append({"id": "orphan", "clip": "x", "in": 0, "out": 1,
                             "outcome": {"kind": "arrest"}})
    view.show(data)
    lefts = [view.segment_rect(i).left() for i in range(4)]
    assert lefts[0] < lefts[1] == lefts[2] < lefts[3]


@pytest.mark.parametrize("data", [
    {},
    {"segments": None},
    {"segments": "door"},
    {"segments": []},
    {"start": 3, "segments": [None, 7, "x", {}]},
    {"start": "a", "segments": [
        {"id": "a", "title": ["not", "text"], "in": "soon", "out": None, "cues": 5,
         "decision": {"window": "long", "while_waiting": "loop", "default": "nope",
                      "branches": [None, {"to": "nowhere"}, {"id": "b", "to": 4},
                                   {"id": "c", "label": 9, "hotkey": 1, "kind": "odd",
                                    "to": "a"}]}},
        {"id": "a", "decision": {"branches": "all of them"}},
        {"id": "b", "decision": [], "outcome": {}},
        {"id": "c", "outcome": "ends"},
        {"id": "d", "decision": {"while_waiting": {"mode": "loop"}, "branches": []}},
    ]},
], ids=["empty", "none", "text", "no segments", "junk items", "wrong types"])
def test_broken_data_draws_what_it_can(view, data):
    view.show(data, problems={0: "out must be after in", 9: "no such segment"})
    assert len(view.segment_indexes()) == (len(data["segments"])
                                           if isinstance(data.get("segments"), list) else 0)
    view.grab()


def test_a_branch_to_a_missing_or_unknown_segment_dangles(view):
    data = copy.deepcopy(SMALL)
    branches = data["segments"][0]["decision"]["branches"]
    branches[1]["to"] = "kitchen"
    branches.append({"id": "wait", "label": "Waits", "hotkey": "3"})
    view.show(data)
    assert view.dangling_branches() == [(0, 1), (0, 2)]


def test_clicking_a_segment_or_a_branch_says_which(qtbot, view):
    view.show(SMALL, problems={1: Problem("no cue", "x", severity="warning")})
    with qtbot.waitSignal(view.segment_selected) as picked:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=at(view, view.segment_rect(2).center()))
    assert picked.args == [2]
    assert view.selection == 2
    with qtbot.waitSignal(view.branch_selected) as picked:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=at(view, view.branch_anchor(0, 1)))
    assert picked.args == [0, 1]
    assert view.selection == (0, 1)


def test_dragging_from_the_handle_onto_a_segment_draws_a_branch(qtbot, view):
    view.show(SMALL)
    with qtbot.waitSignal(view.branch_drawn) as drawn:
        drag(qtbot, view, view.out_handle(1), view.segment_rect(2).center())
    assert drawn.args == [1, 2]


def test_shift_dragging_a_segment_draws_a_branch_and_dropping_nowhere_does_not(qtbot, view):
    view.show(SMALL)
    with qtbot.waitSignal(view.branch_drawn) as drawn:
        drag(qtbot, view, view.segment_rect(2).center(), view.segment_rect(0).center(),
             Qt.KeyboardModifier.ShiftModifier)
    assert drawn.args == [2, 0]
    with qtbot.assertNotEmitted(view.branch_drawn):
        drag(qtbot, view, view.out_handle(0), view.segment_rect(0).bottomRight()
             + QPointF(300, 300))


def test_dragging_an_arrow_head_retargets_its_branch(qtbot, view):
    view.show(SMALL)
    with qtbot.waitSignal(view.branch_retargeted) as moved:
        drag(qtbot, view, view.branch_head(0, 1), view.segment_rect(1).center())
    assert moved.args == [0, 1, 1]


def test_delete_asks_for_the_selected_segment_or_branch(qtbot, view):
    view.show(SMALL, selected=1)
    with qtbot.waitSignal(view.delete_requested) as asked:
        qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert asked.args == ["segment", [1]]
    view.select_branch(0, 1)
    with qtbot.waitSignal(view.delete_requested) as asked:
        qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert asked.args == ["branch", [0, 1]]


def test_double_clicking_empty_space_asks_for_a_segment(qtbot, view):
    view.show(SMALL)
    empty = view.segment_rect(2).bottomLeft() + QPointF(0, 200)
    with qtbot.waitSignal(view.add_segment_requested):
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at(view, empty))


def test_the_keyboard_moves_between_segments(qtbot, view):
    view.show(SMALL, selected=0)
    with qtbot.waitSignal(view.segment_selected) as picked:
        qtbot.keyClick(view, Qt.Key.Key_Right)
    assert picked.args == [1]
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.selection == 2
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.selection == 0
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert view.selection == 1


def test_layout_is_stable_across_redraws_and_a_new_segment_moves_nothing(view):
    data = yaml.safe_load(SCENARIOS[0].read_text(encoding="utf-8"))
    view.show(data)
    before = [view.segment_rect(i) for i in view.segment_indexes()]
    view.show(copy.deepcopy(data))
    assert [view.segment_rect(i) for i in view.segment_indexes()] == before
    data["segments"].append({"id": "new", "clip": "new", "in": 0, "out": 1})
    view.show(data)
    assert [view.segment_rect(i) for i in range(len(before))] == before


def test_selection_from_outside_survives_a_redraw(view):
    view.show(SMALL)
    view.select_segment(2)
    view.show(SMALL)
    assert view.selection == 2
    view.show({"segments": []})
    assert view.selection is None


# --- A redraw after an edit draws what a fresh drawing of the edited scenario draws ---------

LARGE = yaml.safe_load(generate(40))


def rect(r: QRectF) -> tuple[float, float, float, float]:
    return r.x(), r.y(), r.width(), r.height()


def drawing(view: ScenarioGraphView) -> list[tuple[object, ...]]:
    """Everything drawn, in the order it is stacked: kind, which, where, and what it says."""
    described: list[tuple[object, ...]] = []
    scene = view.scene()
    for item in scene.items(Qt.SortOrder.AscendingOrder):
        place = item.scenePos().toTuple()
        if isinstance(item, QGraphicsSimpleTextItem):
            described.append(("text", item.text(), place))
        elif hasattr(item, "segment") and hasattr(item, "box"):
            described.append(("segment", item.segment, place, rect(item.box),
                              item.toolTip(), item.selected))
        elif hasattr(item, "node"):
            described.append(("handle", item.node.segment.index, place))
        elif hasattr(item, "route"):
            described.append(("arrow", item.segment, item.branch, item.route,
                              rect(item.boundingRect()), item.toolTip(), item.selected))
        elif hasattr(item, "colour"):
            described.append(("problem", item.parentItem().segment.index, place,
                              item.colour.name(), item.toolTip()))
        elif hasattr(item, "plate"):
            described.append(("label", item.edge.segment, item.edge.branch.index, place,
                              item.text, rect(item.plate), item.toolTip()))
        else:
            described.append(("grip", item.edge.segment, item.edge.branch.index, place))
    described.append(("scene", rect(scene.sceneRect()), view.selection))
    return described


def retitled(data):
    data["segments"][7]["title"] = "A new title"


def branch_added(data):
    data["segments"][12]["decision"]["branches"].append(
        {"id": "late", "label": "Late", "hotkey": "4", "kind": "escalate", "to": "s30"})


def branch_retargeted(data):
    data["segments"][20]["decision"]["branches"][0]["to"] = "s3"


def branch_removed(data):
    del data["segments"][15]["decision"]["branches"][1]


def segment_removed(data):
    del data["segments"][25]


def segment_added(data):
    data["segments"].append({"id": "new", "clip": "new", "in": 0, "out": 1})


def start_moved(data):
    data["start"] = "s5"


EDITS = [retitled, branch_added, branch_retargeted, branch_removed, segment_removed,
         segment_added, start_moved]


@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: edit.__name__)
def test_a_redraw_after_an_edit_draws_what_a_fresh_drawing_does(qtbot, view, edit):
    edited = copy.deepcopy(LARGE)
    edit(edited)
    view.show(LARGE, selected=(12, 0))
    view.show(edited)
    fresh = ScenarioGraphView()
    qtbot.addWidget(fresh)
    fresh.show(edited, selected=(12, 0))
    assert drawing(view) == drawing(fresh)
    # And back, as an undo does.
    view.show(LARGE)
    fresh.show(LARGE)
    assert drawing(view) == drawing(fresh)


def test_a_problem_appearing_changing_and_going_is_redrawn(qtbot, view):
    view.show(LARGE)
    for problems in ({3: "out must be after in"},
                     {3: Problem("no cue", "x", severity="warning")},
                     {3: Problem("no cue", "x", severity="warning"), 9: "no such segment"},
                     {}):
        view.show(LARGE, problems=problems)
        fresh = ScenarioGraphView()
        qtbot.addWidget(fresh)
        fresh.show(LARGE, problems=problems)
        assert drawing(view) == drawing(fresh)


def test_emptying_and_refilling_the_scenario_redraws_it(qtbot, view):
    view.show(LARGE)
    view.show({"segments": []})
    fresh = ScenarioGraphView()
    qtbot.addWidget(fresh)
    fresh.show({"segments": []})
    assert drawing(view) == drawing(fresh)
    view.show(SMALL)
    fresh = ScenarioGraphView()
    qtbot.addWidget(fresh)
    fresh.show(SMALL)
    assert drawing(view) == drawing(fresh)


def test_an_unchanged_redraw_keeps_every_item(view):
    view.show(LARGE)
    before = set(map(id, view.scene().items()))
    view.show(copy.deepcopy(LARGE))
    assert set(map(id, view.scene().items())) == before
