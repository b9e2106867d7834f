"""What a name may hold: no character that drives a terminal or reorders the text around it.

Names (of people, agencies, cohorts, scenarios) are printed at the terminal and shown on
screens and in reports. A control character such as ESC can move the cursor and overwrite
what was printed before it, the head hash a reader compares with a copy kept elsewhere
among it; a bidi override can make one name read as another. Such characters are refused
wherever a name comes in, and spelled out wherever stored text goes to a terminal, in case
an older record holds them.

The rule refuses Unicode controls (Cc: C0, DEL and C1, ESC, NUL, newline and tab among
them), lone surrogates (Cs: what undecodable bytes in a command-line argument become), the
line and paragraph separators (Zl, Zp: a new line to some terminals and editors) and every
format character (Cf), the bidi marks, embeddings, overrides and isolates among them.
Format characters also include invisible ones (zero-width space, word joiner, soft hyphen,
byte-order mark) by which two names that look the same would be two people in the record,
so they are refused too, all but two: the zero-width non-joiner and joiner, without which
Persian and several Indic names cannot be spelled right.
"""

from __future__ import annotations

import unicodedata

# Needed to spell names in several scripts (see the module's docstring).
_JOINERS = frozenset({"\u200c", "\u200d"})
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp", "Cf"})

# unicodedata has no names for the C0 and C1 controls; these are the ones people meet.
_CONTROL_NAMES = {"\x00": "NULL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN",
                  "\x1b": "ESCAPE", "\x7f": "DELETE", "\x9b": "CONTROL SEQUENCE INTRODUCER"}


def refused(character: str) -> bool:
    """Whether ``character`` may not be part of a name (see the module's docstring)."""
    return (unicodedata.category(character) in _REFUSED_CATEGORIES
            and character not in _JOINERS)


def code_point(character: str) -> str:
    """``U+001B ESCAPE``: the character by number and, where Unicode has one, its name."""
    name = unicodedata.name(character, "") or _CONTROL_NAMES.get(character, "")
    return f"U+{ord(character):04X}" + (f" {name}" if name else "")



def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name, naming its first refused character; None if it can."""
    bad = next((c for c in value if refused(c)), None)
    if bad is None:
        return None
    position = value.index(bad) + 1
    return (f"character {position} is {code_point(bad)}, a control or text-direction "
            "character that no name may hold; delete it, or retype the name (it often "
            "comes with text pasted from another program)")


def check_name(value: str, what: str) -> str:
    """``value``, if it may be a name; else ValueError saying which character, for ``what``.

    ``what`` says whose name it is (``a trainee's name``, ``--agency``), to begin the error.
    """
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(f"{what}: {problem}")
    return value


def inert(text: str) -> str:
    """``text`` with every character a name may not hold written out as ``<U+001B>``.

    For printing stored text, which an older record may hold unchecked, so that it is read
    as written and does nothing to the terminal.
    """
    if not any(refused(c) for c in text):
        return text
    return "".join(f"<U+{ord(c):04X}>" if refused(c) else c for c in text)
