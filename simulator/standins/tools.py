"""The external programs stand-ins are made with (ffmpeg, espeak-ng) and their failures."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BOOTSTRAP_SCRIPT = "scripts/bootstrap.sh"
# Program name to the Debian package that provides it.
PACKAGES = {"ffmpeg": "ffmpeg", "espeak-ng": "espeak-ng"}
# A clip renders in seconds; anything near this is a hung process, not a slow one.
TIMEOUT_S = 600
STDERR_TAIL_LINES = 12


class StandinError(RuntimeError):
    """Stand-in clips could not be generated."""


class MissingToolError(StandinError):
    """A program the generator needs is not installed."""


class RenderError(StandinError):
    """A program ran and failed (or hung) while making a clip."""


@dataclass(frozen=True)
class Tools:
    """Where the programs are and which versions they are (recorded in the manifest)."""

    ffmpeg: str
    espeak: str
    ffmpeg_version: str
    espeak_version: str

    def versions(self) -> dict[str, str]:
        """Program name to version, as the manifest records them."""
        return {"ffmpeg": self.ffmpeg_version, "espeak-ng": self.espeak_version}


def find_tools() -> Tools:
    """Locate ffmpeg and espeak-ng on PATH, or say which packages to install."""
    found = {name: shutil.which(name) for name in PACKAGES}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        packages = " ".join(PACKAGES[name] for name in missing)
        raise MissingToolError(
            f"stand-in clips need {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed (not found on PATH). "
            f"Install the Debian package{'s' if len(missing) > 1 else ''} "
            f"`{packages}` (`sudo apt-get install {packages}`), or run {BOOTSTRAP_SCRIPT}, "
            "which installs them."
        )
    ffmpeg, espeak = str(found["ffmpeg"]), str(found["espeak-ng"])
    return Tools(
        ffmpeg=ffmpeg,
        espeak=espeak,
        ffmpeg_version=_version([ffmpeg, "-hide_banner", "-version"],
                                r"ffmpeg version (\S+)"),
        espeak_version=_version([espeak, "--version"], r"text-to-speech:\s*(\S+)"),
    )


def _version(argv: list[str], pattern: str) -> str:
    result = run_tool(argv, what=f"asking {Path(argv[0]).name} for its version")
    text = result.stdout.decode("utf-8", "replace")
    match = re.search(pattern, text)
    return match.group(1) if match else text.strip().splitlines()[0] if text.strip() else "unknown"


def run_tool(argv: Sequence[str], *, what: str, cwd: Path | None = None,
             timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
    """Run one program with a fixed argument list; RenderError with its stderr if it fails.

    ``what`` says what was being made (a clip's path), so the message can be acted on.
    """
    try:
        result = subprocess.run(list(argv), capture_output=True, cwd=cwd, timeout=timeout,
                                check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s "
                          f"while {what}") from None
    except OSError as exc:
        raise RenderError(f"could not start {argv[0]} while {what}: {exc}") from None
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = "\n".join(lines[-STDERR_TAIL_LINES:]) or "(no error output)"
        raise RenderError(f"{Path(argv[0]).name} failed (exit {result.returncode}) while "
                          f"{what}:\n{tail}")
    return result
