"""Counterbalancing: which variant of a scenario a session plays next.

Counter-bias training films one script with different people so that what the trainee
meets differs only in who is shown. That only works if each trainee meets each variant
equally often; an instructor who always picks the same variant (or always the first)
undoes it. So the set-up screen can choose for the instructor, from how often the
session's trainees have already played each variant of the scenario.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence


def choose_variant(
    variant_ids: Sequence[str],
    seen: Mapping[str, Mapping[str, int]],
    trainee_ids: Sequence[str],
) -> str:
    """The variant the session's trainees have met least, deterministically.

    ``seen[trainee][variant]`` is how many runs of this scenario the trainee has had with
    that variant (a ``Counter`` will do; missing trainees and variants count as 0; counts
    for variants not in ``variant_ids``, such as one since removed, are ignored). The
    choice, in order of precedence:

    1. the smallest total count over the trainees, so a multi-officer session evens out
       the group as a whole;
    2. then the smallest count for any one trainee, so no one meets the same variant
       again while another variant is as good for the group;
    3. then a rotation: among still-tied variants, the one at position
       ``(h + total) % len(ties)`` in ``variant_ids`` order, where ``h`` is a stable hash
       of the trainee ids and ``total`` the runs of this scenario they have had in all.

    Without the hash, every new trainee (all counts 0) would meet the first variant first,
    so a class's first impressions would all be of the same people: the order of meeting
    would be confounded with who is shown. The hash spreads first meetings across a
    class the way a random draw would, yet the same trainees with the same history always
    get the same answer, so a choice can be explained and a test can pin it. Adding
    ``total`` moves the rotation on as the trainees play, so later ties do not fall on
    one variant either.
    """
    if not variant_ids:
        raise ValueError("a scenario has at least one variant; none were given")
    if len(set(variant_ids)) != len(variant_ids):
        raise ValueError(f"variant ids repeat: {', '.join(variant_ids)}; each must be unique")
    trainees = list(dict.fromkeys(trainee_ids))

    def counts(variant: str) -> list[int]:
        return [seen.get(trainee, {}).get(variant, 0) for trainee in trainees]

    key = {v: (sum(counts(v)), max(counts(v), default=0)) for v in variant_ids}
    best = min(key.values())
    ties = [v for v in variant_ids if key[v] == best]
    total_runs = sum(sum(counts(v)) for v in variant_ids)
    return ties[(_stable_hash(trainees) + total_runs) % len(ties)]


def _stable_hash(trainee_ids: Sequence[str]) -> int:
    # Python's hash() of a str changes between processes; the choice must not.
    digest = hashlib.sha256("\n".join(sorted(trainee_ids)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")
