"""Phrases found in Whisper's transcript, through faster-whisper and a model the agency keeps.

Branchpoint does not ship Whisper: an agency that wants it installs the faster-whisper
package and puts a converted model (a CTranslate2 folder with ``model.bin``) on the
projector PC, then names that folder in the `recording.speech.whisper_model` setting of
its projector.yaml. Nothing is ever
downloaded; the model is opened with ``local_files_only``.

Whisper transcribes, it does not spot: the stream is transcribed in windows of
`WINDOW_SECONDS` that overlap by `OVERLAP_SECONDS` (so that a phrase cut by one window's
end is whole in the next), with a time for each word, and a phrase is found where its
words follow one another in the transcript. Its confidence is the mean of Whisper's
probabilities of those words.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.names import inert
from simulator.speech.phrases import VerbalPhrase, phrase_words
from simulator.speech.spotter import RATE, Hit

NAME = "faster-whisper"
SETTING = "recording.speech.whisper_model"
"""The setting (in the projector PC's projector.yaml) that names the model's folder."""

WINDOW_SECONDS = 24
OVERLAP_SECONDS = 4
_WINDOW = WINDOW_SECONDS * RATE
_OVERLAP = OVERLAP_SECONDS * RATE


class SpeechSetupError(Exception):
    """A recogniser cannot be set up as the settings ask; the message says the fix."""


class WhisperRecogniser:
    """The `Recogniser` on a faster-whisper model in ``model_folder``, in any language it knows.

    Raises `SpeechSetupError` naming the `recording.speech.whisper_model` setting when the
    folder holds no model or faster-whisper is not installed.
    """

    name = NAME
    latency = _WINDOW

    def __init__(self, phrases: Sequence[VerbalPhrase], model_folder: Path, *,
                 device: str = "cpu", compute_type: str = "int8") -> None:
        shown = inert(str(model_folder))
        if not (model_folder / "model.bin").is_file():
            raise SpeechSetupError(
                f"the `{SETTING}` setting (projector.yaml) names {shown}, which holds no "
                "faster-whisper model (a folder with model.bin, config.json and "
                "tokenizer.json): put a converted "
                f"Whisper model there, or clear `{SETTING}` to listen with pocketsphinx's "
                "bundled US English model")
        try:
            whisper = importlib.import_module("faster_whisper")
        except ImportError as error:
            raise SpeechSetupError(
                f"the `{SETTING}` setting (projector.yaml) names {shown}, but the "
                f"faster-whisper package is not installed ({error}): install it (pip install "
                f"faster-whisper) on this computer, or clear `{SETTING}` to listen with "
                "pocketsphinx's bundled US English model") from error
        try:
            self._model: Any = whisper.WhisperModel(str(model_folder), device=device,
                                                    compute_type=compute_type,
                                                    local_files_only=True)
        except Exception as error:  # CTranslate2 and tokenizers raise their own kinds
            raise SpeechSetupError(
                f"the faster-whisper model in {shown} (the `{SETTING}` setting) could not be "
                f"opened ({error}): check that it is a complete CTranslate2 conversion") \
                from error
        self._phrases = list(phrases)
        languages = {phrase.language for phrase in phrases}
        # One language: tell Whisper; several: let it tell which each window is in.
        self._language = next(iter(languages)) if len(languages) == 1 else None
        self._held = np.zeros(0, dtype=np.int16)
        self._offset = 0  # stream sample of _held[0]

    def accept(self, samples: np.ndarray) -> list[Hit]:
        """Take the next samples; transcribe each window as it fills."""
        self._held = np.concatenate([self._held, samples.astype(np.int16)])
        found: list[Hit] = []
        while len(self._held) >= _WINDOW:
            # A phrase beginning in the overlap is left for the next window, which has it
            # whole.
            found += [hit for hit in self._transcribe(self._held[:_WINDOW])
                      if hit.start < self._offset + _WINDOW - _OVERLAP]
            self._held = self._held[_WINDOW - _OVERLAP:]
            self._offset += _WINDOW - _OVERLAP
        return found

    def finish(self) -> list[Hit]:
        """Transcribe what is left and start a new stream."""
        found = self._transcribe(self._held) if len(self._held) else []
        self._held = np.zeros(0, dtype=np.int16)
        self._offset = 0
        return found

    def _transcribe(self, window: np.ndarray) -> list[Hit]:
        segments, _info = self._model.transcribe(
            window.astype(np.float32) / 32768.0, language=self._language,
            word_timestamps=True, condition_on_previous_text=False, vad_filter=False)
        # Each transcript word as normalised words, with its times and probability.
        words: list[tuple[str, float, float, float]] = []
        for segment in segments:
            for word in segment.words or ():
                words += [(token, float(word.start), float(word.end), float(word.probability))
                          for token in phrase_words(str(word.word))]
        tokens = [word[0] for word in words]
        found: list[Hit] = []
        for phrase in self._phrases:
            size = len(phrase.words)
            for at in range(len(tokens) - size + 1):
                if tuple(tokens[at:at + size]) == phrase.words:
                    span = words[at:at + size]
                    found.append(Hit(
                        phrase, self._offset + round(span[0][1] * RATE),
                        self._offset + round(span[-1][2] * RATE),
                        sum(word[3] for word in span) / size))
        return found
