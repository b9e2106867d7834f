"""``python -m bench``: run every benchmark and print its figures."""

from __future__ import annotations

import json

from bench import (
    audit_report,
    console_memory,
    console_roundtrip,
    event_commit,
    lint_large,
    media_reindex,
    projector_switch,
    replay_seek,
    scenario_validate,
    trial_import,
)
from bench.machine import RESULTS


def main() -> None:
    """Run the benchmarks in turn."""
    for name, module in (("lint_large", lint_large), ("event_commit", event_commit),
                         ("media_reindex", media_reindex),
                         ("projector_switch", projector_switch),
                         ("console_roundtrip", console_roundtrip),
                         ("replay_seek", replay_seek), ("audit_report", audit_report),
                         ("console_memory", console_memory),
                         ("scenario_validate", scenario_validate),
                         ("trial_import", trial_import)):
        print(f"== {name}")
        print(json.dumps(module.run(), indent=2))
    print(f"results in {RESULTS}")


main()
