"""Spotting the trainee's verbal commands in the microphone's sound, offline.

Each phrase heard becomes a `Heard`: a suggestion with the recogniser's confidence, which
becomes a recorded decision only when an instructor confirms it.
"""

from simulator.speech.phrases import PhraseError, VerbalPhrase, phrase_words, phrases_for
from simulator.speech.spotter import Heard, Hit, PhraseSpotter, Recogniser, spotter_for
from simulator.speech.whisper_recogniser import SpeechSetupError

__all__ = ["Heard", "Hit", "PhraseError", "PhraseSpotter", "Recogniser", "SpeechSetupError",
           "VerbalPhrase", "phrase_words", "phrases_for", "spotter_for"]
