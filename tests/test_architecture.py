"""The core runs headless: importing all of it loads neither Qt nor libvlc."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import simulator

ROOT = Path(__file__).resolve().parents[1]
GUI_PACKAGES = ("simulator.projector", "simulator.playback", "instructor_console")
# Alembic loads these itself, inside a migration context.
NOT_IMPORTABLE = ("simulator.record.migrations",)


def test_importing_every_core_module_loads_no_gui_or_video_library():
    core = [m.name for m in pkgutil.walk_packages(simulator.__path__, "simulator.")
            if not m.name.startswith(GUI_PACKAGES + NOT_IMPORTABLE)
            and not m.name.endswith("__main__")]
    core.append("media_index")
    assert "simulator.runtime.run" in core and "simulator.record.store" in core
    probe = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'vlc', 'PyQt5', 'PyQt6'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


# Where the record's engine may be used: the record itself, and the media index, which
# keeps its own tables and is handed the engine by `Record.media_index`.
ENGINE_OWNERS = ("simulator/record/", "media_index/")


def test_nothing_outside_the_record_reaches_its_engine():
    found = []
    for package in ("simulator", "instructor_console", "media_index"):
        for path in sorted((ROOT / package).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where.startswith(ENGINE_OWNERS):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in ("engine", "_engine"):
                    found.append(f"{where}:{node.lineno}")
    assert found == [], "use the record's repositories, not its engine: " + ", ".join(found)


def _layered_modules() -> set[str]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    return {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}


def test_every_module_of_the_simulator_has_a_layer():
    # A package left out of the layers contract would be free to import anything.
    layered = _layered_modules()
    top = {f"simulator.{m.name}" for m in pkgutil.iter_modules(simulator.__path__)
           if m.name != "__main__"}
    assert "simulator.training" in layered and "simulator.record" in top
    assert sorted(top - layered) == []
    assert sorted(layered - top - {"instructor_console", "media_index"}) == []
