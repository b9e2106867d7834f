r"""Media roots: the folders of this PC from which a scenario may name clips by absolute path.

A scenario file comes from anyone who can share one, so its clips lie in its own folder
unless the agency lists, for this PC, the folders its footage lives in (a shared drive, a
mounted archive). The list is ``media-roots.yaml`` in the data folder:

```yaml
schema_version: 1
roots:
  - D:\Footage
  - \\training-nas\footage
```

It belongs to the installation, like ``projector.yaml``: a drive letter or a mount point is
a fact of one PC, unlike the agency profile, which every PC of an agency shares, and unlike
the scenario, which must not widen its own reach.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from simulator.documents import load_document
from simulator.paths import data_dir

MEDIA_ROOTS_FILE = "media-roots.yaml"
MEDIA_ROOTS_SCHEMA_VERSION = 1


def _absolute_folder(root: str) -> str:
    # A relative root would follow whatever folder Branchpoint was started from, and `..`
    # hides where a root really is.
    path = Path(root)
    if not path.is_absolute() or ".." in path.parts:
        raise ValueError(f"`{root}` is not an absolute folder of this PC; give its full path "
                         f"(such as {Path.home() / 'footage'}) without `..`")
    return root


class MediaRootsFile(BaseModel):
    """The document in ``media-roots.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = MEDIA_ROOTS_SCHEMA_VERSION
    roots: tuple[Annotated[str, AfterValidator(_absolute_folder)], ...] = ()


def media_roots_path() -> Path:
    """Where this PC's media roots are listed."""
    return data_dir() / MEDIA_ROOTS_FILE


def media_roots() -> tuple[Path, ...]:
    """The media roots of this PC; none when the file does not exist.

    Raises:
        DocumentError: the file exists but is not a valid list of absolute folders.
    """
    path = media_roots_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ()
    return _read(path, stat.st_mtime_ns, stat.st_size)


# Clips are looked up at every segment a run switches to: the file is read again only when
# it has changed, not on that path.
@lru_cache(maxsize=4)
def _read(path: Path, _mtime_ns: int, _size: int) -> tuple[Path, ...]:
    document, _ = load_document(path, MediaRootsFile, kind="media roots list",
                                current=MEDIA_ROOTS_SCHEMA_VERSION,
                                minimum=MEDIA_ROOTS_SCHEMA_VERSION)
    return tuple(Path(root) for root in document.roots)
