"""The coverage report as JSON (for tools) and as a self-contained HTML page (for people)."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from media_index.coverage import AttributeCoverage, Reference

REPORT_VERSION = 1
# A group this far (a share, 0.05 = 5 percentage points) under its population share is
# marked in the table.
UNDER = 0.05


def as_json(views: Mapping[str, list[AttributeCoverage]], reference: Reference | None,
            labels: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The report as plain data: one entry per view ("clips", "scenario_minutes")."""
    return {
        "report_version": REPORT_VERSION,
        "made_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "reference": _reference_json(reference),
        "views": {
            view: [{
                "attribute": a.attribute,
                "people": a.people,
                "total_weight": round(a.total_weight, 4),
                "small_library": a.small,
                "groups": [{
                    "group": g.group,
                    "label": labels.get(a.attribute, {}).get(g.group, g.group),
                    "weight": round(g.weight, 4),
                    "share": round(g.share, 4),
                    "reference_share": None if g.reference is None else round(g.reference, 4),
                    "gap": None if g.gap is None else round(g.gap, 4),
                } for g in a.groups],
            } for a in attributes]
            for view, attributes in views.items()
        },
    }


def _reference_json(reference: Reference | None) -> dict[str, Any] | None:
    if reference is None:
        return None
    return {"name": reference.name, "rows": [
        {"attribute": r.attribute, "group": r.group, "share": r.share, "counts": r.counts,
         "source": r.source} for rows in reference.rows.values() for r in rows]}


VIEW_UNITS = {"clips": "People", "scenario_minutes": "Minutes"}

VIEW_TITLES = {
    "clips": "Across clips (each person in each clip counts once)",
    "scenario_minutes": "Across scenario-minutes (people weighted by their minutes on screen)",
}


def as_html(views: Mapping[str, list[AttributeCoverage]], reference: Reference | None,
            labels: Mapping[str, Mapping[str, str]],
            attribute_labels: Mapping[str, str]) -> str:
    """A self-contained page: per view and attribute, a bar chart and a table of gaps."""
    parts = [_HEAD, "<h1>Who our training footage shows</h1>",
             f"<p class=meta>Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
             "Demographics are as the agency tagged its footage: people as portrayed and "
             "perceived on screen.</p>"]
    if reference is None:
        parts.append("<p class=warn>No reference population was given, so there are no gaps "
                     "to show; pass <code>--reference FILE.csv</code>.</p>")
    else:
        parts.append(f"<p>Reference population: <b>{html.escape(reference.name)}</b>. "
                     "Shares are in percent. A gap is the library's share minus the "
                     "population's share, in percentage points (pp): a share of 10% against "
                     "a population's 15% is a gap of -5 pp. Negative means the group "
                     "appears less often in training than in the community; rows shaded red "
                     f"are {UNDER * 100:.0f} pp or more under.</p>")
    for view, attributes in views.items():
        parts.append(f"<h2>{html.escape(VIEW_TITLES.get(view, view))}</h2>")
        for a in attributes:
            title = attribute_labels.get(a.attribute, a.attribute)
            parts.append(f"<h3>{html.escape(title)}</h3>")
            if a.people == 0:
                parts.append("<p class=warn>No tagged people yet.</p>")
                continue
            if a.small:
                parts.append(f"<p class=warn>Only {a.people} people shown: one clip more or "
                             "less moves these shares by several percentage points. Read "
                             "them as a description of this library, not a trend.</p>")
            parts.append(_chart(a, labels.get(a.attribute, {})))
            parts.append(_table(a, labels.get(a.attribute, {}), VIEW_UNITS.get(view, "Weight")))
    if reference is not None:
        parts.append("<h2>Sources of the reference figures</h2><ul>")
        parts += [f"<li><b>{html.escape(r.group)}</b>: {html.escape(r.source)}</li>"
                  for rows in reference.rows.values() for r in rows if r.source]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _name(group: str, labels: Mapping[str, str]) -> str:
    # Reference-only groups (two_or_more) have no vocabulary label: spell the id out.
    return " + ".join(labels.get(part, part.replace("_", " ").capitalize())
                      for part in group.split("+"))


def _table(a: AttributeCoverage, labels: Mapping[str, str], unit: str) -> str:
    rows = []
    for g in a.groups:
        ref = "no figure" if g.reference is None else f"{g.reference:.1%}"
        gap = "-" if g.gap is None else f"{g.gap * 100:+.1f} pp"
        style = " class=under" if g.gap is not None and g.gap <= -UNDER else ""
        rows.append(f"<tr{style}><td>{html.escape(_name(g.group, labels))}</td>"
                    f"<td>{g.weight:.4g}</td><td>{g.share:.1%}</td><td>{ref}</td>"
                    f"<td>{gap}</td></tr>")
    return (f"<table><tr><th>Group</th><th>{unit}</th><th>Library share</th>"
            "<th>Population share</th><th>Gap (percentage points)</th></tr>"
            + "".join(rows) + "</table>")


def _chart(a: AttributeCoverage, labels: Mapping[str, str]) -> str:
    # Imported here: matplotlib takes a third of a second to load, and only reports draw.
    import matplotlib

    matplotlib.use("Agg")  # files only: reports are made on machines without a screen
    import matplotlib.pyplot as plt

    names = [_name(g.group, labels) for g in a.groups]
    height = 0.45 * len(names) + 0.8
    figure, axes = plt.subplots(figsize=(7.5, height))
    positions = range(len(names))
    # The y axis runs downwards: each group's library bar above its population bar, as
    # the legend lists them.
    axes.barh([p - 0.2 for p in positions], [g.share * 100 for g in a.groups], height=0.4,
              label="Training library", color="#1f5fa8")
    # A group without a population figure gets no bar, which a bar of 0 would misstate.
    known = [(p, g.reference) for p, g in zip(positions, a.groups, strict=True)
             if g.reference is not None]
    if known:
        axes.barh([p + 0.2 for p, _ in known], [r * 100 for _, r in known], height=0.4,
                  label="Population", color="#b8b8b8")
    # Group names are the agency's words: shown as written, never read as mathtext.
    axes.set_yticks(list(positions), names, fontsize=8, parse_math=False)
    axes.invert_yaxis()
    axes.set_xlabel("Share (%)")
    axes.legend(fontsize=8, loc="lower right")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


_HEAD = """<!doctype html><html lang=en><head><meta charset=utf-8>
<title>Branchpoint: footage coverage</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1.05rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}tr.under td{background:#fde8e8}
.meta{color:#555}.warn{background:#fff6d6;padding:.4rem .7rem;border-left:4px solid #d9a400}
svg{max-width:100%;height:auto}
</style></head><body>"""
