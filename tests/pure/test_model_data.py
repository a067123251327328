"""Training data: engine timing parsers, segmentation, espeak-ng through ctypes, augmentation."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from model_server.features import SAMPLE_RATE
from model_training.augment import (
    CHANNELS,
    _lpc,
    augment,
    channel,
    formant_shift,
    room_impulse_response,
    speed,
)
from model_training.corpus_build import RESERVED_SPEAKERS, Clip, to_clip, write_clips
from model_training.festival_gen import read_segs, segments_from_ends
from model_training.flite_gen import parse_psdur
from model_training.piper_gen import merge_alignments
from model_training.timing import TimedSpeech


def test_flite_and_festival_timings_parse(tmp_path: Path) -> None:
    assert parse_psdur("pau:0.273 b:0.340 aa:0.457 hh:0.5\n") == [("_", 0.273), ("b", 0.34), ("ɑ", 0.457),
                                                                  ("h", 0.5)]
    segs = tmp_path / "x.segs"
    segs.write_text("#\n0.2200 100 pau\n0.3127 100 b\n0.4322 100 aa\n")
    pairs = read_segs(segs)
    assert pairs == [("_", 0.22), ("b", 0.3127), ("ɑ", 0.4322)]
    assert segments_from_ends(pairs, 1000, 500) == [("_", 0, 220), ("b", 220, 313), ("ɑ", 313, 432)]


def test_piper_symbols_merge_into_phones() -> None:
    merged = merge_alignments(["^", "ˈ", "a", "ː", " ", "b", ",", " ", "$"], [5, 1, 10, 2, 3, 7, 20, 1, 4])
    assert merged == [("_", 5), ("aː", 16), ("b", 7), ("_", 25)]


def test_segmentation_is_contiguous_and_silence_overrides() -> None:
    audio = np.ones(1000, np.float32)
    audio[600:900] = 0.0
    speech = TimedSpeech.from_segments(audio, 1000, [("a", 100, 500), ("m", 500, 950)], silences=[(600, 900)])
    assert speech.phones == ["_", "a", "m", "_", "m", "_"]  # gaps and known silences become pauses
    np.testing.assert_allclose(speech.starts_s[1:], speech.ends_s[:-1])
    assert speech.starts_s[0] == 0.0 and speech.ends_s[-1] == 1.0


@pytest.mark.skipif(not Path("/usr/lib/x86_64-linux-gnu/libespeak-ng.so.1").exists()
                    and shutil.which("espeak-ng") is None, reason="espeak-ng is a Debian dependency")
def test_espeak_ctypes_gives_timed_ipa_phones() -> None:
    from model_training.espeak_gen import EspeakEngine, EspeakVoice

    engine = EspeakEngine()
    speech = engine.synthesize("Bob made a map.", EspeakVoice("en-us", "m1"))
    assert speech.sample_rate == 22050
    assert {"b", "m", "p"} <= set(speech.phones)
    assert np.all(np.diff(speech.starts_s) > 0)
    assert abs(speech.ends_s[-1] - speech.duration_s) < 1e-9
    with pytest.raises(ValueError, match="no voice"):
        engine.synthesize("x", EspeakVoice("xx-nonexistent"))
    clip = to_clip(speech, random.Random(0), {"speaker": "espeak:m1"})
    assert clip.phones[0] == "_" and clip.phones[-1] == "_"
    assert abs(clip.ends_s[-1] - len(clip.audio) / SAMPLE_RATE) < 1e-9


def test_reserved_speakers_are_refused(tmp_path: Path) -> None:
    assert {"slt", "rms", "bdl", "clb"} <= RESERVED_SPEAKERS
    clip = Clip(np.zeros(10, np.int16), ["_"], np.array([0.0]), np.array([0.1]), {"speaker": "flite:slt"})
    with pytest.raises(RuntimeError, match="reserved"):
        write_clips(tmp_path / "c.pkl", iter([clip]))


def test_augmentation_keeps_labels_aligned() -> None:
    rng = np.random.default_rng(0)
    audio = (0.3 * np.sin(np.arange(SAMPLE_RATE) * 0.05)).astype(np.float32)
    fast = speed(audio, 1.25)
    assert abs(len(fast) - SAMPLE_RATE / 1.25) <= 2
    rir = room_impulse_response(rng, 0.5)
    assert rir[0] == 1.0 and np.argmax(np.abs(rir)) == 0  # direct path first: no label delay
    for seed in range(5):
        out, scale = augment(audio, np.random.default_rng(seed))
        assert abs(len(out) - len(audio) * scale) <= 2
        assert np.all(np.isfinite(out)) and np.abs(out).max() <= 1.0


def test_codec_channels_keep_length_and_timing_and_cut_the_band() -> None:
    vowel = _vowel(140.0, (700.0, 1200.0, 2600.0, 5000.0))  # a formant above the 4 kHz telephone band
    high = np.fft.rfftfreq(len(vowel), 1 / SAMPLE_RATE) > 4200
    for name, rate, *_ in CHANNELS:
        out = channel(vowel, name)
        assert out.shape == vowel.shape and out.dtype == np.float32 and np.all(np.isfinite(out)), name
        assert np.array_equal(out, channel(vowel, name)), f"{name} is deterministic"
        xc = [float(np.dot(vowel[2000:14000], out[2000 + k:14000 + k])) for k in range(-40, 41)]
        assert abs(int(np.argmax(xc)) - 40) <= 24, f"{name}: labels need no shift"
        spectrum = np.abs(np.fft.rfft(out)) ** 2
        if rate == 8000:
            assert spectrum[high].sum() < 1e-3 * spectrum.sum(), f"{name}: nothing above the 4 kHz band"
        assert not np.allclose(out, vowel, atol=1e-3), f"{name} changes the audio"


def test_codec_channels_only_in_recipes_that_ask_for_them() -> None:
    audio = (0.3 * np.sin(np.arange(SAMPLE_RATE) * 0.05)).astype(np.float32)
    old: list[str] = []
    for seed in range(30):
        augment(audio, np.random.default_rng(seed), applied=old)
    assert "telephone" in old and not any(s.startswith("channel=") for s in old)
    named: list[str] = []
    for seed in range(20):
        augment(audio, np.random.default_rng(seed), applied=named, channel_share=1.0)
    assert {s for s in named if s.startswith("channel=")} >= {"channel=gsm", "channel=g722"}
    assert "telephone" not in named, "with codecs the telephone band is one of the channels"


def test_channel_weights_pick_the_codecs_and_leave_older_recipes_alone() -> None:
    """Weighted channel odds (recipe v21: GSM favoured) choose by their weights; without weights the chain
    draws the same random numbers as before they existed, so v14-v20's frames stay the same."""
    from model_training.augment import CHANNELS
    from model_training.recipe import RECIPES

    audio = (0.3 * np.sin(np.arange(SAMPLE_RATE // 4) * 0.05)).astype(np.float32)
    only_gsm: list[str] = []
    for seed in range(12):
        augment(audio, np.random.default_rng(seed), applied=only_gsm, channel_share=1.0,
                channel_weights=(1.0, 0.0, 0.0, 0.0))
    assert {s for s in only_gsm if s.startswith("channel=")} == {"channel=gsm"}
    for seed in range(6):
        plain, _ = augment(audio, np.random.default_rng(seed), channel_share=0.35)
        unweighted, _ = augment(audio, np.random.default_rng(seed), channel_share=0.35, channel_weights=())
        assert np.array_equal(plain, unweighted)
    v21 = RECIPES["v21"]
    assert len(v21.channel_weights) == len(CHANNELS) and v21.channel_weights[0] == max(v21.channel_weights)
    assert CHANNELS[0][0] == "gsm" and RECIPES["v16"].channel_weights == ()
    changed = ("name", "channel_share", "channel_weights")
    assert {k: v for k, v in vars(v21).items() if k not in changed} == \
        {k: v for k, v in vars(RECIPES["v16"]).items() if k not in changed}


def _vowel(f0: float, formants: tuple[float, ...]) -> np.ndarray:
    """One second of a synthetic vowel: a pulse train through second-order resonators."""
    from scipy.signal import lfilter

    x = np.zeros(SAMPLE_RATE)
    x[:: round(SAMPLE_RATE / f0)] = 1.0
    for f in formants:
        r, th = np.exp(-np.pi * 90 / SAMPLE_RATE), 2 * np.pi * f / SAMPLE_RATE
        x = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], x)
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


def _pitch_hz(y: np.ndarray) -> float:
    y = y[:4000] - y[:4000].mean()
    ac = np.correlate(y, y, "full")[len(y) - 1:]
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    return SAMPLE_RATE / (lo + int(np.argmax(ac[lo:hi])))


def _envelope(y: np.ndarray) -> np.ndarray:
    """LPC polynomial of one Hann-windowed 32 ms frame a quarter second in."""
    a = _lpc(y[4000:4512].astype(np.float64) * np.hanning(512), 18)
    assert a is not None
    return a


def _formants_hz(y: np.ndarray) -> np.ndarray:
    roots = np.roots(_envelope(y))
    return np.sort(np.angle(roots[roots.imag > 0]) * SAMPLE_RATE / (2 * np.pi))


@pytest.mark.parametrize("factor", [0.86, 1.2])
def test_formant_shift_moves_formants_and_keeps_pitch(factor: float) -> None:
    vowel = _vowel(125.0, (700.0, 1200.0, 2600.0))
    out = formant_shift(vowel, factor)
    assert len(out) == len(vowel) and np.all(np.isfinite(out))
    assert _pitch_hz(out) == pytest.approx(125.0, rel=0.02)
    before, after = _formants_hz(vowel), _formants_hz(out)
    # The strongest resonances (lowest three poles of the envelope) move by the factor, within 8 %.
    ratio = after[:3].mean() / before[:3].mean()
    assert ratio == pytest.approx(factor, rel=0.08)


def _envelope_peak_hz(y: np.ndarray, lo: float, hi: float) -> float:
    """Frequency of the LPC envelope's maximum between ``lo`` and ``hi`` Hz."""
    from scipy.signal import freqz

    f, h = freqz([1.0], _envelope(y), worN=4096, fs=SAMPLE_RATE)
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(np.abs(h[band]))])


def test_formant_warp_moves_each_formant_by_its_own_factor() -> None:
    vowel = _vowel(125.0, (700.0, 1200.0, 3400.0))
    # knots 0, 800, 1800, 3000, 4500, 8000 Hz: F1 (700 Hz) rises 15 %, F3 (3400 Hz) falls 10 %
    out = formant_shift(vowel, np.array([1.15, 1.15, 1.0, 0.9, 0.9, 0.9]))
    assert _pitch_hz(out) == pytest.approx(125.0, rel=0.02)
    f1 = _envelope_peak_hz(out, 500, 1000) / _envelope_peak_hz(vowel, 500, 1000)
    f3 = _envelope_peak_hz(out, 2800, 4000) / _envelope_peak_hz(vowel, 2800, 4000)
    assert f1 == pytest.approx(1.15, rel=0.04)
    assert f3 == pytest.approx(0.9, rel=0.04)


def test_an_espeak_crash_costs_one_utterance() -> None:
    from model_training.espeak_gen import EspeakVoice, IsolatedEspeak

    engine = IsolatedEspeak()
    try:
        ok = engine.synthesize("Luna verde.", EspeakVoice("es", "m1"))
        assert ok is not None and ok.phones
        # libespeak-ng 1.51 (Debian) dies with SIGSEGV on this exact input
        text = "Pluma agua gato perro casa, nueve cuatro. Luna, mamá verde nueve malo silla tú."
        crash = engine.synthesize(text, EspeakVoice("es", "rob", rate_wpm=151, pitch=22, pitch_range=90))
        assert crash is None and engine.crashes == 1
        engine._proc.kill()  # a child that died between calls is replaced too
        engine._proc.join()
        assert engine.synthesize("Luna verde.", EspeakVoice("es", "m1")) is None and engine.crashes == 2
        again = engine.synthesize("Luna verde.", EspeakVoice("es", "m1"))
        assert again is not None and np.array_equal(again.audio, ok.audio)
    finally:
        engine.close()
