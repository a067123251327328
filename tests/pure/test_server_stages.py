"""Pure stages of the model server: resampling, upper-face layer, emotion zones, tracks, landmarks, auth."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from au_contract import (
    AU_CODES,
    BLEND_WEIGHT_DEFAULT,
    CLOSURE_AUS,
    EMOTION_PROTOTYPES,
    EMOTIONS,
    ONE_SIDED,
    PROSODY_CAP_DEFAULT,
)
from au_contract import basis as landmarks
from au_contract.tracks import TrackFormatError, TrackSet
from au_contract.zone_rules import CLOSURE_GAIN, au_channels, evaluate_rules
from model_server import auth, emotion, prosody, resample
from model_server.decode import AudioError, decode_audio
from model_server.pipeline import PredictOptions, predict_tracks
from model_server.upper_face import UpperFaceOptions, upper_face

DEMO_WAV = Path(__file__).resolve().parents[2] / "assets" / "demo_speech.wav"


def sine_tracks(freq_hz: float, seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(seconds * 100)) / 100.0
    return (0.5 + 0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)[:, None]


@pytest.mark.parametrize("fps", [24.0, 25.0, 29.97, 30.0])
def test_resample_removes_what_would_alias_and_keeps_speech_rates(fps: float) -> None:
    n = resample.frame_count(10.0, fps)
    for freq in (fps / 2 * 1.05, fps / 2 * 1.5, 45.0):  # above the target Nyquist: would alias
        out = resample.resample_tracks(sine_tracks(freq), fps, n)
        assert np.std(out[10:-10]) < 0.1 * np.std(sine_tracks(freq)), freq
    slow = resample.resample_tracks(sine_tracks(2.0), fps, n)  # a syllable-rate movement survives
    assert np.std(slow[10:-10]) > 0.85 * np.std(sine_tracks(2.0))
    assert slow.min() >= 0 and slow.max() <= 1 and slow.shape == (n, 1)


def test_resample_frame_times_and_fractional_counts() -> None:
    assert resample.frame_count(10.0, 29.97) == 300 and resample.frame_count(1.0, 29.97) == 30
    assert resample.frame_count(0.0001, 30) == 1
    ramp = np.linspace(0, 1, 1001, dtype=np.float32)[:, None]  # value = time / 10 s
    out = resample.resample_tracks(ramp, 29.97, 300)
    times = np.arange(300) / 29.97
    assert np.allclose(out[5:-5, 0], times[5:-5] / 10.0, atol=2e-3)
    with pytest.raises(ValueError):
        resample.resample_tracks(ramp, float("nan"), 3)
    with pytest.raises(ValueError):
        resample.resample_tracks(ramp, 30, 3, smoothing=1.5)


def speechlike(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Voiced syllables with a pitch contour and pauses, 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t) + 40 * np.exp(-((t % 2.0) - 0.6) ** 2 / 0.01)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, 1) * ((t % 2.0) < 1.5)
    return (0.2 * voice * syllables + rng.normal(0, 1e-4, t.size)).astype(np.float32)


def test_prosody_finds_pitch_pauses_and_accents() -> None:
    audio = speechlike()
    n = -(-audio.size // 160)
    track = prosody.analyse(audio, n)
    voiced_f0 = track.f0_hz[track.voiced]
    assert voiced_f0.size > 100 and 90 < np.median(voiced_f0) < 180
    bounds = prosody.phrase_boundaries(track.speech)
    assert any(abs(b - 150) < 15 for b in bounds), bounds  # pauses start at 1.5 s, 3.5 s, 5.5 s
    frames, strengths = prosody.pitch_accents(track)
    assert frames.size >= 2 and np.all((strengths >= 0) & (strengths <= 1))
    assert any(abs(f % 200 - 60) < 15 for f in frames), frames  # the pitch peak of each phrase at 0.6 s


def test_prosody_without_pitch_keeps_energy_and_speech_and_the_speech_gate() -> None:
    from model_server.presence import speech_presence

    audio = speechlike(seed=3)
    n = -(-audio.size // 160)
    full, fast = prosody.analyse(audio, n), prosody.analyse(audio, n, pitch=False)
    np.testing.assert_array_equal(full.energy_db, fast.energy_db)
    np.testing.assert_array_equal(full.speech, fast.speech)
    assert full.voiced.any() and not fast.voiced.any() and not fast.f0_hz.any()
    assert not np.any(full.voiced & ~full.speech)  # voiced frames are speech frames, so the gate is the same
    np.testing.assert_array_equal(speech_presence(full.speech, full.voiced, 100.0),
                                  speech_presence(fast.speech, fast.voiced, 100.0))


def test_blink_statistics_over_a_long_clip() -> None:
    n = 100 * 600  # ten minutes of silence: the blink process alone
    face = upper_face(np.zeros(n * 160, np.float32), n, UpperFaceOptions(seed=1))
    onsets = np.array(face.blink_times_s)
    rate_per_min = onsets.size / 10.0
    assert 12 <= rate_per_min <= 26, rate_per_min
    intervals = np.diff(onsets)
    assert intervals.min() >= 0.2 and np.mean(intervals) > np.median(intervals), "right-skewed"
    durations = [e.end_s - e.start_s for e in face.events if e.kind == "blink"]
    assert min(durations) >= 0.1 and max(durations) <= 0.4 and 0.15 < np.median(durations) < 0.3
    assert not any(e.kind == "closure" for e in face.events), "long closures only at phrase ends"


def test_more_blinks_at_phrase_boundaries_and_seeded() -> None:
    audio = speechlike(60.0)
    n = -(-audio.size // 160)
    track = prosody.analyse(audio, n)
    bounds = prosody.phrase_boundaries(track.speech) / 100.0
    near = total = 0
    for seed in range(20):
        onsets = np.array(upper_face(audio, n, UpperFaceOptions(seed=seed), track=track).blink_times_s)
        total += onsets.size
        near += sum(np.any((o - bounds >= 0) & (o - bounds < 0.25)) for o in onsets)
    window_share = bounds.size * 0.25 / 60.0  # share of time within 250 ms after a boundary
    assert near / total > 3 * window_share, (near, total, window_share)
    a = upper_face(audio, n, UpperFaceOptions(seed=5), track=track).render(np.arange(1800) / 30)
    b = upper_face(audio, n, UpperFaceOptions(seed=5), track=track).render(np.arange(1800) / 30)
    c = upper_face(audio, n, UpperFaceOptions(seed=6), track=track).render(np.arange(1800) / 30)
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.array_equal(a["AU45"], c["AU45"])
    no_prosody = upper_face(audio, n, UpperFaceOptions(seed=5, prosody=False), track=track)
    assert np.array_equal(no_prosody.render(np.arange(1800) / 30)["AU45"], a["AU45"]), "independent streams"


def test_brow_raises_capped_and_rendered_blinks_close_fully() -> None:
    audio = speechlike(20.0)
    n = -(-audio.size // 160)
    face = upper_face(audio, n, UpperFaceOptions(seed=2))
    assert face.accent_times_s
    for fps in (24.0, 29.97):
        tracks = face.render(np.arange(int(20 * fps)) / fps, snap_fps=fps)
        assert 0 < tracks["AU01"].max() <= PROSODY_CAP_DEFAULT + 1e-6
        assert tracks["AU02"].max() <= tracks["AU01"].max()
        peaks = [e.amplitude for e in face.events if e.kind == "blink"]
        assert tracks["AU45"].max() >= max(peaks) - 1e-6


def test_emotion_names_and_strengths() -> None:
    assert emotion.strengths("happiness", 0.5) == {"HAPPINESS": 0.5}
    assert emotion.strengths("NEUTRAL", 1.0) == {}
    assert emotion.one_sided("contempt") == "L"
    for bad in (("HAPPY", 1.0), ("SADNESS", 1.5), ("SADNESS", float("nan"))):
        with pytest.raises(emotion.EmotionError):
            emotion.strengths(*bad)


@pytest.fixture(scope="module")
def demo_neutral() -> TrackSet:
    return predict_tracks(DEMO_WAV, PredictOptions(fps=30.0, seed=4))


@pytest.mark.parametrize("name", [e for e in EMOTIONS if e != "NEUTRAL"])
def test_pipeline_mixes_emotion_with_the_contract_rules(demo_neutral: TrackSet, name: str) -> None:
    """The server's emotion tracks are the zone rules (the rig's formulas) applied to its neutral tracks."""
    tracks = predict_tracks(DEMO_WAV, PredictOptions(fps=30.0, seed=4, emotion=name.lower(), strength=0.6))
    neutral = demo_neutral.matrix()
    keys = evaluate_rules(neutral, {name: 0.6})
    np.testing.assert_allclose(tracks.matrix(), au_channels(keys), atol=1e-6)
    basis = landmarks.load_basis()
    assert tracks.landmarks is not None
    np.testing.assert_allclose(tracks.landmarks.frames, basis.evaluate_keys(keys), atol=1e-7)
    assert tracks.meta["emotion"] == {"name": name, "strength": 0.6, "one_sided": ONE_SIDED.get(name)}
    assert np.abs(tracks.matrix() - neutral).max() > 0.1, "the emotion shows"


def test_pipeline_emotion_keeps_closures_and_blends_the_smile(demo_neutral: TrackSet) -> None:
    neutral = demo_neutral.channels
    closed = np.max([neutral[c] for c in CLOSURE_AUS], axis=0) >= 1.0 / CLOSURE_GAIN
    assert closed.sum() >= 3, "the demo clip has bilabial closures"
    surprise = predict_tracks(DEMO_WAV, PredictOptions(fps=30.0, seed=4, emotion="SURPRISE"))
    np.testing.assert_allclose(surprise.channels["AU26"][closed], neutral["AU26"][closed], atol=1e-6)
    assert np.all(surprise.channels["AU26"][~closed] >= neutral["AU26"][~closed] - 1e-6)
    happy = predict_tracks(DEMO_WAV, PredictOptions(fps=30.0, seed=4, emotion="HAPPINESS", strength=0.5))
    a, w = neutral["AU12"], BLEND_WEIGHT_DEFAULT
    np.testing.assert_allclose(happy.channels["AU12"], a + (0.5 * EMOTION_PROTOTYPES["HAPPINESS"]["AU12"]
                                                            - 0.5 * a) * w, atol=1e-6)


def full_tracks(n: int = 4) -> TrackSet:
    rng = np.random.default_rng(0)
    channels = {c: rng.random(n).astype(np.float32) for c in AU_CODES}
    basis = landmarks.load_basis()
    frames = basis.evaluate(np.stack([channels[c] for c in AU_CODES], 1))
    return TrackSet(fps=29.97, frame_count=n, duration_s=n / 29.97, channels=channels,
                    landmarks=landmarks_block(frames, basis.head_size_m), meta={"seed": 1})


def landmarks_block(frames: np.ndarray, head: float):  # type: ignore[no-untyped-def]
    from au_contract.tracks import Landmarks

    return Landmarks(frames=frames, head_size_m=head)


def test_tracks_json_round_trip_and_validation() -> None:
    tracks = full_tracks()
    back = TrackSet.from_json(tracks.to_json())
    assert back.fps == 29.97 and back.frame_count == 4 and back.meta == {"seed": 1}
    assert np.allclose(back.matrix(), tracks.matrix(), atol=1e-4)
    assert np.allclose(back.landmarks.frames, tracks.landmarks.frames, atol=1e-5)
    doc = tracks.to_dict()
    del doc["channels"]["AU12"]
    with pytest.raises(TrackFormatError, match="AU12"):
        TrackSet.from_dict(doc)
    doc = tracks.to_dict()
    doc["channels"]["AU26"][0] = 1.5
    with pytest.raises(TrackFormatError, match="AU26"):
        TrackSet.from_dict(doc)
    with pytest.raises(TrackFormatError):
        TrackSet.from_json(b"not json")
    with pytest.raises(TrackFormatError, match="schema"):
        TrackSet.from_dict({**tracks.to_dict(), "schema": "au-tracks/2"})


def test_landmark_basis_is_linear_and_format_checked(tmp_path: Path) -> None:
    basis = landmarks.load_basis()
    zero = basis.evaluate(np.zeros((1, len(AU_CODES)), np.float32))[0]
    assert np.allclose(zero, basis.neutral)
    jaw = np.zeros((2, len(AU_CODES)), np.float32)
    jaw[1, AU_CODES.index("AU26")] = 1.0
    out = basis.evaluate(jaw)
    assert out[1, 8, 2] < out[0, 8, 2], "the jaw drop lowers the chin (Z up)"
    assert 0.05 < float(np.ptp(basis.neutral[:, 0])) < 0.3, "metres, a human face's width"
    good = dict(np.load(landmarks.DEFAULT_BASIS_PATH))
    sides = good["sides"].tolist()
    assert sides[:3] == ["", "L", "R"], "AU01 is unsided, AU02 sided"
    cases = {"missing": {k: v for k, v in good.items() if k != "basis"},
             "old per-AU file": {k: v for k, v in good.items() if k != "sides"},
             "shape": {**good, "neutral": np.zeros((67, 3), np.float32)},
             "unknown AU": {**good, "au_codes": np.array(["AU99", *list(good["au_codes"][1:])])},
             "unsided AU with a side": {**good, "sides": np.array(["L", *sides[1:]])},
             "sided AU without a side": {**good, "sides": np.array(["", "", *sides[2:]])},
             "duplicate key": {**good, "sides": np.array(["", "L", "L", *sides[3:]])},
             "nan": {**good, "basis": np.full_like(good["basis"], np.nan)},
             "head": {**good, "head_size": np.float32(-1)}}
    for name, arrays in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        with pytest.raises(landmarks.BasisFormatError):
            landmarks.load_basis(path)
    with pytest.raises(landmarks.BasisFormatError, match="missing"):
        landmarks.load_basis(tmp_path / "nope.npz")


def test_token_file_created_0600_env_override_and_checks(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(auth.TOKEN_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = auth.token_path()
    assert path == tmp_path / "au-talking-head" / "token"
    token, origin = auth.load_or_create_token()
    assert origin == str(path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.load_or_create_token() == (token, str(path)), "stable across runs"
    os.chmod(path, 0o644)
    auth.load_or_create_token()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "loose permissions are tightened"
    monkeypatch.setenv(auth.TOKEN_ENV, "from-env-0123456789")
    assert auth.load_or_create_token() == ("from-env-0123456789", "env")
    assert auth.bearer_ok(f"Bearer {token}", token) and not auth.bearer_ok(f"Bearer {token}x", token)
    assert not auth.bearer_ok(None, token) and not auth.bearer_ok(token, token)
    assert [auth.host_name(h) for h in ("LocalHost:80", "[::1]:9", "127.0.0.1", "evil.com:1")] == \
        ["localhost", "[::1]", "127.0.0.1", "evil.com"]
    assert auth.origin_ok(None, auth.LOOPBACK_HOSTS) and auth.origin_ok("http://localhost:3000",
                                                                         auth.LOOPBACK_HOSTS)
    assert not auth.origin_ok("https://evil.com", auth.LOOPBACK_HOSTS)
    assert not auth.origin_ok("null", auth.LOOPBACK_HOSTS)


def test_decode_errors_are_domain_errors() -> None:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(100, np.float32), 16000, format="WAV")
    wav = buf.getvalue()
    for body, code in ((b"", "empty_body"), (b"abc" * 100, "not_audio"), (wav[:-20], "truncated")):
        with pytest.raises(AudioError) as info:
            decode_audio(body)
        assert info.value.code == code and 400 <= info.value.status < 500
    long = io.BytesIO()
    sf.write(long, np.zeros(16000 * 3, np.float32), 16000, format="WAV")
    with pytest.raises(AudioError) as info:
        decode_audio(long.getvalue(), max_duration_s=2.0)
    assert info.value.code == "too_long" and info.value.status == 413
    decoded = decode_audio(long.getvalue())
    assert decoded.samples.dtype == np.float32 and decoded.sample_rate == 16000 and decoded.duration_s == 3.0
