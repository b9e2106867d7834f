"""Spoken lines for stand-in clips, synthesised with espeak-ng."""

from __future__ import annotations

import hashlib
from pathlib import Path

from simulator.standins.tools import Tools, run_tool

WORDS_PER_MINUTE = 160


def speech_path(workdir: Path, voice: str, text: str) -> Path:
    """Where the WAV of ``text`` in ``voice`` goes: one file per distinct line and voice."""
    digest = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:24]
    return workdir / "speech" / f"{digest}.wav"


def synthesise(tools: Tools, voice: str, text: str, wav: Path) -> None:
    """Speak ``text`` into ``wav`` (22 050 Hz mono); RenderError if espeak-ng fails."""
    wav.parent.mkdir(parents=True, exist_ok=True)
    source = wav.with_suffix(".txt")
    # espeak-ng reads [[...]] as phoneme codes, not words; a script line never means that.
    source.write_text(text.replace("[[", "[ [").replace("]]", "] ]"), encoding="utf-8")
    # Text comes from a file, so a line starting with "-" is never taken for an option.
    run_tool([tools.espeak, "-v", voice, "-s", str(WORDS_PER_MINUTE), "-b", "1",
              "-f", str(source), "-w", str(wav)],
             what=f"speaking {text[:40]!r} in voice {voice}")
