"""The pairing code a remote console must quote: shown on the operator's screen only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
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


# Failures allowed within WINDOW_S: from one address, and from everyone together (a
# guesser with many addresses). Beyond either, tries are refused until the oldest ages out.
PER_PEER_FAILURES = 5
TOTAL_FAILURES = 20
WINDOW_S = 60.0


class PairingLimiter:
    """Rate limit on guessing: the pairing code, or (a limiter of its own) passwords.

    Hanging up on a wrong code makes each guess cost a connection; this bounds how many
    connections may guess. At 20 wrong codes a minute from everyone, finding one of the
    31^8 (about 2^40) codes takes some 50,000 years on average. The price: a guesser on
    the LAN can hold pairing off for everyone while they keep guessing, which the
    projector's log and the refusals make visible. ``what`` names the failures and
    ``then`` says what to do after the wait, in the refusal.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 what: str = "wrong pairing codes",
                 then: str = "then read the code again from the projector PC's operator "
                             "screen") -> None:
        self._clock = clock
        self._what = what
        self._then = then
        self._by_peer: defaultdict[str, deque[float]] = defaultdict(deque)
        self._all: deque[float] = deque()

    def refusal(self, peer: str) -> str | None:
        """Why ``peer`` may not try now, or None if it may."""
        now = self._clock()
        # Every address is pruned, so what is kept is bounded by the failures of the last
        # minute, not by every address that ever failed once.
        for address, failures in list(self._by_peer.items()):
            while failures and failures[0] <= now - WINDOW_S:
                failures.popleft()
            if not failures:
                del self._by_peer[address]
        while self._all and self._all[0] <= now - WINDOW_S:
            self._all.popleft()
        if len(self._by_peer.get(peer, ())) >= PER_PEER_FAILURES:
            wait = self._by_peer[peer][0] + WINDOW_S - now
            return f"too many {self._what} from this address; wait {wait:.0f} s, {self._then}"
        if len(self._all) >= TOTAL_FAILURES:
            wait = self._all[0] + WINDOW_S - now
            return (f"too many {self._what} from this network; wait {wait:.0f} s "
                    "(if nobody here was guessing, someone on the network is)")
        return None

    def failed(self, peer: str) -> None:
        """Count a failure from ``peer``."""
        now = self._clock()
        self._by_peer[peer].append(now)
        self._all.append(now)


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER bytes, in colon-separated hex pairs as browsers show it.

    The projector shows it beside the pairing code; a console pins it, so a machine in the
    middle with a certificate of its own is refused.
    """
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
