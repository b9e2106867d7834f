"""Turning a clip plan into an ffmpeg command: the picture's layout and the sound's mix.

Everything is drawn for a 640x360 frame and scaled to the preset (``Preset.scale``).
Texts go to small files read with ``textfile=`` and ``expansion=none``, so script lines
need no escaping at all; the only strings placed inside the filtergraph (file paths,
expressions) go through :func:`filter_value`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from simulator.standins.plan import ClipPlan
from simulator.standins.presets import Preset

WATERMARK = "STAND-IN CLIP - NOT REAL FOOTAGE"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
              "mono": "DejaVuSansMono.ttf"}
# Neutral, distinct colours per person on screen. Deliberately not skin tones: who a
# figure portrays is said in words, never suggested by colour.
FIGURE_COLOURS = ("0x2e86ab", "0x8e5ea2", "0xe07a2f", "0x3c9d5d", "0xc44d7a", "0x5c6bc0")
SPEAKING = "0xffe14d"
CUE_RED = "0xd62d20"

_LEVEL1 = re.compile(r"([\\':\s])")
_LEVEL2 = re.compile(r"([\\'\[\],;\s])")


def filter_value(value: str) -> str:
    """Escape an option value for a filtergraph given to ``-filter_complex``.

    Two parsers read it: the filtergraph's (where ``[ ] , ;`` end a filter) and then the
    filter's options parser (where ``:`` ends an option); both honour backslash escapes
    and quotes and strip unescaped spaces at the ends, so every such character is
    backslash-escaped once for each.
    """
    return _LEVEL2.sub(r"\\\1", _LEVEL1.sub(r"\\\1", value))


def font_path(kind: str) -> Path | None:
    """The DejaVu font for ``kind`` (regular, bold, mono), the regular one, or None."""
    for name in (FONT_FILES.get(kind, ""), FONT_FILES["regular"]):
        candidate = FONT_DIR / name
        if name and candidate.is_file():
            return candidate
    return None


def fonts_used() -> str:
    """The font files drawtext will use, for the manifest ("ffmpeg default" if none)."""
    found = {kind: font_path(kind) for kind in FONT_FILES}
    names = sorted({p.name for p in found.values() if p is not None})
    return ", ".join(names) or "ffmpeg default"


# Advance widths of DejaVu Sans (printable ASCII) as a share of the font size, so text
# can be wrapped to the picture without a font library. Other characters use ``_OTHER_EM``.
def _table(groups: dict[float, str]) -> dict[str, float]:
    return {ch: width for width, chars in groups.items() for ch in chars}


_REGULAR_EM = _table({
    0.27: "'", 0.28: 'ijl', 0.29: 'IJ', 0.32: ' ,.', 0.34: '/:;\\|', 0.35: 'f', 0.36: '-',
    0.39: '()[]t', 0.4: '!', 0.41: 'r', 0.46: '"', 0.5: '*_`', 0.52: 'sz', 0.53: '?', 0.55: 'c',
    0.56: 'L', 0.58: 'Fk', 0.59: 'vxy', 0.6: 'P', 0.61: 'TYao', 0.62: 'e', 0.63: 'ESbdghnpqu',
    0.64: '$0123456789{}', 0.66: 'K', 0.68: 'AV', 0.69: 'BRXZ', 0.7: 'C', 0.73: 'U', 0.75: 'HN',
    0.77: 'DG', 0.78: '&', 0.79: 'OQ', 0.82: 'w', 0.84: '#+<=>^~', 0.86: 'M', 0.95: '%',
    0.97: 'm', 0.99: 'W', 1.0: '@',
})
_BOLD_EM = _table({
    0.31: "'", 0.34: 'ijl', 0.35: ' ', 0.37: '/IJ\\|', 0.38: ',.', 0.4: ':;', 0.42: '-',
    0.44: 'f', 0.46: '!()[]', 0.48: 't', 0.49: 'r', 0.5: '_`', 0.52: '"*', 0.58: '?z',
    0.59: 'c', 0.6: 's', 0.64: 'L', 0.65: 'vxy', 0.67: 'ak', 0.68: 'EFTe', 0.69: 'o',
    0.7: '$0123456789', 0.71: 'hnu{}', 0.72: 'SYbdgpq', 0.73: 'CPZ', 0.76: 'B', 0.77: 'AKRVX',
    0.81: 'U', 0.82: 'G', 0.83: 'D', 0.84: '#+<=>HN^~', 0.85: 'OQ', 0.87: '&', 0.92: 'w',
    1.0: '%@M', 1.04: 'm', 1.1: 'W',
})
_OTHER_EM = {False: 0.7, True: 0.78}
# Hinting at small sizes widens text a little.
_SAFETY = 1.04


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated width in pixels of one row of DejaVu Sans text."""
    table = _BOLD_EM if bold else _REGULAR_EM
    other = _OTHER_EM[bold]
    return sum(table.get(ch, other) for ch in text) * size * _SAFETY


def wrap(text: str, size: float, width: float, max_rows: int, bold: bool = False) -> list[str]:
    """Greedy word wrap into at most ``max_rows``; an ellipsis marks what was cut."""
    rows: list[str] = []
    for paragraph in text.splitlines() or [""]:
        row = ""
        for word in paragraph.split():
            while text_width(word, size, bold) > width and len(word) > 1:
                # A word longer than the row is broken rather than run off screen.
                cut = len(word)
                while cut > 1 and text_width(word[:cut], size, bold) > width:
                    cut -= 1
                if row:
                    rows.append(row)
                    row = ""
                rows.append(word[:cut])
                word = word[cut:]
            candidate = f"{row} {word}" if row else word
            if text_width(candidate, size, bold) <= width:
                row = candidate
            else:
                rows.append(row)
                row = word
        rows.append(row)
    if len(rows) > max_rows:
        rows = rows[:max_rows]
        last = rows[-1]
        while last and text_width(last + " …", size, bold) > width:
            last = last[:-1]
        rows[-1] = last.rstrip() + " …"
    return rows


def between(start: float, end: float, fps: int) -> str:
    """A drawtext/drawbox ``enable`` expression for ``start`` <= t < ``end``."""
    # between() includes both ends; half a frame off the end keeps back-to-back texts
    # from sharing the frame where one gives way to the next.
    return f"between(t,{start:.3f},{max(start, end - 0.5 / fps):.3f})"


@dataclass
class _Canvas:
    """Collects drawing filters; each text is written to its own file under ``texts``."""

    preset: Preset
    texts: Path
    filters: list[str] = field(default_factory=list)

    def px(self, value: float) -> int:
        return round(value * self.preset.scale)

    def size(self, value: float) -> int:
        return max(4, round(value * self.preset.scale))

    def box(self, x: float, y: float, w: float, h: float, colour: str, *,
            thickness: float | None = None, enable: str | None = None) -> None:
        options = {"x": str(self.px(x)), "y": str(self.px(y)), "w": str(self.px(w)),
                   "h": str(self.px(h)), "color": colour,
                   "t": "fill" if thickness is None else str(max(1, self.px(thickness)))}
        if enable:
            options["enable"] = enable
        self.filters.append(_filter("drawbox", options))

    def text(self, text: str, x: float | str, y: float, size: float, colour: str, *,
             font: str = "regular", box: str | None = None, border: str | None = None,
             line_spacing: float = 0, enable: str | None = None,
             expand: bool = False) -> None:
        path = self.texts / f"t{len(self.filters):04d}.txt"
        path.write_text(text, encoding="utf-8", newline="\n")
        options: dict[str, str] = {}
        fontfile = font_path(font)
        if fontfile is not None:
            options["fontfile"] = str(fontfile)
        options |= {
            "textfile": str(path),
            "expansion": "normal" if expand else "none",
            "fontsize": str(self.size(size)),
            "fontcolor": colour,
            "x": x if isinstance(x, str) else str(self.px(x)),
            "y": str(self.px(y)),
        }
        if line_spacing:
            options["line_spacing"] = str(self.px(line_spacing))
        if box:
            options |= {"box": "1", "boxcolor": box, "boxborderw": str(max(1, self.px(4)))}
        if border:
            options |= {"borderw": str(max(1, self.px(2))), "bordercolor": border}
        if enable:
            options["enable"] = enable
        self.filters.append(_filter("drawtext", options))


def _filter(name: str, options: dict[str, str]) -> str:
    return name + "=" + ":".join(f"{k}={filter_value(v)}" for k, v in options.items())


def video_graph(plan: ClipPlan, preset: Preset, texts: Path) -> str:
    """The video filter chain of one clip, ending in the ``[vout]`` pad.

    What never changes (set, watermark, figures, labels, footer) is drawn once on a
    single frame that is then repeated; only what comes and goes is drawn per frame.
    """
    texts.mkdir(parents=True, exist_ok=True)
    fps = preset.fps
    frames = max(1, round(plan.duration * fps))
    canvas = _Canvas(preset, texts)
    canvas.filters.append(_filter("color", {
        "c": plan.backdrop.wall, "s": f"{preset.width}x{preset.height}", "r": str(fps)}))
    canvas.filters.append("trim=end_frame=1")
    canvas.box(0, 178, 640, 182, plan.backdrop.floor)
    canvas.box(0, 0, 640, 26, "black@0.6")
    canvas.text(WATERMARK, "(w-tw)/2", 31, 23, "0xffc93c", font="bold", box="black@0.55",
                border="black")
    columns = max(1, len(plan.figures))
    column = 640 / columns
    label_size = 11 if columns <= 2 else 10 if columns <= 3 else 9
    for i, figure in enumerate(plan.figures):
        cx = column * (i + 0.5)
        colour = FIGURE_COLOURS[i % len(FIGURE_COLOURS)]
        canvas.box(cx - 11, 106, 22, 22, colour)
        canvas.box(cx - 22, 131, 44, 34, colour)
        canvas.box(cx - 20, 165, 15, 20, colour)
        canvas.box(cx + 5, 165, 15, 20, colour)
        width = column - 24
        heading = wrap(figure.heading, label_size, width, 1, bold=True)
        canvas.text("\n".join(heading), cx - max(text_width(r, label_size, True)
                                                 for r in heading) / 2,
                    194, label_size, "white", font="bold", box="black@0.55")
        size, rows = _fitted(figure.portrayal, label_size, width)
        canvas.text("\n".join(rows), cx - max(text_width(r, size) for r in rows) / 2,
                    212, size, "white", box="black@0.55", line_spacing=2)
    canvas.text(wrap(plan.footer, 10, 640 - 16, 1)[0], 8, 343, 10, "white@0.85")
    canvas.filters.append(f"loop=loop={frames - 1}:size=1:start=0")
    # Frame numbers as timestamps in a 1/fps time base: exact, where N/FRAME_RATE/TB
    # rounds some frames onto their neighbour's time.
    canvas.filters += [f"settb=1/{fps}", "setpts=N"]

    # Header: segment title on the left, running timecode on the right.
    for title in plan.titles:
        row = wrap(title.text, 14, 640 - 16 - 118, 1)[0]
        canvas.text(row, 8, 5, 14, "white", enable=between(title.start, title.end, fps))
    canvas.text("%{pts:hms}", f"w-tw-{canvas.px(8)}", 6, 13, "white", font="mono",
                expand=True)

    # Whoever speaks gets a yellow frame; whoever a cue is about, a red one.
    for i, figure in enumerate(plan.figures):
        cx = column * (i + 0.5)
        for caption in plan.captions:
            if figure.person_id in caption.speakers:
                canvas.box(cx - 36, 101, 72, 88, SPEAKING, thickness=3,
                           enable=between(caption.start, caption.end, fps))
        for cue in plan.cues:
            if cue.person == figure.person_id:
                canvas.box(cx - 42, 101, 84, 88, CUE_RED, thickness=4,
                           enable=between(cue.start, cue.end, fps))

    # Cue marker: a red banner under the watermark (and a red frame, drawn last).
    for cue in plan.cues:
        enable = between(cue.start, cue.end, fps)
        canvas.box(0, 60, 640, 38, CUE_RED + "@0.92", enable=enable)
        rows = wrap(cue.text, 12, 640 - 20, 2, bold=True)
        top = 64 if len(rows) == 2 else 72
        canvas.text("\n".join(rows), 10, top, 12, "white", font="bold", line_spacing=3,
                    enable=enable)

    # Captions of the script, one block at a time.
    for caption in plan.captions:
        enable = between(caption.start, caption.end, fps)
        canvas.box(0, 262, 640, 74, "black@0.6", enable=enable)
        rows = wrap("\n".join(caption.rows), 14, 640 - 20, 3)
        canvas.text("\n".join(rows), 10, 267, 14, "white", line_spacing=5, enable=enable)

    for cue in plan.cues:
        canvas.box(0, 0, 640, 360, CUE_RED, thickness=5,
                   enable=between(cue.start, cue.end, fps))
    return ",".join([*canvas.filters, "format=yuv420p"]) + "[vout]"


def _fitted(text: str, size: int, width: float) -> tuple[int, list[str]]:
    # A portrayal is never cut short if a smaller font can hold it: the audit relies on
    # the trainee having been told who they saw. Four rows fit only at the smallest sizes.
    for candidate in range(size, 7, -1):
        rows = wrap(text, candidate, width, 3 if candidate > 9 else 4)
        if not rows[-1].endswith("…"):
            return candidate, rows
    return 8, wrap(text, 8, width, 4)


def audio_graph(plan: ClipPlan, preset: Preset, first_input: int = 0) -> str:
    """The audio filter graph, ending in ``[aout]``: speech inputs delayed and mixed.

    Speech files are ffmpeg inputs ``first_input`` onward, in ``plan.speech`` order.
    """
    silence = (f"anullsrc=r={preset.audio_rate}:cl=mono:d={plan.duration:.3f}")
    if not plan.speech:
        return f"{silence}[aout]"
    parts = [f"{silence}[base]"]
    pads = ["[base]"]
    for i, line in enumerate(plan.speech):
        delay = round(line.at * 1000)
        parts.append(f"[{first_input + i}:a]aresample={preset.audio_rate},"
                     f"adelay=delays={delay}:all=1[s{i}]")
        pads.append(f"[s{i}]")
    # normalize=0: overlapping speakers keep their level instead of each being quieter.
    parts.append(f"{''.join(pads)}amix=inputs={len(pads)}:duration=first:"
                 "dropout_transition=0:normalize=0[aout]")
    return ";".join(parts)


def ffmpeg_argv(ffmpeg: str, plan: ClipPlan, preset: Preset, texts: Path,
                speech_files: list[Path], output: Path) -> list[str]:
    """The full ffmpeg command that renders ``plan`` into ``output`` (an MP4)."""
    graph = video_graph(plan, preset, texts) + ";" + audio_graph(plan, preset)
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for wav in speech_files:
        argv += ["-i", str(wav)]
    gop = str(preset.gop)
    argv += [
        "-filter_complex", graph, "-filter_complex_threads", "1",
        "-map", "[vout]", "-map", "[aout]",
        "-c:v", "libx264", "-preset", preset.x264_preset, "-crf", str(preset.crf),
        "-maxrate", f"{preset.maxrate_kbps}k", "-bufsize", f"{2 * preset.maxrate_kbps}k",
        "-pix_fmt", "yuv420p", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-threads", "1",
        "-c:a", "aac", "-b:a", f"{preset.audio_kbps}k", "-ar", str(preset.audio_rate),
        "-ac", "1",
        "-t", f"{plan.duration:.3f}",
        # Byte-identical output for identical input: no encoder/muxer version strings,
        # dates or copied metadata.
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-movflags", "+faststart", "-f", "mp4", str(output),
    ]
    return argv
