"""The phrases a recogniser listens for: the profile's `verbal_phrases`, normalised.

A profile spells a phrase the way an instructor would write it ("Drop the knife!",
"I’m here to help you"); a recogniser compares words. Normalising keeps letters, digits
and the apostrophes inside words, folds case and typographic apostrophes, and drops the
rest, so that both spellings above listen for the same words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from simulator.agency import AgencyProfile
from simulator.names import inert

# A word: letters or digits, with apostrophes only between them ("i'm", "o'clock").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


class PhraseError(ValueError):
    """The phrases asked for cannot be listened for; ``problems`` says each reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class VerbalPhrase:
    """One phrase of one verbal tactic in one language.

    ``phrase`` is as the profile spells it; ``words`` is what a recogniser compares.
    """

    tactic: str
    language: str
    phrase: str
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        """The normalised words joined by single spaces."""
        return " ".join(self.words)


def phrase_words(text: str) -> tuple[str, ...]:
    """The words of ``text``, normalised (see the module's docstring)."""
    folded = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return tuple(_WORD.findall(folded))


def phrases_for(profile: AgencyProfile, languages: Iterable[str]) -> tuple[VerbalPhrase, ...]:
    """Every phrase of ``profile`` in ``languages``, in the profile's order.

    Raises `PhraseError` when a language is not one of the profile's codes, when no phrase
    is given in any of them, or when one phrase is listed under two tactics (a recogniser
    hearing it could not say which tactic it was).
    """
    wanted = list(dict.fromkeys(languages))
    known = profile.languages()
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise PhraseError([
            f"language `{inert(code)}` is not one of the profile's language codes "
            f"({', '.join(sorted(known))}); choose one of those" for code in unknown])
    found: list[VerbalPhrase] = []
    owner: dict[tuple[str, tuple[str, ...]], str] = {}
    problems: list[str] = []
    for tactic, by_language in profile.verbal_phrases.items():
        for language in wanted:
            for text in by_language.get(language, []):
                words = phrase_words(text)
                key = (language, words)
                if key in owner and owner[key] != tactic:
                    problems.append(
                        f"verbal_phrases: \"{inert(text)}\" ({language}) is listed under both "
                        f"`{owner[key]}` and `{tactic}`; keep it under one tactic")
                    continue
                if key not in owner:
                    owner[key] = tactic
                    found.append(VerbalPhrase(tactic, language, text, words))
    if problems:
        raise PhraseError(problems)
    if not found:
        raise PhraseError([
            f"the profile has no verbal phrases in {', '.join(wanted) or 'any language'}; add "
            "some under `verbal_phrases` (docs/vocabulary.md, \"Verbal phrases\")"])
    return tuple(found)


def check_words(phrases: Iterable[VerbalPhrase], known: Callable[[str], bool], *,
                recogniser: str) -> None:
    """Raise `PhraseError` naming every word of ``phrases`` that ``known`` says is missing.

    ``recogniser`` names the dictionary that lacks the word, for the message. A recogniser
    that spells by dictionary cannot listen for a word it has no pronunciation of; the fix
    is another wording of the phrase.
    """
    problems = [
        f"verbal_phrases.{phrase.tactic}.{phrase.language}: the word \"{inert(word)}\" in "
        f"\"{inert(phrase.phrase)}\" is not in the {recogniser} dictionary; reword the phrase "
        "with common words (spell numbers out, avoid brand names and abbreviations), or "
        "use a Whisper model, which has no fixed word list"
        for phrase in phrases for word in dict.fromkeys(phrase.words) if not known(word)]
    if problems:
        raise PhraseError(problems)
