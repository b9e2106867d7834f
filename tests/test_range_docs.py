"""The projector.yaml example in docs/range-hardware.md is one a range could use as it is."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from simulator.agency import default_profile
from simulator.devices.problems import range_problems
from simulator.projector.settings import ProjectorSettings

DOC = Path(__file__).parent.parent / "docs" / "range-hardware.md"


def test_the_documented_settings_load_and_have_no_problem():
    (block,) = re.findall(r"```yaml\n(# projector.yaml.*?)```", DOC.read_text(encoding="utf-8"),
                          flags=re.S)
    settings = ProjectorSettings.model_validate(yaml.safe_load(block))
    assert settings.camera is not None and len(settings.weapons) == 3
    assert {t.kind for t in settings.triggers.values()} == {"serial", "hid"}
    assert range_problems(settings.camera, settings.weapons, settings.triggers,
                          settings.devices, default_profile()) == []
