"""How people appear in an export: by name, or by a pseudonym that reveals neither.

A pseudonym is a keyed hash of the person's id: the same person gets the same pseudonym
throughout one export (and across exports made with the same key), so a trainee can be
followed through the data without being named, and without the id that would lead back to
the record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class People:
    """Names for person ids, or pseudonyms in their place."""

    names: Mapping[str, str] = field(default_factory=dict)
    pseudonym_key: bytes | None = None

    @classmethod
    def pseudonymous(cls, key: bytes | None = None) -> People:
        """Pseudonyms keyed by ``key`` (a fresh random one: unlinkable to other exports)."""
        return cls(pseudonym_key=key or secrets.token_bytes(32))

    @property
    def pseudonymised(self) -> bool:
        """Whether names and ids are hidden."""
        return self.pseudonym_key is not None

    def ref(self, person_id: str) -> str:
        """What stands for the person in the data: their id, or a pseudonym."""
        if self.pseudonym_key is None:
            return person_id
        digest = hmac.new(self.pseudonym_key, person_id.encode(), hashlib.sha256).hexdigest()
        return f"P-{digest[:10].upper()}"

    def name(self, person_id: str | None) -> str:
        """What a reader sees: the name (or the id, once erased), or the pseudonym."""
        if person_id is None:
            return ""
        if self.pseudonym_key is not None:
            return self.ref(person_id)
        return self.names.get(person_id, person_id)

    def labels(self, person_ids: list[str]) -> dict[str, str]:
        """``name`` for each id, as marker labels take it."""
        return {person_id: self.name(person_id) for person_id in person_ids}
