"""The server runtime's numpy stages equal the librosa/scipy implementations they replaced.

Inside Blender only numpy comes free, so the bundled server computes the mel filterbank, the FFTs and
the 1-D filters in numpy. The previous implementations (librosa's Slaney filterbank, scipy.fft in single
precision, scipy.ndimage filters) are written out here as references; scipy and librosa stay in the
development environment for this comparison only.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")
scipy_fft = pytest.importorskip("scipy.fft")
ndimage = pytest.importorskip("scipy.ndimage")

from model_server import features, prosody  # noqa: E402
from model_server.decode import decode_audio  # noqa: E402
from model_server.filters import gaussian_smooth1d, moving_max  # noqa: E402

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[2]
ALSA = sorted(glob.glob("/usr/share/sounds/alsa/*.wav"))
CLIPS = [*ALSA, str(ROOT / "assets" / "demo_speech.wav")]


def _reference_log_mel(audio: np.ndarray) -> np.ndarray:
    """model_server.features.log_mel as it was with librosa and scipy.fft (single precision)."""
    basis = librosa.filters.mel(sr=features.SAMPLE_RATE, n_fft=features.N_FFT, n_mels=features.N_MELS,
                                fmin=features.FMIN_HZ, fmax=features.FMAX_HZ).T.astype(np.float32)
    window = np.hanning(features.N_FFT + 1)[:-1].astype(np.float32)
    audio = np.asarray(audio, np.float32)
    t = features.n_frames(len(audio))
    padded = np.zeros((t - 1) * features.HOP_LENGTH + features.N_FFT, np.float32)
    padded[features.N_FFT // 2:features.N_FFT // 2 + len(audio)] = audio
    frames = np.lib.stride_tricks.sliding_window_view(padded, features.N_FFT)[::features.HOP_LENGTH][:t]
    spec = scipy_fft.rfft(frames * window, axis=1)
    mel_db = 10.0 * np.log10((spec.real ** 2 + spec.imag ** 2) @ basis + 1e-10)
    ref = max(float(np.percentile(mel_db.max(axis=1), 95)), features.MIN_REF_DB)
    return (np.maximum(mel_db - ref, -features.FLOOR_DB) / 20.0).astype(np.float32)


def _clip(path: str) -> np.ndarray:
    return decode_audio(Path(path).read_bytes()).samples


def test_mel_filterbank_is_librosas_slaney_filterbank() -> None:
    ours = features.mel_filterbank()
    theirs = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=40.0, fmax=7600.0)
    assert ours.shape == theirs.shape == (64, 257)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)
    other = features.mel_filterbank(sample_rate=22050, n_fft=1024, n_mels=80, fmin_hz=0.0, fmax_hz=11025.0)
    np.testing.assert_allclose(other, librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80), rtol=0,
                               atol=1e-7)


@pytest.mark.parametrize("path", CLIPS, ids=lambda p: Path(p).name)
def test_log_mel_equals_the_librosa_scipy_features_within_1e4(path: str) -> None:
    audio = _clip(path)
    ours, theirs = features.log_mel(audio), _reference_log_mel(audio)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert float(np.abs(ours - theirs).max()) < 1e-4


def test_log_mel_on_noise_silence_and_tiny_inputs() -> None:
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(16000 * 3) * 0.2).astype(np.float32)
    audio[10000:20000] = 0.0
    for x in (audio, audio[:1], audio[:161], np.zeros(4000, np.float32)):
        assert float(np.abs(features.log_mel(x) - _reference_log_mel(x)).max()) < 1e-4


def test_acoustic_model_outputs_unchanged_on_a_real_voice() -> None:
    from model_server.acoustic import AcousticModel

    model = AcousticModel.load(device="cpu")
    audio = _clip(ALSA[0] if ALSA else CLIPS[-1])
    ours, _ = model.predict_features(features.log_mel(audio))
    theirs, _ = model.predict_features(_reference_log_mel(audio))
    assert float(np.abs(ours - theirs).max()) < 1e-3


def _reference_pitch(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """prosody._pitch as it was with scipy.fft in single precision."""
    window, win_ac = prosody._pitch_constants()
    lag_min = int(prosody.PITCH_RATE / prosody.F0_MAX_HZ)
    lag_max = int(prosody.PITCH_RATE / prosody.F0_MIN_HZ)
    buf = np.zeros((frames.shape[0], prosody.NFFT), np.float32)
    buf[:, :prosody.PITCH_WIN] = (frames - frames.mean(axis=1, keepdims=True)) * window
    spec = scipy_fft.rfft(buf, axis=1)
    ac = scipy_fft.irfft(spec * spec.conj(), prosody.NFFT, axis=1)[:, :lag_max + 2]
    ac = ac / (np.maximum(ac[:, :1], 1e-12) * win_ac[None, :])
    rows = np.arange(ac.shape[0])
    lag = np.argmax(ac[:, lag_min:lag_max + 1], axis=1) + lag_min
    peak, left, right = ac[rows, lag], ac[rows, lag - 1], ac[rows, lag + 1]
    denom = left - 2 * peak + right
    ok = np.abs(denom) > 1e-9
    shift = np.where(ok, 0.5 * (left - right) / np.where(ok, denom, 1.0), 0.0)
    return prosody.PITCH_RATE / (lag + np.clip(shift, -0.5, 0.5)), peak


@pytest.mark.parametrize("path", CLIPS, ids=lambda p: Path(p).name)
def test_pitch_equals_the_scipy_fft_pitch(path: str) -> None:
    audio = _clip(path)
    frames = prosody._pitch_windows(audio, features.n_frames(len(audio)), 16000)
    f0, clarity = prosody._pitch(frames)
    ref_f0, ref_clarity = _reference_pitch(frames)
    np.testing.assert_allclose(clarity, ref_clarity, atol=1e-4)
    clear = ref_clarity > 0.3  # where a pitch is reported at all
    np.testing.assert_allclose(f0[clear], ref_f0[clear], rtol=1e-3)


@pytest.mark.parametrize("mode", ["constant", "nearest"])
def test_moving_max_equals_scipy_maximum_filter1d(mode: str) -> None:
    rng = np.random.default_rng(1)
    for shape, axis in (((997,), 0), ((300, 24), 0), ((5, 2), 0), ((4, 90), 1)):
        x = rng.random(shape).astype(np.float32)
        for size in (1, 2, 3, 8, 51):
            expected = ndimage.maximum_filter1d(x, size, axis=axis, mode=mode)
            np.testing.assert_array_equal(moving_max(x, size, mode, axis), expected)


@pytest.mark.parametrize("mode", ["constant", "nearest"])
def test_gaussian_smooth_equals_scipy_gaussian_filter1d(mode: str) -> None:
    rng = np.random.default_rng(2)
    for shape, axis in (((997,), 0), ((300, 24), 0), ((6, 3), 0), ((4, 90), 1)):
        x = rng.random(shape).astype(np.float32)
        for sigma in (0.3, 1.0, 2.85, 6.6, 34.0):
            expected = ndimage.gaussian_filter1d(x, sigma, axis=axis, mode=mode, truncate=4.0)
            got = gaussian_smooth1d(x, sigma, axis, mode)
            assert got.dtype == x.dtype
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_server_runtime_imports_no_scipy_librosa_or_torch() -> None:
    """The bundled server must run where only numpy and the bundled wheels exist."""
    import subprocess
    import sys

    clip = CLIPS[0]
    code = ("import sys, pathlib, model_server.service, model_server.cli, model_server.predict; "
            "from model_server.pipeline import predict_tracks; "
            "from model_server.pipeline import PredictOptions; "
            f"tracks = predict_tracks(pathlib.Path({clip!r}).read_bytes()); assert tracks.frame_count > 10; "
            f"tracks = predict_tracks(pathlib.Path({clip!r}).read_bytes(), "  # dialog mode too
            "PredictOptions(transcript='Maybe we should meet.')); "
            "assert tracks.meta['dialog']['transcript']; "
            "bad = sorted(m for m in ('scipy', 'librosa', 'torch', 'sklearn', 'numba', 'model_training') "
            "if m in sys.modules); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"server modules import {done.stdout.strip()} {done.stderr[-2000:]}"
