"""How counts read in what people see: the console, the reports, the command line."""

from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """``1 variant``, ``3 variants``: a count with its noun, singular only for one.

    For nouns whose plural adds an s.
    """
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
