"""The real server process against every kind of audio: formats, rates, channels, silence, and each
kind of bad input answered with a clear JSON 4xx (issue 4)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from au_contract import MODEL_AUS
from tests.server.server_harness import ServerProcess, encode, ffmpeg_encode


def expect_error(server: ServerProcess, body: bytes, status: int, code: str) -> None:
    r = server.post(body)
    assert r.status_code == status, r.text[:300]
    doc = r.json()
    assert doc["error"] == code, doc
    assert len(doc["message"]) > 20, "the message must say what to do"


def test_formats_rates_and_channels_all_decode(server: ServerProcess, speech_samples, tmp_path: Path) -> None:
    samples, rate = speech_samples
    wav = encode(samples, rate, "WAV", "PCM_16")
    stereo48 = np.stack([samples, 0.5 * samples], axis=1)
    bodies = {
        "wav16": wav,
        "wav_float": encode(samples, rate, "WAV", "FLOAT"),
        "flac_stereo": encode(stereo48, rate, "FLAC"),
        "ogg": encode(samples, rate, "OGG", "VORBIS"),
        "mp3": ffmpeg_encode(wav, ".mp3", tmp_path),
        "wav_8k": ffmpeg_encode(wav, ".wav", tmp_path, "-ar", "8000"),
        "wav_48k_stereo": ffmpeg_encode(wav, ".wav", tmp_path, "-ar", "48000", "-ac", "2"),
        "aiff_96k": ffmpeg_encode(wav, ".aiff", tmp_path, "-ar", "96000"),
    }
    duration = len(samples) / rate
    reference = None
    for name, body in bodies.items():
        r = server.post(body, {"landmarks": "false"})
        assert r.status_code == 200, (name, r.text[:300])
        doc = r.json()
        assert abs(doc["duration_s"] - duration) < 0.08, name  # MP3 adds encoder padding
        jaw = np.array(doc["channels"]["AU26"])
        if reference is None:
            reference = jaw
        n = min(len(jaw), len(reference))
        assert np.corrcoef(jaw[:n], reference[:n])[0, 1] > 0.7, f"{name}: same speech, similar jaw"


def test_silence_and_near_silence_give_rest_pose(server: ServerProcess) -> None:
    for samples in (np.zeros(16000 * 3, np.float32),
                    np.random.default_rng(0).normal(0, 1e-4, 16000 * 3).astype(np.float32)):
        r = server.post(encode(samples, 16000, "WAV", "PCM_16"), {"landmarks": "false"})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["meta"]["silent"] is True
        for code in (*MODEL_AUS, "AU01", "AU02"):
            assert max(doc["channels"][code]) == 0.0, code
    one_sample = encode(np.zeros(1, np.float32), 16000, "WAV", "PCM_16")
    doc = server.post(one_sample).json()
    assert doc["frame_count"] == 1


def test_empty_body(server: ServerProcess) -> None:
    expect_error(server, b"", 400, "empty_body")


@pytest.mark.parametrize("body", [b"hello, this is text, not audio" * 10, b"\x00" * 5000,
                                  b"%PDF-1.4\n" + bytes(range(256)) * 8, b'{"audio": "wav"}'])
def test_not_audio(server: ServerProcess, body: bytes) -> None:
    expect_error(server, body, 400, "not_audio")


def test_truncated_and_corrupt_files(server: ServerProcess, speech_samples, tmp_path: Path) -> None:
    samples, rate = speech_samples
    wav = encode(samples, rate, "WAV", "PCM_16")
    flac = encode(samples, rate, "FLAC")
    ogg = encode(samples, rate, "OGG", "VORBIS")
    mp3 = ffmpeg_encode(wav, ".mp3", tmp_path)
    expect_error(server, wav[: len(wav) // 2], 400, "truncated")
    expect_error(server, ogg[: len(ogg) // 2], 400, "truncated")
    expect_error(server, mp3[: len(mp3) // 2], 400, "truncated")
    r = server.post(flac[: len(flac) // 2])
    assert r.status_code == 400 and r.json()["error"] in ("corrupt_audio", "truncated")
    broken = bytearray(flac)
    broken[len(flac) // 3: len(flac) // 3 + 400] = bytes(400)
    r = server.post(bytes(broken))
    assert r.status_code in (200, 400), "a damaged frame may be skipped by the decoder or rejected"
    assert r.status_code != 400 or r.json()["error"] in ("corrupt_audio", "truncated")
    expect_error(server, wav[:30], 400, "not_audio")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples(server: ServerProcess, value: float) -> None:
    samples = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32) * 0.3
    samples[5000:5010] = value
    expect_error(server, encode(samples, 16000, "WAV", "FLOAT"), 400, "non_finite")


def _wav_with_rate(rate: int) -> bytes:
    wav = bytearray(encode(np.zeros(1600, np.float32), 16000, "WAV", "PCM_16"))
    struct.pack_into("<I", wav, 24, rate)  # fmt chunk: sample rate
    struct.pack_into("<I", wav, 28, (rate * 2) & 0xFFFFFFFF)  # byte rate
    return bytes(wav)


@pytest.mark.parametrize("rate", [1, 100, 1_000_000, 4_000_000_000])
def test_absurd_sample_rates(server: ServerProcess, rate: int) -> None:
    r = server.post(_wav_with_rate(rate))
    assert r.status_code == 400, r.text
    assert r.json()["error"] in ("bad_sample_rate", "not_audio")
    if rate in (100, 1_000_000):
        assert r.json()["error"] == "bad_sample_rate"


def test_over_duration_limit(server: ServerProcess) -> None:
    # 61 s at 4 kHz (the shared server accepts 60 s): small body, long audio.
    long = encode(np.zeros(4000 * 61, np.float32), 4000, "WAV", "PCM_16")
    expect_error(server, long, 413, "too_long")
    # A FLAC stream whose header has no frame count is cut while decoding.
    flac = io.BytesIO()
    sf.write(flac, np.zeros(8000 * 61, np.float32), 8000, format="FLAC")
    expect_error(server, flac.getvalue(), 413, "too_long")


def test_server_still_healthy_after_bad_inputs(server: ServerProcess, speech_wav: bytes) -> None:
    import httpx

    assert httpx.get(server.url + "/v1/health").json()["status"] == "ok"
    assert server.post(speech_wav, {"landmarks": "false"}).status_code == 200
