"""Who the library shows, against who lives in the community.

An *appearance* is one person shown, with their demographics and a weight: 1 for "across
clips" (each person in each clip counts once), or minutes on screen for "across
scenario-minutes". Shares are weighted; the reference is a CSV of population shares.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# Beneath this many people shown, one more clip moves a share by several points: the
# report says so rather than letting a gap look like a finding.
SMALL_LIBRARY = 30

GroupOf = Callable[[str, list[str]], str]


class ReferenceError(ValueError):
    """A reference CSV that cannot be used; names the file, the line and the field."""


@dataclass(frozen=True)
class ReferenceRow:
    """One population group: its share and which of our groups count toward it.

    ``counts`` is empty (our group with the same name), ``any:<value>`` (anyone with that
    value among several, e.g. Hispanic of any race), ``combined`` (anyone with several
    values not claimed by an earlier row), or ``none`` (a population group with no
    counterpart among ours). Rows are tried in file order.
    """

    attribute: str
    group: str
    share: float
    counts: str
    source: str

    def claims(self, values: list[str]) -> bool:
        """Whether a person with ``values`` counts toward this group."""
        if self.counts.startswith("any:"):
            return self.counts[4:] in values
        if self.counts == "combined":
            return len(values) > 1
        if self.counts == "none":
            return False
        return values == [self.group]


@dataclass(frozen=True)
class Reference:
    """A reference population: rows per attribute, and where the figures come from."""

    name: str
    rows: dict[str, list[ReferenceRow]]


def bundled_reference() -> Path:
    """The national reference shipped with Branchpoint (2020 Census, race/ethnicity)."""
    return Path(str(resources.files("media_index").joinpath(
        "references/us_census_2020_race_ethnicity.csv")))


def load_reference(path: Path) -> Reference:
    """Read a reference CSV: ``attribute,group,share[,counts][,source]``, shares 0-1 or %."""
    rows: dict[str, list[ReferenceRow]] = defaultdict(list)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"attribute", "group", "share"} - set(reader.fieldnames or [])
            if missing:
                raise ReferenceError(f"{path}:1: missing column(s) {', '.join(sorted(missing))}; "
                                     "the header must include attribute,group,share")
            for line, raw in enumerate(reader, start=2):
                attribute, group = (raw.get("attribute") or "").strip(), (
                    raw.get("group") or "").strip()
                if not attribute or not group:
                    raise ReferenceError(f"{path}:{line}: every row needs an attribute and a "
                                         "group")
                share = _share(path, line, raw.get("share") or "")
                counts = (raw.get("counts") or "").strip()
                if counts and counts not in ("combined", "none") and not counts.startswith(
                        "any:"):
                    raise ReferenceError(f"{path}:{line}: counts: `{counts}` is not empty, "
                                         "`combined`, `none` or `any:<value>`")
                if any(r.group == group for r in rows[attribute]):
                    raise ReferenceError(f"{path}:{line}: group `{group}` of `{attribute}` "
                                         "is listed twice")
                rows[attribute].append(ReferenceRow(attribute, group, share, counts,
                                                    (raw.get("source") or "").strip()))
    except OSError as exc:
        raise ReferenceError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ReferenceError(f"{path}: not UTF-8 text; save it as \"CSV UTF-8\"") from None
    except csv.Error as exc:
        raise ReferenceError(f"{path}: not a readable CSV file: {exc}") from None
    for attribute, group_rows in rows.items():
        total = sum(r.share for r in group_rows)
        if not 0.97 <= total <= 1.03:
            raise ReferenceError(f"{path}: shares of `{attribute}` add up to {total:.3f}, not "
                                 "1 (or 100%); a reference must cover the whole population")
    return Reference(path.name, dict(rows))


def _share(path: Path, line: int, text: str) -> float:
    text = text.strip()
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ReferenceError(f"{path}:{line}: share: `{text}` is not a number") from None
    if not 0 <= value <= 1:
        hint = f"; for a percentage write {text}%" if 1 < value <= 100 else ""
        raise ReferenceError(f"{path}:{line}: share: {text} is outside 0-1 (or 0-100%){hint}")
    return value


@dataclass(frozen=True)
class Appearance:
    """A person shown, with all their demographics, counted with ``weight``."""

    demographics: Mapping[str, list[str]]
    weight: float = 1.0


@dataclass(frozen=True)
class GroupShare:
    """One group of one attribute: how much of the library it is, and of the population."""

    group: str
    weight: float
    share: float
    reference: float | None

    @property
    def gap(self) -> float | None:
        """Library share minus population share (negative: under-represented)."""
        return None if self.reference is None else self.share - self.reference


@dataclass(frozen=True)
class AttributeCoverage:
    """Coverage of one attribute."""

    attribute: str
    total_weight: float
    people: int
    groups: list[GroupShare] = field(default_factory=list)

    @property
    def small(self) -> bool:
        """Too few people shown for shares to mean much."""
        return self.people < SMALL_LIBRARY


def coverage(appearances: Iterable[Appearance], attributes: Iterable[str], group_of: GroupOf,
             reference: Reference | None = None) -> list[AttributeCoverage]:
    """Weighted shares per attribute and group, beside the reference where it has one.

    A person with no value for an attribute counts as ``unrecorded``. Without a reference
    row for it, a group is listed with no reference share (never silently dropped).
    """
    people = list(appearances)
    out = []
    for attribute in attributes:
        rows = reference.rows.get(attribute, []) if reference else []
        weights: dict[str, float] = defaultdict(float)
        for person in people:
            values = list(person.demographics.get(attribute, []))
            claimed = next((r.group for r in rows if values and r.claims(values)), None)
            weights[claimed or group_of(attribute, values)] += person.weight
        total = sum(weights.values())
        groups = [GroupShare(g, w, w / total if total else 0.0,
                             next((r.share for r in rows if r.group == g), None))
                  for g, w in weights.items()]
        groups += [GroupShare(r.group, 0.0, 0.0, r.share) for r in rows if r.group not in weights]
        groups.sort(key=lambda g: (-(g.reference or 0), -g.share, g.group))
        out.append(AttributeCoverage(attribute, total, len(people), groups))
    return out
