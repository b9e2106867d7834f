"""Reports as a list of blocks, laid out as one HTML page or as a PDF, from the same content.

The after-action report and the bias-audit report both say what they say once, as blocks;
the two layouts here make sure the HTML and the PDF never drift apart.
"""

from __future__ import annotations

import html
import io
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

Table = tuple[tuple[str, ...], list[tuple[str, ...]]]


@dataclass(frozen=True)
class Heading:
    """A section title (level 2), a subsection title (level 3), or one under that (4)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A paragraph; ``quiet`` ones are set smaller and grey."""

    text: str
    quiet: bool = False


# The first bytes of each kind of picture a figure may be.
_SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


@dataclass(frozen=True)
class Figure:
    """A picture, ``aspect`` = height / width, with words for those who cannot see it.

    ``data`` is a PNG (a drawn figure), or a JPEG (a photograph) when ``media_type`` says
    so. ``width`` is its share of the page's width, so figures drawn at one scale stay at
    one scale on the page.

    Raises:
        ValueError: ``data`` is not of ``media_type``, or the type is neither of the two.
    """

    data: bytes
    aspect: float
    alt: str
    width: float = 1.0
    media_type: Literal["image/png", "image/jpeg"] = "image/png"

    def __post_init__(self) -> None:
        signature = _SIGNATURES.get(self.media_type)
        if signature is None:
            raise ValueError(f"Figure.media_type {self.media_type!r}: give image/png or "
                             "image/jpeg")
        # A page would show a broken picture, and a PDF fail to build, far from the cause.
        if not self.data.startswith(signature):
            raise ValueError(f"Figure.data of {self.alt!r} is not {self.media_type}: give "
                             "the picture's bytes in that format, or its own media_type")


@dataclass(frozen=True)
class Link:
    """A file beside the report: a link in the HTML, the file's plain name in a PDF.

    ``href`` is a plain file name relative to the page, so the report and the file can move
    together. Names come from people: anything else (a folder, a drive or scheme such as
    ``javascript:``, control characters) is refused rather than linked.

    Raises:
        ValueError: ``href`` is not a plain file name.
    """

    text: str
    href: str

    def __post_init__(self) -> None:
        name = self.href
        if (not name or name in (".", "..") or name != name.strip()
                or any(c in name for c in "/\\:") or not name.isprintable()):
            raise ValueError(f"Link.href {name!r} is not a plain file name (no folders, no "
                             "drive or scheme such as `javascript:`, no control characters): "
                             "name the file beside the report")


# A table cell: plain text, or text with links in it.
Cell = str | tuple[str | Link, ...]


@dataclass(frozen=True)
class Grid:
    """A table; without ``header`` its first row is data too (a list of facts).

    ``table`` is a `Table`, or one whose cells may hold links (`Cell`).
    """

    table: tuple[Sequence[str], Sequence[Sequence[Cell]]]
    header: bool = True


@dataclass(frozen=True)
class Together:
    """Blocks kept on one page (a heading with what it heads)."""

    blocks: Sequence[Heading | Text | Grid | Figure] = field(default_factory=tuple)


Block = Heading | Text | Grid | Figure | Together


def new_figure(width_in: float, height_in: float) -> Any:
    """A matplotlib figure on the Agg canvas, for a report.

    The object API, never pyplot: pyplot picks a GUI backend and could pull Qt into the
    core. Imported here because matplotlib takes a while to load and only reports draw.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=(width_in, height_in), dpi=150)
    FigureCanvasAgg(figure)
    return figure


def png(figure: Any) -> bytes:
    """The figure, laid out tightly, as PNG bytes."""
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1b1b1b;line-height:1.45}h1{font-size:1.6rem}
h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;
padding:.25rem .6rem;text-align:left;vertical-align:top}th{background:#e8edf2}
img{max-width:100%}.quiet{color:#555;font-size:.9rem}"""


def _cell_html(cell: Cell) -> str:
    parts = (cell,) if isinstance(cell, str) else cell
    # The name is quoted whole (a `#` or `?` in it stays part of the file's name).
    return "".join(
        html.escape(part) if isinstance(part, str) else
        f'<a href="{html.escape(quote(part.href, safe=""))}">{html.escape(part.text)}</a>'
        for part in parts)


def _cell_text(cell: Cell) -> str:
    """A cell as plain text: a link is its file's name, what a PDF's reader looks for."""
    return cell if isinstance(cell, str) else "".join(
        part if isinstance(part, str) else part.href for part in cell)


def _html(block: Block) -> str:
    match block:
        case Heading():
            return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
        case Text():
            quiet = " class=quiet" if block.quiet else ""
            return f"<p{quiet}>{html.escape(block.text)}</p>"
        case Grid():
            head, rows = block.table
            if not rows:
                return "<p class=quiet>None.</p>"
            cells = [head, *rows] if block.header else rows
            lines = []
            for i, row in enumerate(cells):
                tag = "th" if block.header and i == 0 else "td"
                lines.append("<tr>" + "".join(f"<{tag}>{_cell_html(c)}</{tag}>"
                                              for c in row) + "</tr>")
            return f"<table>{''.join(lines)}</table>"
        case Figure():
            return (f'<img alt="{html.escape(block.alt)}" style="width:{block.width:.0%}" '
                    f'src="data:{block.media_type};base64,{b64encode(block.data).decode()}">')
        case Together():
            return "\n".join(_html(b) for b in block.blocks)
    raise TypeError(block)


def as_html_page(heading: str, generated: datetime, blocks: Sequence[Block]) -> str:
    """One self-contained HTML page (figures embedded)."""
    return "\n".join([
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>"
        f"{html.escape(heading)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(heading)}</h1>",
        f"<p class=quiet>Made from the record on {generated:%d %B %Y, %H:%M} UTC.</p>",
        *(_html(b) for b in blocks), "</body></html>"])


def heading_style(styles: Any, level: int) -> Any:
    """The PDF style of a heading at ``level`` (2, 3 or 4, as the HTML's ``h2``-``h4``).

    Each level its own, smaller than the one above: a level-4 heading (one trainee's
    shots) under a level-3 one (the shots) must not read as its equal.
    """
    return styles[{2: "Heading2", 3: "Heading3"}.get(level, "Heading4")]


def as_pdf_document(heading: str, generated: datetime, blocks: Sequence[Block]) -> bytes:
    """The same blocks as an A4 PDF."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle as PdfTableStyle

    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    quiet = styles["BodyText"].clone("quiet", fontSize=8, leading=10,
                                     textColor=colors.HexColor("#555555"))
    width = A4[0] - 4 * cm

    def flowable(block: Block) -> object:
        match block:
            case Heading():
                return Paragraph(html.escape(block.text), heading_style(styles, block.level))
            case Text():
                return Paragraph(html.escape(block.text),
                                 quiet if block.quiet else styles["BodyText"])
            case Grid():
                head, rows = block.table
                if not rows:
                    return Paragraph("None.", quiet)
                data = [[Paragraph(html.escape(_cell_text(c)), cell) for c in row]
                        for row in ([head, *rows] if block.header else rows)]
                table = PdfTable(data, repeatRows=1 if block.header else 0, hAlign="LEFT")
                table.setStyle(PdfTableStyle([
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0 if block.header else -1),
                     colors.HexColor("#e8edf2") if block.header else colors.white),
                    ("VALIGN", (0, 0), (-1, -1), "TOP")]))
                return table
            case Figure():
                wide = width * block.width
                return Image(io.BytesIO(block.data), width=wide, height=wide * block.aspect,
                             hAlign="LEFT")
            case Together():
                # A heading never ends a page without what it heads.
                return KeepTogether([flowable(b) for b in block.blocks])
        raise TypeError(block)

    story = [Paragraph(html.escape(heading), styles["Title"]),
             Paragraph(f"Made from the record on {generated:%d %B %Y, %H:%M} UTC.",
                       styles["Italic"]), *(flowable(b) for b in blocks)]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=2 * cm, rightMargin=2 * cm,
                      topMargin=2 * cm, bottomMargin=2 * cm, title=heading,
                      author="Branchpoint").build(story)
    return out.getvalue()
