"""Where Branchpoint keeps what it writes: one per-user data folder, never the source tree."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import secrets
import stat
import tempfile
import uuid
from pathlib import Path

import platformdirs

DATA_ENV = "BRANCHPOINT_DATA"
APP_NAME = "branchpoint"
# What this account alone may open: recordings are personal data. POSIX modes; on Windows
# a file or folder takes the permissions of where it is made (the user profile).
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
INSTALLATION_FILE = "installation"
_INSTALLATION_MAX = 100
# The only names a trainee recording's fragment files have (``000012.mp4``), its index in
# the group; use with fullmatch.
FRAGMENT_NAME = re.compile(r"([0-9]{6})\.mp4")


def data_dir() -> Path:
    """The per-user data folder (``$BRANCHPOINT_DATA`` overrides it): record, media, reports."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME,
                                                                            appauthor=False))


def standins_dir() -> Path:
    """Where generated stand-in clips of the bundled scenarios live, one folder a scenario."""
    return data_dir() / "standins"


def recordings_dir() -> Path:
    """The default store of trainee recordings: one folder per run, named by the run's id."""
    return data_dir() / "recordings"


def recording_folder(store: Path, run_id: str) -> Path:
    """Run ``run_id``'s recording folder in ``store``: ``<store>/<run id>``.

    ValueError unless ``run_id`` is a run's id (a uuid), so that no id can name a folder
    outside the store.
    """
    try:
        canonical = str(uuid.UUID(run_id))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"{run_id!r} is not a run's id (a uuid); a recording folder is "
                         "named by the id of its run") from None
    if canonical != run_id:
        raise ValueError(f"{run_id!r}: write a run's id as the record does ({canonical})")
    return store / run_id


def stored_recording_folder(folder: str, run_id: str) -> Path:
    """Where a recording's files are, from its folder as the record holds it.

    That is the run's id (relative: in this PC's `recordings_dir`), or an agency store's
    absolute folder ending in it. ValueError for anything else, since a record's text may
    have been edited to point a deletion elsewhere, and for a store or run folder that is a
    link (symbolic, or a Windows junction): deleting through one would delete its target.
    """
    given = Path(folder)
    if not given.is_absolute() and folder == run_id:
        found = recording_folder(recordings_dir(), folder)
    elif not given.is_absolute() or ".." in given.parts or given.name != run_id:
        raise ValueError(f"recording folder {folder!r} of run {run_id} is not "
                         f"<store>/{run_id}; the record was edited, or written by another "
                         "program")
    else:
        found = recording_folder(given.parent, run_id)
    for place in (found.parent, found):
        if is_link(place):
            raise ValueError(f"{place} is a link (symbolic, or a junction), not the folder "
                             f"of run {run_id}'s recording itself: Branchpoint neither reads "
                             "nor deletes a recording through one. Put the folder itself "
                             "there")
    return found


def is_link(path: Path) -> bool:
    """Whether ``path`` is a symbolic link or, on Windows, a junction (any reparse point).

    False if nothing is there.
    """
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return False
    # Python 3.11 has no os.path.isjunction; Windows' lstat reports a junction's reparse
    # attribute (POSIX has no such field).
    attributes = getattr(status, "st_file_attributes", 0)
    return stat.S_ISLNK(status.st_mode) or bool(attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT)


def private_folder(folder: Path) -> None:
    """Make ``folder``, and any missing folder above it, for this account alone.

    Folders already there keep their permissions. Mode `PRIVATE_FOLDER` on POSIX; on
    Windows the mode is ignored and the user profile's permissions apply.
    """
    missing = [f for f in folder.parents if not f.exists()]
    for made in reversed(missing):
        made.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
    # FileExistsError if a file is in its place.
    folder.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)


def installation() -> str:
    """The name of this installation: which PC's data folder holds a recording's files.

    A shared record (PostgreSQL) has recordings on several PCs' data folders; each one
    says whose. The name is made once, the first time it is asked for, as this PC's network
    name and a random suffix (``PROJECTOR-1#3fa2c1d9``), and kept in the data folder's
    `INSTALLATION_FILE`: it travels with the data folder and its recordings, stays the same
    when the PC is renamed, and two PCs with the same name are still told apart.

    Raises:
        ValueError: the file is there but does not hold a name (edited, or damaged).
        OSError: the data folder cannot be written.
    """
    path = data_dir() / INSTALLATION_FILE
    if not path.exists():
        _make_installation(path)
    name = installation_if_made()
    assert name is not None, "made just now"
    return name


def installation_if_made() -> str | None:
    """The name `installation` gives, or None if it was never made: making nothing.

    None means this PC never recorded anyone; for checking whose files a recording is.

    Raises:
        ValueError: the file is there but does not hold a name.
    """
    path = data_dir() / INSTALLATION_FILE
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name or len(name) > _INSTALLATION_MAX or not name.isprintable():
        raise ValueError(f"{path} does not hold an installation name (a line such as "
                         "`PROJECTOR-1#3fa2c1d9`): put back the one from a backup of the "
                         "data folder, since the record names this PC by it")
    return name


def _make_installation(path: Path) -> None:
    node = "".join(c for c in platform.node() if c.isprintable() and c not in "#")[:60]
    name = f"{node.strip() or 'pc'}#{secrets.token_hex(4)}"
    private_folder(path.parent)
    descriptor, temporary = tempfile.mkstemp(prefix=".installation.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(name + "\n")
            file.flush()
            os.fsync(file.fileno())
        # A link, unlike a rename, never replaces: two processes making it at once agree
        # on the first one's name.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def fragment_file(folder: Path, name: str) -> Path:
    """The fragment file ``name`` in a recording ``folder``.

    Raises ValueError unless ``name`` is a fragment's, six digits and ``.mp4``
    (``000012.mp4``): whatever a record or a backup says, nothing else is opened, written or
    deleted as a fragment.
    """
    if not FRAGMENT_NAME.fullmatch(name):
        raise ValueError(f"fragment name {name!r} is not a fragment's (six digits and "
                         "`.mp4`, like 000012.mp4): the record or backup naming it is damaged")
    return folder / name


def check_store(text: str) -> Path:
    """An agency's recordings store as a folder: absolute, no `..`, not a link.

    Made if it is not there, for this account alone (`private_folder`).

    Raises:
        ValueError: what is wrong with it, and what to give instead.
    """
    store = Path(text)
    if not text.strip() or any(not c.isprintable() for c in text):
        raise ValueError(f"recordings store {text!r}: not a folder's path; give an absolute "
                         "path such as /srv/branchpoint/recordings or D:\\Recordings")
    if not store.is_absolute():
        raise ValueError(f"recordings store {text!r}: give an absolute path, so every "
                         "Branchpoint of the agency finds the same folder")
    if ".." in store.parts:
        raise ValueError(f"recordings store {text!r}: no `..` in the path; give the "
                         "folder itself")
    if is_link(store):
        raise ValueError(f"recordings store {text!r}: a link (symbolic, or a junction); "
                         "give the folder it points to")
    try:
        private_folder(store)
    except OSError as exc:
        raise ValueError(f"recordings store {text!r}: cannot be made ({exc.strerror or exc}); "
                         "make the folder, or give one this account may write to") from None
    if not store.is_dir():
        raise ValueError(f"recordings store {text!r}: not a folder; give a folder's path")
    return store


def write_file(path: Path, data: str | bytes) -> None:
    """Write a report or an export to ``path``: text as UTF-8, bytes (a PDF) as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
