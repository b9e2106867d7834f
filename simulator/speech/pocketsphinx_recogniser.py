"""Keyword spotting with pocketsphinx and the US English model inside its package.

Pocketsphinx's keyphrase search runs each phrase's phones beside a loop of all phones (the
"garbage" path that stands for whatever else is said) and reports a phrase where the
phrase's path scores better than the loop's by the phrase's threshold. That score
difference, the margin, is a log likelihood ratio; it grows with the phrase's length, so
the threshold is set per phone and scaled by each phrase's phones. Short phrases match
other speech more easily than long ones at the same margin per phone, so the threshold per
phone is set apart for short, middling and long phrases (`THRESHOLDS`).

The confidence of a hit is the margin per phone above the threshold, through a logistic:
``1 / (1 + exp(-(margin / phones - threshold) / CONFIDENCE_SCALE))``. A hit just at the
threshold is 0.5; one a scale above it is 0.73. No hit is below 0.5.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pocketsphinx  # type: ignore[import-untyped]

from simulator.speech.phrases import PhraseError, VerbalPhrase, check_words
from simulator.speech.spotter import RATE, Hit

NAME = "pocketsphinx"
LANGUAGE = "en"
"""The one language of the bundled model (US English)."""

THRESHOLDS: tuple[tuple[int, float], ...] = ((9, 5.61), (13, 2.7), (1_000, 0.78))
"""(most phones, margin per phone in nats) by phrase length, shortest first.

A phrase of up to 9 phones must reach the first margin per phone, one of up to 13 the
second, a longer one the third. bench/speech.py chose them on two espeak-ng voices over a
scenario's sound and room noise, as the lowest that kept false detections to 0.3 a minute,
and reports them on two other voices.
"""

PHONE_LOOP_PENALTY = 1e-10
"""Pocketsphinx's ``kws_plp``: the cost of each phone change on the garbage path.

With its default (0.1) the garbage path follows speech so closely that in a trial on
espeak-ng voices under half of the phrases scored above it at any threshold; with 1e-10
nearly all did, and the thresholds keep out the rest.
"""

NOISE_FLOOR = 60.0
"""Least RMS, in int16 steps (about -55 dBFS), of the steady hiss added to what is heard.

The bundled model was trained on recordings with a room's noise under the speech, and
pocketsphinx normalises each frame by the mean of the recent frames (live CMN). Clean
input (a quiet room and a good microphone, a headset's noise gate, synthetic speech) drops
between words and in stop closures to exact or near digital silence, some 70 dB under the
speech: frames quieter than any the model saw, with jumps into and out of them in the delta
features that the phrase's phones must take (the garbage path has silence for them), and
a mean pulled so far under the speech that the speech looks far louder than it ever was in
training. With the thresholds off, "show me your hands" (espeak-ng) scored -3.6 nats a phone
over the garbage path clean and +10.6 with room noise 20 dB under it; pocketsphinx's
``dither`` (one step of noise) left that as it was, and ``remove_noise`` and ``cmn`` cannot
be changed here (the model's feat.params overrides them).

So silence is given the noise the model knows: a hiss `FLOOR_UNDER_LOUDEST_DB` under the
loudest recent frame, never under this floor. Where a room is noisier than that, the hiss
is hidden under its noise and changes little.
"""

FLOOR_UNDER_LOUDEST_DB = 40.0
"""How far under the loudest recent 10 ms frame the hiss is: about 20 dB under the speech
on average, the SNR at which bench/speech.py found the most phrases before the hiss."""

# The loudest frame's loudness halves every 20 s, so the hiss follows a trainee who moves
# the microphone or lowers their voice, but not the pauses between commands.
_LOUDEST_DECAY = 0.5 ** (1 / 2_000)

CONFIDENCE_SCALE = 4.0
"""Nats per phone above the threshold that take a hit's confidence from 0.5 to 0.73."""

# Pocketsphinx keeps scores as integers in log base 1.0001 shifted right by 10 bits, and
# reports a detection's margin less 1500 of those (kws_search.c, KWS_MAX).
_LOG_BASE = 1.0001
_SCORE_SHIFT = 1 << 10
_KWS_MAX = 1500
_FRAME_SAMPLES = RATE // 100  # pocketsphinx's 100 frames a second
# Pocketsphinx reports a hit this many frames after its end (kws_delay, its default) and
# may still move the end while the phrase's last phone goes on matching what follows;
# hits are taken once their end is this far behind.
_KWS_DELAY_FRAMES = 10
_SETTLE_FRAMES = 60
# A hit overlapping another may end this much later (its end dragged on by noise that
# resembles its last phone) and so be reported this much later.
_OVERLAP_FRAMES = 300


def _nats(score: int) -> float:
    return score * _SCORE_SHIFT * math.log(_LOG_BASE)


class PocketsphinxRecogniser:
    """The `Recogniser` on pocketsphinx's bundled model: English phrases only.

    Raises `PhraseError` for a phrase in another language or with a word the bundled
    dictionary lacks.
    """

    name = NAME
    latency = (_SETTLE_FRAMES + _OVERLAP_FRAMES) * _FRAME_SAMPLES

    def __init__(self, phrases: Sequence[VerbalPhrase], *,
                 thresholds: Sequence[tuple[int, float]] = THRESHOLDS) -> None:
        others = sorted({p.language for p in phrases if p.language != LANGUAGE})
        if others:
            raise PhraseError([
                f"pocketsphinx's bundled model knows only US English (`{LANGUAGE}`), not "
                f"{', '.join(f'`{code}`' for code in others)}: set "
                "`recording.speech.whisper_model` in projector.yaml to a folder holding a "
                "faster-whisper model to listen in other languages, or leave those "
                "languages out of `recording.speech.languages`"])
        self._decoder = pocketsphinx.Decoder(lm=None, kws_plp=PHONE_LOOP_PENALTY,
                                             kws_delay=_KWS_DELAY_FRAMES, loglevel="FATAL")
        self._floor: np.random.Generator
        self._loudest = 0.0  # RMS of the loudest recent frame, fading
        check_words(phrases, self.knows, recogniser="pocketsphinx (US English)")
        self._logmath = self._decoder.get_logmath()
        self._phones: dict[str, int] = {}
        self._thresholds: dict[str, float] = {}
        self._phrases: dict[str, VerbalPhrase] = {}
        lines = []
        for phrase in phrases:
            phones = self.phones(phrase)
            per_phone = next((margin for most, margin in thresholds if phones <= most),
                             thresholds[-1][1])
            self._phones[phrase.text] = phones
            self._thresholds[phrase.text] = per_phone
            self._phrases[phrase.text] = phrase
            lines.append(f"{phrase.text} /{math.exp(per_phone * phones):.6e}/")
        with tempfile.TemporaryDirectory() as folder:
            # The keyphrase search reads its list from a file.
            listing = Path(folder) / "phrases.kws"
            listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
            self._decoder.add_kws("phrases", str(listing))
        self._decoder.activate_search("phrases")
        self._started = False
        self._taken: dict[str, int] = {}  # end frame of the last hit taken, by phrase

    def knows(self, word: str) -> bool:
        """Whether the bundled dictionary has a pronunciation of ``word``."""
        return self._decoder.lookup_word(word) is not None

    def phones(self, phrase: VerbalPhrase) -> int:
        """How many phones the bundled dictionary spells ``phrase`` with."""
        return sum(len(str(self._decoder.lookup_word(word)).split()) for word in phrase.words)

    def accept(self, samples: np.ndarray) -> list[Hit]:
        """Take the next samples; return the hits pocketsphinx will no longer revise."""
        if not self._started:
            self._decoder.start_utt()
            self._started = True
            self._taken = {}
            # Seeded for each stream: the same sound is always heard the same way.
            self._floor = np.random.default_rng(0)
            self._loudest = 0.0
        frames = len(samples) // _FRAME_SAMPLES
        if frames:
            power = np.mean(np.square(samples[:frames * _FRAME_SAMPLES].astype(np.float64)
                                      .reshape(frames, _FRAME_SAMPLES)), axis=1)
            self._loudest = max(self._loudest * _LOUDEST_DECAY ** frames,
                                float(np.sqrt(power.max())))
        floor = max(NOISE_FLOOR, self._loudest * 10 ** (-FLOOR_UNDER_LOUDEST_DB / 20))
        floored = samples + self._floor.normal(0.0, floor, len(samples))
        heard = np.clip(np.rint(floored), -32768, 32767).astype(np.int16)
        self._decoder.process_raw(heard.tobytes(), False, False)
        return self._hits(self._decoder.n_frames() - _SETTLE_FRAMES)

    def finish(self) -> list[Hit]:
        """End the stream and return the hits held back."""
        if not self._started:
            return []
        self._started = False
        self._decoder.end_utt()
        return self._hits(None)

    def _hits(self, before: int | None) -> list[Hit]:
        found: list[Hit] = []
        for segment in self._decoder.seg() or ():
            text = segment.word.strip()
            start, end = int(segment.start_frame), int(segment.end_frame)
            if before is not None and end >= before:
                continue
            # Pocketsphinx may lengthen a hit it has reported; one taken is never taken
            # again, and a later one of the same phrase must begin after it ended.
            if text not in self._phrases or start <= self._taken.get(text, -1):
                continue
            self._taken[text] = end
            phones = max(1, self._phones[text])
            margin = _nats(self._logmath.log(segment.prob) + _KWS_MAX) / phones
            above = (margin - self._thresholds[text]) / CONFIDENCE_SCALE
            confidence = 1.0 / (1.0 + math.exp(-above))
            found.append(Hit(self._phrases[text], start * _FRAME_SAMPLES,
                             (end + 1) * _FRAME_SAMPLES, confidence))
        return found
