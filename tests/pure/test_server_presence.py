"""Speech presence: the mouth rests in steady noise and still moves with speech in noise."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model_server.filters import remove_dc
from model_server.pipeline import PredictOptions, predict_tracks
from model_server.presence import HOLD_S, MIN_QUIET_S, quiet_gate, speech_presence

DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo_speech.wav"
FPS = 100.0


def test_presence_holds_around_speech_and_falls_to_zero_away_from_it() -> None:
    speech = np.zeros(300, bool)
    speech[100:120] = True
    p = speech_presence(speech, np.zeros(300, bool), FPS)
    hold = int(HOLD_S * FPS)
    assert np.all(p[100 - hold + 10: 120 + hold - 10] == pytest.approx(1.0, abs=1e-3))
    assert np.all(p[: 100 - hold - 15] < 1e-3) and np.all(p[120 + hold + 15:] < 1e-3)
    assert np.all(np.abs(np.diff(p)) < 0.2), "presence eases, it does not snap"


def test_voicing_alone_counts_as_speech_and_empty_input_works() -> None:
    voiced = np.zeros(100, bool)
    voiced[50] = True
    assert speech_presence(np.zeros(100, bool), voiced, FPS)[50] == pytest.approx(1.0)
    assert speech_presence(np.zeros(0, bool), np.zeros(0, bool), FPS).shape == (0,)


def test_quiet_gate_closes_pauses_at_the_noise_floor_but_not_stop_gaps() -> None:
    energy = np.full(400, -20.0)  # speech at -20 dBFS, a -70 dBFS floor
    energy[:60] = energy[340:] = -70.0  # lead-in and tail
    energy[150:150 + round(MIN_QUIET_S * FPS) + 18] = -66.0  # a pause: 4 dB above the floor
    energy[250:258] = -70.0  # an 80 ms stop closure
    gate = quiet_gate(energy, FPS)
    assert np.all(gate[5:50] < 1e-3) and np.all(gate[159:171] < 1e-2), "pauses rest"
    assert np.all(gate[240:268] > 0.99), "a stop's closure inside a word is not a pause"
    assert np.all(gate[80:130] > 0.99) and np.all(gate[300:330] > 0.99), "speech is untouched"
    assert np.all(np.abs(np.diff(gate)) < 0.3), "the gate eases, it does not snap"


def test_quiet_gate_stays_open_without_a_clear_floor() -> None:
    energy = -30.0 + 5.0 * np.sin(np.arange(300) / 7.0)  # 10 dB of range: speech in loud noise
    assert np.all(quiet_gate(energy, FPS) == 1.0)
    assert quiet_gate(np.zeros(0), FPS).shape == (0,)


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples.astype(np.float32), rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _pink(n: int, seed: int) -> np.ndarray:
    white = np.random.default_rng(seed).standard_normal(n)
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    pink = np.fft.irfft(spectrum, n)
    return pink / np.sqrt(np.mean(pink ** 2))


#: ALSA's channel-test noise (Debian alsa-utils, installed by scripts/install.sh): on this steady noise
#: the acoustic model alone opens the jaw to about 0.15.
ALSA_NOISE = Path("/usr/share/sounds/alsa/Noise.wav")


def test_steady_noise_leaves_the_mouth_at_rest() -> None:
    assert ALSA_NOISE.exists(), "install alsa-utils (scripts/install.sh does)"
    opts = PredictOptions(fps=30.0, blinks=False, prosody=False)
    tracks = predict_tracks(ALSA_NOISE, opts)
    for code in ("AU25", "AU26", "AU27"):
        assert max(tracks.channels[code]) <= 0.1, code
    rate = 16000
    pink = 0.05 * _pink(3 * rate, seed=1)  # about -26 dBFS of room noise, no speech
    assert max(predict_tracks(_wav(pink, rate), opts).channels["AU26"]) <= 0.1


def test_speech_in_noise_still_moves_the_mouth() -> None:
    clean, rate = sf.read(DEMO, dtype="float32")
    rms = float(np.sqrt(np.mean(clean ** 2)))
    noisy = clean + rms / 10 ** (10 / 20) * _pink(clean.size, seed=2)  # 10 dB SNR
    opts = PredictOptions(fps=30.0, blinks=False, prosody=False)
    jaw_clean = np.asarray(predict_tracks(_wav(clean, rate), opts).channels["AU26"])
    jaw_noisy = np.asarray(predict_tracks(_wav(noisy, rate), opts).channels["AU26"])
    assert jaw_noisy.max() > 0.3
    assert np.corrcoef(jaw_clean, jaw_noisy)[0, 1] > 0.8


def test_remove_dc_takes_out_an_offset_and_drift_and_keeps_the_voice() -> None:
    clean, rate = sf.read(DEMO, dtype="float32")
    clean = clean - clean.mean()
    t = np.arange(clean.size) / rate
    offset = 0.07 + 0.02 * np.sin(2 * np.pi * 0.5 * t)  # -23 dBFS, wandering slowly
    out = remove_dc(clean + offset, rate)
    assert out.dtype == np.float32 and out.shape == clean.shape
    second = out[: out.size // rate * rate].reshape(-1, rate)
    assert np.all(np.abs(second.mean(axis=1)) < 2e-3), "no offset left in any second"
    residual = out - clean
    assert np.sqrt(np.mean(residual ** 2)) < 0.03 * np.sqrt(np.mean(clean ** 2)), "the voice passes"
    for hz in (80.0, 150.0, 1000.0):  # zero phase: a tone comes out in place, at full height
        tone = np.sin(2 * np.pi * hz * t).astype(np.float32)
        inner = slice(rate, -rate)
        assert np.max(np.abs(remove_dc(tone, rate)[inner] - tone[inner])) < 0.03, hz
    assert remove_dc(np.zeros(0), rate).shape == (0,)
    short = np.full(50, 0.3, np.float32)
    assert np.allclose(remove_dc(short, rate), 0.0), "too short for a running mean: the mean goes"


def test_a_dc_offset_does_not_freeze_the_mouth() -> None:
    """A recording with a -23 dBFS offset (a cheap microphone; some of the dev set's telephone prompts)
    has no frame near silence, so the level gates used to see neither speech nor pauses: a still face."""
    clean, rate = sf.read(DEMO, dtype="float32")
    opts = PredictOptions(fps=30.0, blinks=False, prosody=False)
    jaw_clean = np.asarray(predict_tracks(_wav(clean, rate), opts).channels["AU26"])
    jaw_offset = np.asarray(predict_tracks(_wav(clean + 0.07, rate), opts).channels["AU26"])
    assert jaw_offset.max() > 0.3
    assert np.corrcoef(jaw_clean, jaw_offset)[0, 1] > 0.95


def test_a_tightly_trimmed_line_keeps_its_speech() -> None:
    """A line cut to its loud part with a 120 ms lead-in and tail of room tone (-60 dBFS): under a tenth of
    the clip is quiet, so the 10th percentile of its levels lies inside the speech. The speech flag measured
    from it dropped half the speech frames and held the mouth shut through them; measured from the quietest
    100 ms stretch, every frame within 20 dB of the loud level is speech."""
    from model_server import prosody

    clean, rate = sf.read(DEMO, dtype="float32")
    level = prosody.frame_energy_db(clean, -(-clean.size // prosody.HOP))
    loud = float(np.percentile(level, 95))
    keep = np.repeat(level > loud - 15.0, prosody.HOP)[: clean.size]
    tone = 0.001 * np.random.default_rng(3).standard_normal(int(0.12 * rate)).astype(np.float32)
    line = np.concatenate([tone, clean[keep], tone])
    n = -(-line.size // prosody.HOP)
    track = prosody.analyse(line, n)
    assert np.percentile(track.energy_db, 10) > loud - 20.0, "the 10th percentile is speech here"
    body = track.energy_db > loud - 20.0
    assert body.mean() > 0.9
    presence = speech_presence(track.speech, track.voiced, FPS)
    assert np.all(presence[body] >= 0.5)
    assert np.all(presence[:3] < 0.5) and np.all(presence[-3:] < 0.5), "the room tone is not speech"


def test_a_quiet_recording_moves_the_mouth_like_a_loud_one() -> None:
    """The acoustic model's features are level-normalised; the gates around it must not undo that. A line
    recorded 30 dB down (peaks at -31 dBFS) kept 0.78 of its jaw movement under the fixed -60 dBFS energy
    gate and -55 dBFS speech floor. Steady noise at that level still rests (the floor-relative gates)."""
    clean, rate = sf.read(DEMO, dtype="float32")
    opts = PredictOptions(fps=30.0, blinks=False, prosody=False)
    jaw = np.asarray(predict_tracks(_wav(clean, rate), opts).channels["AU26"])
    quiet = np.asarray(predict_tracks(_wav(clean * 10 ** (-30 / 20), rate), opts).channels["AU26"])
    assert np.corrcoef(jaw, quiet)[0, 1] > 0.99
    assert 0.95 < quiet.mean() / jaw.mean() < 1.05
    noise = 0.05 * 10 ** (-30 / 20) * _pink(3 * rate, seed=4)  # room tone 30 dB down, no speech
    assert max(predict_tracks(_wav(noise, rate), opts).channels["AU26"]) <= 0.1
