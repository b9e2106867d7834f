"""The phrase spotter: the stream a recogniser gets, the stamps it gives, and real speech."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.signal import resample_poly

from simulator.agency import default_profile
from simulator.recording.sound import AudioBlock
from simulator.speech import Heard, Hit, PhraseSpotter, VerbalPhrase, spotter_for
from simulator.speech.spotter import RATE

T0 = 7_000_000_000  # the run clock when the microphone began
DROP = VerbalPhrase("clear_directions", "en", "Drop the knife!", ("drop", "the", "knife"))
HANDS = VerbalPhrase("clear_directions", "en", "show me your hands",
                     ("show", "me", "your", "hands"))
TASER = VerbalPhrase("warning_given", "en", "stop or i'll use my taser",
                     ("stop", "or", "i'll", "use", "my", "taser"))
SHOOT = VerbalPhrase("warning_given", "en", "stop or i'll shoot",
                     ("stop", "or", "i'll", "shoot"))

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (scripts/bootstrap.sh installs it)")


@dataclass
class ScriptedRecogniser:
    """Keeps the stream it is given and answers with hits at set sample indices."""

    hits: list[Hit] = field(default_factory=list)
    name: str = "scripted"
    latency: int = RATE // 2
    stream: list[np.ndarray] = field(default_factory=list)
    finished: int = 0

    def accept(self, samples: np.ndarray) -> list[Hit]:
        self.stream.append(samples.copy())
        seen = sum(len(s) for s in self.stream)
        due = [hit for hit in self.hits if hit.end <= seen]
        self.hits = [hit for hit in self.hits if hit.end > seen]
        return due

    def finish(self) -> list[Hit]:
        self.finished += 1
        rest, self.hits = self.hits, []
        return rest


def _blocks(samples: np.ndarray, rate: int, sizes: list[int],
            stamps: list[int] | None = None) -> list[AudioBlock]:
    blocks, at = [], 0
    for number, size in enumerate(sizes):
        start = stamps[number] if stamps else T0 + round(at * 1e9 / rate)
        blocks.append(AudioBlock(samples[at:at + size], rate, start))
        at += size
    assert at == len(samples)
    return blocks


def _odd_sizes(total: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(int(rng.integers(1, 1_500)), total - sum(sizes)))
    return sizes


def test_odd_stereo_blocks_at_48_khz_become_the_same_16_khz_mono_stream_as_the_whole() -> None:
    rng = np.random.default_rng(3)
    left = (8_000 * np.sin(np.arange(48_000 * 2) * 2 * np.pi * 440 / 48_000)
            + rng.normal(0, 500, 96_000))
    stereo = np.stack([left, left * 0.5], axis=1).astype(np.int16)
    recogniser = ScriptedRecogniser()
    spotter = PhraseSpotter(recogniser, on_heard=lambda heard: None)
    for block in _blocks(stereo, 48_000, _odd_sizes(len(stereo), 1)):
        spotter.feed(block)
    spotter.flush()
    got = np.concatenate(recogniser.stream).astype(np.float64)
    whole = resample_poly(stereo.astype(np.float32).mean(axis=1), 1, 3)
    assert len(got) == len(whole) == 32_000
    assert np.max(np.abs(got - whole)) <= 1.0
    assert recogniser.finished == 1


def test_a_closed_spotter_reports_nothing_more_and_takes_no_more_blocks() -> None:
    release = threading.Event()

    class Stuck(ScriptedRecogniser):
        def accept(self, samples: np.ndarray) -> list[Hit]:
            release.wait()  # a spotter behind its microphone at the run's end
            return super().accept(samples)

    recogniser = Stuck(hits=[Hit(DROP, 100, 200, 0.9)])
    heard: list[Heard] = []
    spotter = PhraseSpotter(recogniser, on_heard=heard.append)
    blocks = _blocks(np.zeros(RATE * 2, dtype=np.int16), RATE, [RATE // 10] * 20)
    for block in blocks[:10]:
        spotter.feed(block)
    worker = next(t for t in threading.enumerate() if t.name == "phrase spotter")
    spotter.close()  # returns with the recogniser still stuck: the caller never waits
    assert worker.is_alive()
    for block in blocks[10:]:
        spotter.feed(block)
    release.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert heard == [] and recogniser.finished == 0
    assert sum(len(s) for s in recogniser.stream) < RATE  # the other nine blocks dropped


def test_44_1_khz_blocks_also_give_the_whole_streams_samples() -> None:
    mono = np.random.default_rng(4).normal(0, 3_000, 44_100).astype(np.int16)
    recogniser = ScriptedRecogniser()
    spotter = PhraseSpotter(recogniser, on_heard=lambda heard: None)
    for block in _blocks(mono, 44_100, _odd_sizes(len(mono), 2)):
        spotter.feed(block)
    spotter.flush()
    got = np.concatenate(recogniser.stream).astype(np.float64)
    whole = resample_poly(mono.astype(np.float32), 160, 441)
    assert len(got) == len(whole)
    assert np.max(np.abs(got - whole)) <= 1.0


def test_stamps_come_from_the_sample_count_and_restart_after_a_gap() -> None:
    rate = 48_000
    samples = np.zeros((rate * 6, 1), np.int16)
    sizes = [rate] * 6
    # Blocks arrive with a few milliseconds of jitter, then 400 ms of sound goes missing
    # before the fourth second's block.
    stamps = [T0 + 3_000_000, T0 + 1_000_000_000 - 2_000_000,
              T0 + 2_000_000_000 + 4_000_000, T0 + 3_400_000_000,
              T0 + 4_400_000_000, T0 + 5_400_000_000]
    hits = [Hit(DROP, RATE // 2, RATE, 0.9), Hit(TASER, round(2.5 * RATE), 3 * RATE, 0.9),
            Hit(HANDS, round(4.25 * RATE), 5 * RATE, 0.9)]
    heard: list[Heard] = []
    spotter = PhraseSpotter(ScriptedRecogniser(hits=list(hits)), on_heard=heard.append)
    for block in _blocks(samples, rate, sizes, stamps):
        spotter.feed(block)
    spotter.flush()
    assert [(h.tactic, h.phrase, h.start_ns - T0, h.end_ns - T0) for h in heard] == [
        ("clear_directions", "Drop the knife!", 503_000_000, 1_003_000_000),
        ("warning_given", "stop or i'll use my taser", 2_503_000_000, 3_400_000_000),
        ("clear_directions", "show me your hands", 4_650_000_000, 5_400_000_000),
    ]
    assert all(h.recogniser == "scripted" and h.language == "en" for h in heard)


def test_one_utterance_is_one_heard() -> None:
    hits = [
        # The same phrase found twice over one utterance, then said again a second later.
        Hit(DROP, RATE, 2 * RATE, 0.7), Hit(DROP, RATE + 800, 2 * RATE + 3_000, 0.8),
        Hit(DROP, 3 * RATE, 4 * RATE, 0.9),
        # Two phrases matching one utterance: the more confident is heard.
        Hit(SHOOT, 10 * RATE, 11 * RATE, 0.6), Hit(TASER, 10 * RATE, 12 * RATE, 0.9),
        # The same phrase again, long after.
        Hit(DROP, 20 * RATE, 21 * RATE, 0.75),
    ]
    heard: list[Heard] = []
    spotter = PhraseSpotter(ScriptedRecogniser(hits=hits), on_heard=heard.append)
    silence = np.zeros((RATE * 22, 1), np.int16)
    for block in _blocks(silence, RATE, [RATE] * 22):
        spotter.feed(block)
    spotter.flush()
    assert [(h.phrase, (h.start_ns - T0) // 1_000_000, h.confidence) for h in heard] == [
        ("Drop the knife!", 1_050, 0.8), ("stop or i'll use my taser", 10_000, 0.9),
        ("Drop the knife!", 20_000, 0.75)]


def test_bad_blocks_and_a_failing_recogniser_are_reported() -> None:
    spotter = PhraseSpotter(ScriptedRecogniser(), on_heard=lambda heard: None)
    with pytest.raises(ValueError, match="int16"):
        spotter.feed(AudioBlock(np.zeros((10, 1), np.float32), 48_000, T0))
    spotter.feed(AudioBlock(np.zeros((10, 1), np.int16), 48_000, T0))
    with pytest.raises(ValueError, match="48000 Hz and now at 44100 Hz"):
        spotter.feed(AudioBlock(np.zeros((10, 1), np.int16), 44_100, T0))
    spotter.flush()

    class Broken(ScriptedRecogniser):
        def accept(self, samples: np.ndarray) -> list[Hit]:
            raise OSError("decoder gone")

    broken = PhraseSpotter(Broken(), on_heard=lambda heard: None)
    broken.feed(AudioBlock(np.zeros((RATE, 1), np.int16), RATE, T0))
    with pytest.raises(RuntimeError, match="spotting verbal phrases failed: decoder gone"):
        broken.flush()


# Real speech: espeak-ng's voices through pocketsphinx's bundled model.

def _say(text: str, voice: str, speed: int) -> np.ndarray:
    spoken = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                            capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(spoken)) as sound:
        rate = sound.getframerate()
        samples = np.frombuffer(sound.readframes(sound.getnframes()), dtype=np.int16)
    # To the microphone's 48 kHz.
    return np.asarray(resample_poly(samples.astype(np.float32), 48_000, rate))


def _room(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Room noise: pink-ish hiss and a low hum, well under speech."""
    count = round(seconds * 48_000)
    hiss = np.cumsum(rng.normal(0, 1, count))
    hiss = (hiss - np.convolve(hiss, np.ones(480) / 480, mode="same")) * 40
    hum = 150 * np.sin(np.arange(count) * 2 * np.pi * 60 / 48_000)
    return np.asarray(hiss + hum)


def _spot(stream: np.ndarray, seed: int) -> list[Heard]:
    """Spot ``stream`` (48 kHz) fed as stereo blocks of odd sizes."""
    stereo = np.clip(np.stack([stream, stream * 0.9], axis=1), -32768, 32767).astype(np.int16)
    heard: list[Heard] = []
    spotter = spotter_for(default_profile(), on_heard=heard.append)
    for block in _blocks(stereo, 48_000, _odd_sizes(len(stereo), seed)):
        spotter.feed(block)
    spotter.flush()
    return heard


@needs_espeak
def test_phrases_in_several_voices_and_speeds_are_heard_where_they_were_said() -> None:
    rng = np.random.default_rng(5)
    said = [("show me your hands", "en-us+m3", 160, "clear_directions"),
            ("what's your name", "en-us", 160, "rapport"),
            ("drop the knife", "en-gb", 130, "clear_directions"),
            ("stop or i'll use my taser", "en-us+f3", 190, "warning_given")]
    pieces, truth = [_room(1.5, rng)], []
    for text, voice, speed, tactic in said:
        speech = _say(text, voice, speed)
        at = sum(len(p) for p in pieces)
        truth.append((tactic, T0 + round(at * 1e9 / 48_000)))
        pieces += [speech + _room(len(speech) / 48_000, rng), _room(2.0, rng)]
    heard = _spot(np.concatenate(pieces), seed=7)
    assert [h.tactic for h in heard] == [tactic for tactic, _ in truth]
    for h, (_, start_ns) in zip(heard, truth, strict=True):
        assert abs(h.start_ns - start_ns) <= 300_000_000, (h, start_ns)
        assert h.end_ns > h.start_ns and 0.5 <= h.confidence <= 1.0
        assert h.recogniser == "pocketsphinx"


@needs_espeak
def test_noise_and_other_speech_are_not_heard() -> None:
    rng = np.random.default_rng(6)
    other = _say("The market opens at nine on Saturday, with fresh bread, fruit and "
                 "flowers from the farms along the river, and the band plays until noon.",
                 "en-us+f3", 160)
    stream = np.concatenate([_room(4.0, rng), other + _room(len(other) / 48_000, rng),
                             _room(2.0, rng)])
    assert _spot(stream, seed=8) == []


def _at_snr(speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``speech`` with 1.5 s of room noise before and 2 s after, and under it, at ``snr_db``."""
    noise = _room(1.5 + len(speech) / 48_000 + 2.0, rng)
    speaking = speech[np.abs(speech) > 0.5]
    noise *= np.sqrt(np.mean(speaking**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    silence = np.zeros(round(1.5 * 48_000)), np.zeros(round(2.0 * 48_000))
    return np.concatenate([silence[0], speech, silence[1]]) + noise


@needs_espeak
def test_a_clean_phrase_between_digital_silence_is_heard() -> None:
    # espeak-ng's pauses, like a noise-gated headset's, are exact zeros.
    speech = _say("show me your hands", "en-us+m3", 160)
    stream = np.concatenate([np.zeros(round(1.5 * 48_000)), speech,
                             np.zeros(round(2.0 * 48_000))])
    heard = _spot(stream, seed=9)
    assert [h.tactic for h in heard] == ["clear_directions"]
    assert abs(heard[0].start_ns - T0 - 1_500_000_000) <= 300_000_000


@needs_espeak
def test_a_phrase_at_30_db_snr_is_heard() -> None:
    speech = _say("drop the knife", "en-gb", 160)
    heard = _spot(_at_snr(speech, 30.0, np.random.default_rng(10)), seed=10)
    assert [h.tactic for h in heard] == ["clear_directions"]
    assert abs(heard[0].start_ns - T0 - 1_500_000_000) <= 300_000_000
