"""The pairing code a remote console must quote: shown on the operator's screen only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

# No 0/O, 1/I/L: the instructor reads the code off one screen and types it on another.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8


def _normalised(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch not in " -")


@dataclass(frozen=True)
class PairingCode:
    """A random code (about 40 bits), written ``ABCD-EFGH`` for reading aloud or typing."""

    secret: str = field(default_factory=lambda: "".join(
        secrets.choice(ALPHABET) for _ in range(LENGTH)))

    def __str__(self) -> str:
        return f"{self.secret[:4]}-{self.secret[4:]}"

    def matches(self, given: str) -> bool:
        """Whether ``given`` is this code, ignoring case, spaces and dashes.

        Compared in constant time, so timing says nothing about how much of a guess was right.
        """
        return hmac.compare_digest(_normalised(given).encode(), self.secret.encode())


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER bytes, in colon-separated hex pairs as browsers show it.

    The projector shows it beside the pairing code; a console pins it, so a machine in the
    middle with a certificate of its own is refused.
    """
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
