"""Free-text notes, kept apart from events so they can be erased."""

from __future__ import annotations

import hashlib
import secrets

from simulator.ports import Note


def make_note(text: str) -> Note | None:
    """A note for ``text``, or None when there is nothing to keep.

    The digest is salted: a short note ("drew too early") hashed bare could be guessed back
    from the event after the text is erased; with the salt erased alongside it, it cannot.
    """
    text = text.strip()
    if not text:
        return None
    salt = secrets.token_hex(16)
    return Note(text=text, salt=salt, digest=note_digest(salt, text))


def note_digest(salt: str, text: str) -> str:
    """The digest an event keeps of a note."""
    return hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()
