"""What the class set-up of the console on the projector PC and of a remote console share.

Both pick a scenario, a variant and the trainees the same way and say the same things
about them; only where the library and the record are differs (this PC, or the projector
PC over the wire).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QListWidget, QListWidgetItem

from simulator.names import inert, name_problem
from simulator.roster import MAX_NAME
from simulator.wording import counted

AUTOMATIC = "automatic (counterbalanced)"
READY = "ready: lints clean, every variant's media decodes, projector ready"
PROBLEMS_SHOWN = 8


def typed_name_problem(name: str) -> str | None:
    """Why a typed name cannot be a trainee's or an instructor's, shown safely; None if it can."""
    if len(name) > MAX_NAME:
        return f"a name is at most {MAX_NAME} characters; this one has {len(name)}"
    problem = name_problem(name)
    return inert(problem) if problem is not None else None


def add_trainee(listing: QListWidget, name: str, *, checked: bool) -> None:
    """List ``name`` with a tick box (ticked if ``checked``); one listed already is ticked."""
    for row in range(listing.count()):
        item = listing.item(row)
        if item.text() == name:
            if checked:
                item.setCheckState(Qt.CheckState.Checked)
            return
    item = QListWidgetItem(name)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    listing.addItem(item)


def ticked(listing: QListWidget) -> tuple[str, ...]:
    """The ticked names, in list order."""
    return tuple(listing.item(row).text() for row in range(listing.count())
                 if listing.item(row).checkState() == Qt.CheckState.Checked)


def scenario_item(title: str, scenario_id: str, variants: int, status: str
                  ) -> QListWidgetItem:
    """A scenario's line in the list; its id is the item's data."""
    item = QListWidgetItem(f"{title}\n{scenario_id} · {counted(variants, 'variant')} · "
                           f"{status}")
    item.setData(Qt.ItemDataRole.UserRole, scenario_id)
    return item


def fill_variants(drop_down: QComboBox, variants: Sequence[tuple[str, str]],
                  kept: object) -> None:
    """Automatic (counterbalanced), then each ``(id, description)``; ``kept`` stays chosen."""
    drop_down.clear()
    drop_down.addItem(AUTOMATIC, None)
    for variant_id, description in variants:
        drop_down.addItem(f"{variant_id}: {description}", variant_id)
    drop_down.setCurrentIndex(max(0, drop_down.findData(kept)))


def scenario_details(summary: str, focus_areas: Sequence[str], pledge_areas: Sequence[str],
                     errors: Sequence[str], warnings: Sequence[str]) -> str:
    """A picked scenario's summary, areas and lint findings, one per line."""
    lines = [summary, f"focus: {', '.join(focus_areas) or '-'}    pledge: "
             f"{', '.join(pledge_areas) or '-'}"]
    lines += [f"error: {e}" for e in errors] + [f"warning: {w}" for w in warnings]
    return "\n".join(lines)


def not_ready(problems: Sequence[str]) -> str:
    """The pre-flight's problems, the first few of them and how many more."""
    shown = list(problems[:PROBLEMS_SHOWN])
    more = len(problems) - len(shown)
    return "NOT READY:\n" + "\n".join(shown + ([f"… and {more} more"] if more else []))
