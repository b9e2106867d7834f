"""Spotting the trainee's verbal phrases: recall, false detections and cost.

Every phrase of the default profile is spoken by espeak-ng at three speeds (130, 160 and
190 words a minute) in several voices, each utterance 2.5 s from the next, over the sound
a trainee's microphone would hear: the bundled traffic-stop scenario's own sound (its
stand-in clips, generated as the library does, decoded with PyAV; the one bundled
scenario whose lines hold none of the phrases), looped, and pink room noise 6 dB under it.
The phrases are mixed at 30, 20, 10 and 0 dB over that sound (speech power while speaking
against the background's power), and said clean: at the 10 dB streams' level with no
background at all, espeak-ng's exact digital silence between them.

- ``tuning``: pocketsphinx's thresholds, chosen on the voices ``en-us`` and ``en-us+f3``
  at 10 and 0 dB.
  The recogniser runs with a threshold low enough to let everything through; each hit's
  margin per phone is kept. For each phrase length (up to 9 phones, up to 13, longer) the
  threshold is the lowest margin per phone at which that length's false detections (hits
  that match no utterance, and every hit in the phrase-free sound) stay within
  ``FALSE_PER_MINUTE_BUDGET`` / 3 a minute of all the tuning sound.
- ``report``: the `PhraseSpotter` end to end, on the other voices (``en-gb``,
  ``en-us+m3``), fed 48 kHz mono blocks of 1,024 samples stamped as a microphone stamps
  them, with the thresholds tuning chose (``shipped_thresholds``: those the recogniser
  ships, from an earlier run). Recall per phrase list (verbal tactic) and SNR: the
  share of utterances heard as their tactic with a start within 0.3 s. False detections a
  minute: every `Heard` in ``BENCH_SPEECH_MINUTES`` (default 3) minutes of the background
  without phrases, and the `Heard`s in the phrase streams that match no utterance.
- ``cost``: CPU seconds a second of audio of the whole spotter (resampling from 48 kHz and
  pocketsphinx), which is also its share of one core.

``python -m bench.speech``; JSON in bench/results/speech.json. ``BENCH_SPEECH_STANDINS``
names a folder to keep the stand-in clips in between runs (they take a minute or two).
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import time
import wave
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from scipy.signal import resample_poly

from bench.machine import machine, write_result
from simulator.agency import default_profile
from simulator.recording.sound import AudioBlock
from simulator.scenario.loader import load_scenario
from simulator.speech.phrases import VerbalPhrase, phrases_for
from simulator.speech.pocketsphinx_recogniser import THRESHOLDS, PocketsphinxRecogniser
from simulator.speech.spotter import RATE, Heard, Hit, PhraseSpotter
from simulator.standins import generate_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "traffic-stop"
TUNING_VOICES = ("en-us", "en-us+f3")
REPORT_VOICES = ("en-gb", "en-us+m3")
SPEEDS = (130, 160, 190)
TUNING_SNRS_DB: tuple[float | None, ...] = (10.0, 0.0)
SNRS_DB: tuple[float | None, ...] = (None, 30.0, 20.0, 10.0, 0.0)
"""Speech against background in the report; None is clean (no background)."""
CLEAN_LEVEL_SNR_DB = 10.0
GAP_S = 2.5
NOISE_UNDER_SCENARIO_DB = 6.0
TOLERANCE_S = 0.3
FALSE_MINUTES = float(os.environ.get("BENCH_SPEECH_MINUTES", "3"))
FALSE_PER_MINUTE_BUDGET = 0.3
LENGTHS = tuple(most for most, _ in THRESHOLDS)  # phrase lengths in phones, as tuned
MIC_RATE = 48_000
BLOCK = 1_024


@dataclass(frozen=True)
class Utterance:
    """A phrase spoken at a known place in a stream (samples at 16 kHz)."""

    phrase: VerbalPhrase
    start: int
    end: int


def _say(text: str, voice: str, speed: int) -> np.ndarray:
    spoken = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                            capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(spoken)) as sound:
        rate = sound.getframerate()
        samples = np.frombuffer(sound.readframes(sound.getnframes()), dtype=np.int16)
    return np.asarray(resample_poly(samples.astype(np.float32), RATE, rate), np.float32)


def _decode(path: Path) -> np.ndarray:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    pieces: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces).astype(np.float32)


def _scenario_sound(folder: Path) -> np.ndarray:
    loaded = load_scenario(ROOT / "scenarios" / SCENARIO / "scenario.yaml")
    generate_scenario(loaded, folder, size="demo")
    # The variants share their sound; one variant's clips are all of it.
    first = sorted(p for p in folder.rglob("*.mp4"))[0].parent
    return np.concatenate([_decode(clip) for clip in sorted(first.glob("*.mp4"))])


def _pink(count: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(count))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    noise = np.fft.irfft(spectrum, count)
    return np.asarray(noise / np.sqrt(np.mean(noise**2)), np.float32)


def _power(samples: np.ndarray) -> float:
    return float(np.mean(samples.astype(np.float64) ** 2))


def _background(scenario: np.ndarray, count: int, offset: int,
                rng: np.random.Generator) -> np.ndarray:
    looped = np.resize(np.roll(scenario, -offset), count)
    noise = _pink(count, rng) * np.sqrt(_power(scenario)) * 10 ** (-NOISE_UNDER_SCENARIO_DB / 20)
    return np.asarray(looped + noise, np.float32)


def _label(snr_db: float | None) -> str:
    return "clean" if snr_db is None else f"snr_{snr_db:g}_db"


def _phrase_stream(phrases: Sequence[VerbalPhrase], voices: Sequence[str],
                   snr_db: float | None,
                   scenario: np.ndarray, rng: np.random.Generator,
                   ) -> tuple[np.ndarray, list[Utterance]]:
    gap = round(GAP_S * RATE)
    spoken = [(phrase, _say(phrase.phrase, voice, speed))
              for voice in voices for speed in SPEEDS for phrase in phrases]
    order = rng.permutation(len(spoken))
    total = gap + sum(len(spoken[i][1]) + gap for i in order)
    background = _background(scenario, total, int(rng.integers(len(scenario))), rng)
    speech = np.zeros(total, np.float32)
    utterances = []
    at = gap
    for index in order:
        phrase, samples = spoken[index]
        speech[at:at + len(samples)] = samples
        utterances.append(Utterance(phrase, at, at + len(samples)))
        at += len(samples) + gap
    speaking = np.concatenate([speech[u.start:u.end] for u in utterances])
    level = CLEAN_LEVEL_SNR_DB if snr_db is None else snr_db
    gain = np.sqrt(_power(background) * 10 ** (level / 10) / _power(speaking))
    heard = speech * gain if snr_db is None else background + speech * gain
    return np.clip(heard, -32768, 32767), utterances


def _recognise(recogniser: PocketsphinxRecogniser, stream: np.ndarray) -> list[Hit]:
    samples = stream.astype(np.int16)
    hits: list[Hit] = []
    for at in range(0, len(samples), RATE // 4):
        hits += recogniser.accept(samples[at:at + RATE // 4])
    return hits + recogniser.finish()


def _matches(start: int, tactic: str, utterances: Sequence[Utterance]) -> Utterance | None:
    return next((u for u in utterances if u.phrase.tactic == tactic
                 and abs(start - u.start) <= TOLERANCE_S * RATE), None)


def _length(phones: int) -> int:
    return next(most for most in LENGTHS if phones <= most)


def _tune(phrases: Sequence[VerbalPhrase], streams: list[tuple[np.ndarray, list[Utterance]]],
          quiet: np.ndarray) -> dict[str, Any]:
    """The threshold per phrase length, from the hits of a recogniser that lets all through."""
    open_recogniser = PocketsphinxRecogniser(phrases, thresholds=((1_000, -12.0),))
    phones = {p: open_recogniser.phones(p) for p in phrases}
    scale = 4.0  # the recogniser's confidence scale, to recover each hit's margin
    true: dict[int, list[float]] = defaultdict(list)
    false: dict[int, list[float]] = defaultdict(list)

    def margin(hit: Hit) -> float:
        confidence = min(hit.confidence, 1 - 1e-12)
        return -12.0 + scale * float(np.log(confidence / (1 - confidence)))

    minutes = len(quiet) / RATE / 60
    for stream, utterances in streams:
        minutes += len(stream) / RATE / 60
        best: dict[Utterance, float] = {}
        for hit in _recognise(open_recogniser, stream):
            found = _matches(hit.start, hit.phrase.tactic, utterances)
            if found is None:
                false[_length(phones[hit.phrase])].append(margin(hit))
            else:
                best[found] = max(best.get(found, -1e9), margin(hit))
        for utterance in utterances:
            true[_length(phones[utterance.phrase])].append(best.get(utterance, -1e9))
    for hit in _recognise(open_recogniser, quiet):
        false[_length(phones[hit.phrase])].append(margin(hit))
    def thresholds(budget: float) -> list[tuple[int, float]]:
        allowed = int(budget / len(LENGTHS) * minutes)
        chosen = []
        for most in LENGTHS:
            ranked = sorted(false[most], reverse=True)
            # Just above the (allowed + 1)th best false margin, and never below -12.
            chosen.append((most, round(ranked[allowed] + 0.01, 2)
                           if len(ranked) > allowed else -12.0))
        return chosen

    def recall(chosen: list[tuple[int, float]]) -> float:
        kept = sum(1 for most, threshold in chosen for m in true[most] if m >= threshold)
        return round(kept / sum(len(true[most]) for most in LENGTHS), 3)

    chosen = thresholds(FALSE_PER_MINUTE_BUDGET)
    figures: dict[str, Any] = {}
    for most, threshold in chosen:
        figures[f"up_to_{most}_phones"] = {
            "threshold_nats_per_phone": threshold, "utterances": len(true[most]),
            "recall": round(sum(1 for m in true[most] if m >= threshold)
                            / max(1, len(true[most])), 3),
            "false_hits_kept": sum(1 for m in false[most] if m >= threshold)}
    # What other budgets would have given, on the tuning voices.
    trade_off = {f"{budget:g}_per_minute": {"thresholds": thresholds(budget),
                                            "recall": recall(thresholds(budget))}
                 for budget in (0.1, 0.3, 1.0, 3.0)}
    return {"minutes": round(minutes, 1), "budget_per_minute": FALSE_PER_MINUTE_BUDGET,
            "thresholds": chosen, "by_length": figures, "other_budgets": trade_off}


def _spot(spotter: PhraseSpotter, heard: list[Heard], stream: np.ndarray) -> float:
    """Feed ``stream`` as 48 kHz blocks; return the CPU seconds spent."""
    loud = np.clip(resample_poly(stream, MIC_RATE // RATE, 1), -32768, 32767).astype(np.int16)
    heard.clear()
    began = time.process_time()
    for at in range(0, len(loud), BLOCK):
        block = loud[at:at + BLOCK].reshape(-1, 1)
        spotter.feed(AudioBlock(block, MIC_RATE, 1_000_000_000 + round(at * 1e9 / MIC_RATE)))
    spotter.flush()
    return time.process_time() - began


def _report(phrases: Sequence[VerbalPhrase], thresholds: Sequence[tuple[int, float]],
            streams: dict[float | None, tuple[np.ndarray, list[Utterance]]],
            quiet: np.ndarray) -> dict[str, Any]:
    heard: list[Heard] = []
    spotter = PhraseSpotter(PocketsphinxRecogniser(phrases, thresholds=thresholds),
                            on_heard=heard.append)
    cpu = 0.0
    seconds = 0.0
    recall: dict[str, Any] = {}
    stray: dict[str, Any] = {}
    for snr, (stream, utterances) in streams.items():
        cpu += _spot(spotter, heard, stream)
        seconds += len(stream) / RATE
        found: dict[str, list[float]] = defaultdict(list)
        spoken: dict[str, int] = defaultdict(int)
        matched: set[Utterance] = set()
        wrong = 0
        for h in heard:
            start = round((h.start_ns - 1_000_000_000) * RATE / 1e9)
            utterance = _matches(start, h.tactic, utterances)
            if utterance is None or utterance in matched:
                wrong += 1
                continue
            matched.add(utterance)
            found[h.tactic].append(abs(start - utterance.start) / RATE)
        for utterance in utterances:
            spoken[utterance.phrase.tactic] += 1
        recall[_label(snr)] = {
            tactic: {"utterances": count, "recall": round(len(found[tactic]) / count, 3),
                     "median_start_error_ms": round(1000 * float(np.median(found[tactic])))
                     if found[tactic] else None}
            for tactic, count in sorted(spoken.items())}
        recall[_label(snr)]["all"] = {
            "utterances": len(utterances), "recall": round(len(matched) / len(utterances), 3)}
        stray[_label(snr)] = {
            "unmatched_heard": wrong,
            "per_minute": round(wrong / (len(stream) / RATE / 60), 2)}
    cpu += _spot(spotter, heard, quiet)
    seconds += len(quiet) / RATE
    quiet_minutes = len(quiet) / RATE / 60
    by_tactic: dict[str, int] = defaultdict(int)
    for h in heard:
        by_tactic[h.tactic] += 1
    return {
        "recall": recall,
        "false_in_phrase_streams": stray,
        "false_in_background": {
            "minutes": round(quiet_minutes, 1), "heard": len(heard),
            "per_minute": round(len(heard) / quiet_minutes, 2),
            "by_tactic": dict(by_tactic),
            "examples": [f"{h.phrase} at {(h.start_ns - 1e9) / 1e9:.1f} s ({h.confidence})"
                         for h in heard[:5]]},
        "cost": {"audio_seconds": round(seconds, 1), "cpu_seconds": round(cpu, 2),
                 "cpu_seconds_per_audio_second": round(cpu / seconds, 4),
                 "share_of_one_core_percent": round(100 * cpu / seconds, 2)},
    }


def run() -> dict[str, Any]:
    """Tune on some voices, report on others; write bench/results/speech.json."""
    rng = np.random.default_rng(19)
    phrases = phrases_for(default_profile(), ["en"])
    kept = os.environ.get("BENCH_SPEECH_STANDINS")
    if kept:
        scenario = _scenario_sound(Path(kept))
    else:
        with tempfile.TemporaryDirectory() as folder:
            scenario = _scenario_sound(Path(folder))
    quiet_count = round(FALSE_MINUTES * 60 * RATE)
    tuning_quiet = _background(scenario, quiet_count, 0, rng)
    report_quiet = _background(scenario, quiet_count, len(scenario) // 2, rng)
    tuning = [_phrase_stream(phrases, TUNING_VOICES, snr, scenario, rng)
              for snr in TUNING_SNRS_DB]
    tuned = _tune(phrases, tuning, tuning_quiet)
    report_streams = {snr: _phrase_stream(phrases, REPORT_VOICES, snr, scenario, rng)
                      for snr in SNRS_DB}
    figures = {
        "phrases": len(phrases), "speeds_wpm": list(SPEEDS), "tuning_voices": TUNING_VOICES,
        "report_voices": REPORT_VOICES, "scenario_sound_seconds": round(len(scenario) / RATE),
        "tuning": tuned,
        # The recogniser ships the thresholds a run of this benchmark chose.
        "shipped_thresholds": THRESHOLDS,
        "report": _report(phrases, tuned["thresholds"], report_streams, report_quiet),
    }
    write_result("speech", figures, machine())
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
