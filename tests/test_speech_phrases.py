"""The profile's verbal phrases: merged, normalised, and refused with the fix named."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from simulator.agency import default_profile, load_profile
from simulator.documents import DocumentError
from simulator.speech import (
    PhraseError,
    SpeechSetupError,
    phrase_words,
    phrases_for,
    spotter_for,
)
from simulator.speech.pocketsphinx_recogniser import PocketsphinxRecogniser


def _agency(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agency.yaml"
    path.write_text("schema_version: 1\nname: Riverside\n" + body, encoding="utf-8")
    return path


def test_the_default_profile_has_english_phrases_for_the_default_tactics() -> None:
    profile = default_profile()
    assert "show me your hands" in profile.verbal_phrases["clear_directions"]["en"]
    assert "i'm here to help you" in profile.verbal_phrases["rapport"]["en"]
    assert "stop or i'll use my taser" in profile.verbal_phrases["warning_given"]["en"]
    assert set(profile.verbal_phrases) <= set(profile.verbal_tactics)
    phrases = phrases_for(profile, ["en"])
    assert {p.tactic for p in phrases} >= {"clear_directions", "rapport", "warning_given"}
    assert all(p.language == "en" for p in phrases)


def test_phrases_are_normalised_to_plain_lower_case_words() -> None:
    assert phrase_words("Drop the KNIFE!") == ("drop", "the", "knife")
    assert phrase_words("I’m here to help you.") == ("i'm", "here", "to", "help", "you")
    assert phrase_words("  ¡Suelte el cuchillo!  ") == ("suelte", "el", "cuchillo")
    assert phrase_words("'stop' -- now") == ("stop", "now")


def test_an_agency_adds_languages_and_phrases_and_keeps_the_built_in_ones(
        tmp_path: Path) -> None:
    profile = load_profile(_agency(tmp_path, """
verbal_phrases:
  clear_directions:
    en: ["hands up"]
    es: ["¡Suelte el cuchillo!", "manos arriba"]
"""))
    directions = profile.verbal_phrases["clear_directions"]
    assert directions["en"][0] == "show me your hands" and directions["en"][-1] == "hands up"
    assert directions["es"] == ["¡Suelte el cuchillo!", "manos arriba"]
    assert "rapport" in profile.verbal_phrases
    spanish = phrases_for(profile, ["es"])
    assert [p.words for p in spanish] == [("suelte", "el", "cuchillo"), ("manos", "arriba")]
    assert spanish[0].phrase == "¡Suelte el cuchillo!"


def test_an_unknown_tactic_is_an_error_naming_the_file_and_field(tmp_path: Path) -> None:
    path = _agency(tmp_path, "verbal_phrases:\n  yelling: {en: [\"hey you\"]}\n")
    with pytest.raises(DocumentError) as caught:
        load_profile(path)
    problem = caught.value.problems[0]
    assert problem.source == str(path) and problem.field == "verbal_phrases.yelling"
    assert "not a verbal tactic" in problem.message and "verbal_tactics" in problem.message


def test_an_unknown_language_code_is_an_error_naming_the_file_and_field(
        tmp_path: Path) -> None:
    path = _agency(tmp_path, "verbal_phrases:\n  rapport: {klingon: [\"nuqneH\"]}\n")
    with pytest.raises(DocumentError) as caught:
        load_profile(path)
    problem = caught.value.problems[0]
    assert problem.field == "verbal_phrases.rapport.klingon"
    assert "demographics.language.values" in problem.message and "es" in problem.message


def test_a_language_the_agency_adds_may_have_phrases(tmp_path: Path) -> None:
    profile = load_profile(_agency(tmp_path, """
demographics:
  language: {values: {so: Somali}}
verbal_phrases:
  rapport: {so: ["magacaa"]}
"""))
    assert profile.verbal_phrases["rapport"]["so"] == ["magacaa"]


@pytest.mark.parametrize(("text", "expected"), [
    ("drop the \x1b[2Jknife", "U+001B"),
    ("", "at least one word"),
    ("!!!", "at least one word"),
    ("word " * 30, "at most 80 characters"),
])
def test_hostile_or_empty_phrases_are_refused(tmp_path: Path, text: str,
                                               expected: str) -> None:
    path = _agency(tmp_path, f"verbal_phrases:\n  rapport: {{en: [{text!r}]}}\n"
                   .replace("'", '"'))
    with pytest.raises(DocumentError) as caught:
        load_profile(path)
    problem = caught.value.problems[0]
    assert problem.field == "verbal_phrases.rapport.en[0]"
    assert expected in problem.message
    assert "\x1b" not in str(caught.value)


def test_one_phrase_under_two_tactics_is_refused(tmp_path: Path) -> None:
    profile = load_profile(_agency(
        tmp_path, "verbal_phrases:\n  rapport: {en: [\"Put it down!\"]}\n"))
    with pytest.raises(PhraseError, match="`clear_directions` and `rapport`"):
        phrases_for(profile, ["en"])


def test_a_language_not_in_the_profile_or_without_phrases_is_refused() -> None:
    with pytest.raises(PhraseError, match="`xx` is not one of the profile's language codes"):
        phrases_for(default_profile(), ["xx"])
    with pytest.raises(PhraseError, match="no verbal phrases in fr"):
        phrases_for(default_profile(), ["fr"])


def test_a_word_the_dictionary_lacks_is_named_with_its_tactic_language_and_fix(
        tmp_path: Path) -> None:
    profile = load_profile(_agency(tmp_path, """
verbal_phrases:
  rapport: {en: ["my name is Zorblaxx", "talk to me"]}
  warning_given: {en: ["stop or i'll use my Zorblaxx"]}
"""))
    with pytest.raises(PhraseError) as caught:
        spotter_for(profile, on_heard=lambda heard: None)
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("verbal_phrases.rapport.en: the word \"zorblaxx\"")
    assert problems[1].startswith("verbal_phrases.warning_given.en: the word \"zorblaxx\"")
    assert "pocketsphinx" in problems[0] and "reword the phrase" in problems[0]


def test_pocketsphinx_refuses_languages_other_than_english(tmp_path: Path) -> None:
    profile = load_profile(_agency(tmp_path, "verbal_phrases:\n  rapport: {es: [\"hola\"]}\n"))
    with pytest.raises(PhraseError,
                       match=r"only US English .*`es`.*`recording\.speech\.whisper_model`"):
        PocketsphinxRecogniser(phrases_for(profile, ["en", "es"]))


def test_whisper_without_a_model_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SpeechSetupError) as caught:
        spotter_for(default_profile(), whisper_model=tmp_path / "nowhere",
                    on_heard=lambda heard: None)
    message = str(caught.value)
    assert "`recording.speech.whisper_model`" in message and "model.bin" in message
    assert "clear `recording.speech.whisper_model`" in message


@pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is not None,
                    reason="faster-whisper is installed here")
def test_whisper_without_the_package_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(SpeechSetupError) as caught:
        spotter_for(default_profile(), whisper_model=tmp_path, on_heard=lambda heard: None)
    message = str(caught.value)
    assert "faster-whisper package is not installed" in message
    assert "pip install faster-whisper" in message
    assert "`recording.speech.whisper_model`" in message
