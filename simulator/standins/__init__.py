"""Stand-in clips: generated videos that take the place of filmed footage.

Real footage of every variant cannot be had for development, demos and tests, so each
clip a scenario's variants map is rendered from the script: a plain set, labelled
figures for the people as the variant portrays them, captions and synthesised speech of
each line, a marker at every cue, a running timecode and a permanent watermark saying it
is not real footage. Generation needs ffmpeg and espeak-ng; it is deterministic and
incremental (see :func:`generate_scenario`).
"""

from simulator.standins.generate import (
    GENERATOR,
    GENERATOR_VERSION,
    MANIFEST_NAME,
    ClipRecord,
    Manifest,
    default_out_dir,
    generate_scenario,
    read_manifest,
)
from simulator.standins.plan import ClipPlan, plan_scenario, portrayal
from simulator.standins.presets import PRESETS, Preset, Size
from simulator.standins.render import WATERMARK, filter_value
from simulator.standins.tools import (
    MissingToolError,
    RenderError,
    StandinError,
    Tools,
    find_tools,
)

__all__ = [
    "GENERATOR",
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "PRESETS",
    "WATERMARK",
    "ClipPlan",
    "ClipRecord",
    "Manifest",
    "MissingToolError",
    "Preset",
    "RenderError",
    "Size",
    "StandinError",
    "Tools",
    "default_out_dir",
    "filter_value",
    "find_tools",
    "generate_scenario",
    "plan_scenario",
    "portrayal",
    "read_manifest",
]
