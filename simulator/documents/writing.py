"""Writing a document whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` whole or not at all: the old file stays until it is done.

    The new text goes to a temporary file beside the target, reaches the disk, and only
    then takes the target's place, so a crash or a full disk leaves the old file or the new
    one, never half of either.
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".saving",
                                             dir=target.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
