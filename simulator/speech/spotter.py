"""Spotting the agency's verbal phrases in the trainee's microphone, as a run goes.

The recorder hands each `AudioBlock` to `PhraseSpotter.feed` on its audio thread; the
spotter only queues it there. A thread of its own turns the blocks into one 16 kHz mono
stream (the rate both recognisers take), gives it to a `Recogniser`, and turns each hit
back into a `Heard` on the run's clock. A `Heard` is a suggestion for the instructor:
nothing here records a decision.

Times come from sample counts, not from when a phrase was recognised: the stream's sample
``k`` was heard at the first block's ``start_ns`` plus ``k`` sample periods, so stamps do
not drift however the blocks are cut. Only when a block's stamp departs from that count by
more than `GAP_NS` (samples were lost, the device restarted) is the count anchored again at
that block.
"""

from __future__ import annotations

import bisect
import math
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.signal import resample_poly

from simulator.agency import AgencyProfile
from simulator.recording.sound import AudioBlock
from simulator.speech.phrases import VerbalPhrase, phrases_for

RATE = 16_000
"""Samples a second of the stream a `Recogniser` takes."""

GAP_NS = 50_000_000
"""A block stamped further than this from where the sample count puts it starts anew."""

# The same phrase heard again within this long after the last time is the officer
# repeating the command: one utterance, one Heard.
_REPEAT_SAMPLES = 2 * RATE


@dataclass(frozen=True)
class Heard:
    """A verbal phrase heard on the trainee's microphone.

    ``start_ns`` and ``end_ns`` are on the run's clock, from the audio's stamps: when the
    phrase began and ended, not when it was recognised. ``confidence`` is the recogniser's,
    from 0 to 1 (each recogniser's docstring says how it is derived).
    """

    tactic: str
    phrase: str
    language: str
    start_ns: int
    end_ns: int
    confidence: float
    recogniser: str


@dataclass(frozen=True)
class Hit:
    """A phrase a recogniser found, and where in its stream.

    ``start`` and ``end`` are sample indices (16 kHz) of the stream since the recogniser's
    last `Recogniser.finish`, ``end`` exclusive; ``confidence`` is from 0 to 1.
    """

    phrase: VerbalPhrase
    start: int
    end: int
    confidence: float


class Recogniser(Protocol):
    """Finds phrases in one 16 kHz mono int16 stream, fed in pieces.

    Hits may come back late (a recogniser waits to be sure), but each at most once and
    never before the audio of its end was accepted.
    """

    @property
    def name(self) -> str:
        """How `Heard.recogniser` names it: ``pocketsphinx`` or ``faster-whisper``."""
        ...

    @property
    def latency(self) -> int:
        """Samples after a hit's end by which every hit overlapping it has been returned."""
        ...

    def accept(self, samples: np.ndarray) -> list[Hit]:
        """Take the next samples of the stream; return the hits found so far."""
        ...

    def finish(self) -> list[Hit]:
        """The stream ended: return the hits still held. The next `accept` starts anew."""
        ...


class _Resampler:
    """One rate to `RATE`, in pieces, giving what resampling the whole at once would.

    `resample_poly` pads each piece with zeros, so pieces resampled on their own would click
    at every seam. Each piece is resampled with enough true neighbouring samples on both
    sides to cover the filter, and only its own middle is kept.
    """

    def __init__(self, rate: int) -> None:
        divisor = math.gcd(RATE, rate)
        self._up, self._down = RATE // divisor, rate // divisor
        # resample_poly's filter reaches 10 * max(up, down) upsampled samples each way.
        reach = math.ceil(10 * max(self._up, self._down) / self._up)
        self._pad = (reach // self._down + 1) * self._down
        self._held = np.zeros(self._pad, dtype=np.float32)  # stands in before the stream
        self._start = self._pad  # index in _held of the first sample not yet resampled

    def push(self, samples: np.ndarray) -> np.ndarray:
        """The resampled stream up to where the filter can already reach."""
        if self._up == self._down:
            return samples.astype(np.int16)
        self._held = np.concatenate([self._held, samples])
        ready = (len(self._held) - self._start - self._pad) // self._down * self._down
        if ready <= 0:
            return np.zeros(0, dtype=np.int16)
        window = self._held[self._start - self._pad:self._start + ready + self._pad]
        out = self._middle(window, ready)
        self._start += ready
        self._held = self._held[self._start - self._pad:]
        self._start = self._pad
        return out

    def finish(self) -> np.ndarray:
        """The rest of the stream; the resampler is then ready for a new one."""
        if self._up == self._down:
            return np.zeros(0, dtype=np.int16)
        rest = len(self._held) - self._start
        out = np.zeros(0, dtype=np.int16)
        if rest > 0:
            window = self._held[self._start - self._pad:]
            out = self._middle(window, rest)
        self._held = np.zeros(self._pad, dtype=np.float32)
        self._start = self._pad
        return out

    def _middle(self, window: np.ndarray, count: int) -> np.ndarray:
        out: np.ndarray = resample_poly(window, self._up, self._down)
        first = self._pad * self._up // self._down
        wanted = math.ceil(count * self._up / self._down)
        kept: np.ndarray = np.clip(np.rint(out[first:first + wanted]), -32768, 32767)
        return kept.astype(np.int16)


_END = object()
_DROP = object()  # `close`: end without spotting what is left


class PhraseSpotter:
    """Feeds a run's microphone to a `Recogniser` and reports each phrase heard once.

    ``on_heard`` is called on the spotter's own thread, in the order phrases were heard.
    Overlapping hits (one utterance that matched two phrases) give one `Heard`, the most
    confident; the same phrase said again within two seconds of the last gives none.
    """

    def __init__(self, recogniser: Recogniser, *, on_heard: Callable[[Heard], None]) -> None:
        self._recogniser = recogniser
        self._on_heard = on_heard
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._rate = 0
        self._closed = False
        self._reset_stream()

    def feed(self, block: AudioBlock) -> None:
        """Queue the next block of the run's microphone; cheap, for the audio thread.

        Raises ValueError for a block that is not int16 samples at a positive rate, or whose
        rate differs from the earlier blocks' of the run; RuntimeError if spotting failed
        (the reason is its cause). Blocks fed after `close` are dropped.
        """
        if self._closed:
            return
        self._raise_failure()
        samples = block.samples
        if not isinstance(samples, np.ndarray) or samples.dtype != np.int16 or \
                samples.ndim not in (1, 2) or block.rate <= 0:
            raise ValueError("an audio block must hold int16 samples shaped (n, channels) at "
                             f"a positive rate, not {getattr(samples, 'dtype', samples)!r} "
                             f"at {block.rate} Hz")
        if self._rate and block.rate != self._rate:
            raise ValueError(f"this run's audio came at {self._rate} Hz and now at "
                             f"{block.rate} Hz; one run's blocks keep one rate")
        self._rate = block.rate
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="phrase spotter",
                                            daemon=True)
            self._thread.start()
        self._queue.put(block)

    def flush(self) -> None:
        """End the run: spot what is left, report it, and wait until that is done.

        The spotter may then be fed the next run's blocks. Raises RuntimeError if spotting
        failed.
        """
        thread = self._thread
        if thread is not None:
            self._queue.put(_END)
            thread.join()
            self._thread = None
            self._rate = 0
        self._raise_failure()

    def close(self) -> None:
        """Stop spotting without waiting: what is still queued or held back is dropped.

        For a run that has ended, which takes no more phrases: nothing then keeps its caller
        (the GUI thread, at the run's end) waiting. The spotter takes no more blocks.
        """
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_DROP)

    def _raise_failure(self) -> None:
        if self._failure is None:
            return
        failure, self._failure = self._failure, None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._queue = queue.SimpleQueue()  # what was fed after the failure is dropped
        self._rate = 0
        raise RuntimeError(f"spotting verbal phrases failed: {failure}") from failure

    def _reset_stream(self) -> None:
        self._resampler: _Resampler | None = None
        self._fed = 0  # samples of the 16 kHz stream given to the recogniser
        self._input = 0  # samples of the input stream taken
        self._anchors: list[tuple[int, int]] = []  # (stream sample, its stamp), rising
        self._pending: list[Hit] = []
        self._last: dict[VerbalPhrase, int] = {}  # end of the last hit of each phrase

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if self._closed:  # set by `close`, which queues _DROP to wake this up
                    return
                if item is _END:
                    break
                if isinstance(item, AudioBlock):
                    self._take(item)
            self._finish()
        except Exception as error:  # raised again by the next feed or flush
            self._failure = error
        finally:
            self._reset_stream()

    def _take(self, block: AudioBlock) -> None:
        if self._resampler is None:
            self._resampler = _Resampler(block.rate)
        expected = self._stamp_of_input(self._input, block.rate)
        if expected is None or abs(block.start_ns - expected) > GAP_NS:
            # The stream sample this block begins at; fractional when the rates do not
            # divide, so keep the input count and convert.
            self._anchors.append((self._input * RATE // block.rate, block.start_ns))
        samples = block.samples.astype(np.float32)
        mono = samples.mean(axis=1) if samples.ndim == 2 else samples
        self._input += len(mono)
        self._recognise(self._resampler.push(mono), final=False)

    def _stamp_of_input(self, index: int, rate: int) -> int | None:
        if not self._anchors:
            return None
        return self._stamp(index * RATE / rate)

    def _stamp(self, sample: float) -> int:
        """The run-clock time of stream sample ``sample``."""
        at = max(0, bisect.bisect_right(self._anchors, (int(sample), 2**63)) - 1)
        first, stamp = self._anchors[at]
        return stamp + round((sample - first) * 1e9 / RATE)

    def _finish(self) -> None:
        if self._resampler is not None:
            self._recognise(self._resampler.finish(), final=True)

    def _recognise(self, stream: np.ndarray, *, final: bool) -> None:
        hits = self._recogniser.accept(stream) if len(stream) else []
        self._fed += len(stream)
        if final:
            hits += self._recogniser.finish()
        self._pending.extend(hits)
        self._settle(everything=final)

    def _settle(self, *, everything: bool) -> None:
        """Pass on the utterances the stream has left behind, one `Heard` each."""
        self._pending.sort(key=lambda hit: hit.start)
        while self._pending:
            group = [self._pending[0]]
            end = group[0].end
            for hit in self._pending[1:]:
                if hit.start >= end:
                    break
                group.append(hit)
                end = max(end, hit.end)
            # Wait until every hit of the same utterance has come in to be weighed.
            if not everything and end + self._recogniser.latency > self._fed:
                return
            del self._pending[:len(group)]
            best = max(group, key=lambda hit: (hit.confidence, len(hit.phrase.words)))
            self._report(best)

    def _report(self, hit: Hit) -> None:
        last_end = self._last.get(hit.phrase)
        self._last[hit.phrase] = max(hit.end, last_end or 0)
        if last_end is not None and hit.start < last_end + _REPEAT_SAMPLES:
            return
        self._on_heard(Heard(
            tactic=hit.phrase.tactic, phrase=hit.phrase.phrase, language=hit.phrase.language,
            start_ns=self._stamp(hit.start), end_ns=self._stamp(hit.end),
            confidence=round(min(1.0, max(0.0, hit.confidence)), 3),
            recogniser=self._recogniser.name))


def spotter_for(profile: AgencyProfile, languages: Sequence[str] = ("en",), *,
                whisper_model: Path | None = None,
                on_heard: Callable[[Heard], None]) -> PhraseSpotter:
    """A spotter for the profile's phrases in ``languages``.

    With no ``whisper_model`` it listens with pocketsphinx's bundled US English model; with
    one (the `recording.speech.whisper_model` setting: a folder holding a faster-whisper
    model) it listens with Whisper, in any language the model knows.

    Raises `PhraseError` for phrases that cannot be listened for (naming tactic, language
    and word) and `SpeechSetupError` for a recogniser that cannot be set up (naming the
    setting and the fix).
    """
    phrases = phrases_for(profile, languages)
    recogniser: Recogniser
    # The recognisers are imported here because they import this module's `Hit`.
    if whisper_model is not None:
        from simulator.speech.whisper_recogniser import WhisperRecogniser

        recogniser = WhisperRecogniser(phrases, whisper_model)
    else:
        from simulator.speech.pocketsphinx_recogniser import (
            PocketsphinxRecogniser,
        )

        recogniser = PocketsphinxRecogniser(phrases)
    return PhraseSpotter(recogniser, on_heard=on_heard)

