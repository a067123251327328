"""The real server process: health, au-tracks/1 responses, options, token, Host/Origin, CORS, limits,
concurrency and graceful shutdown (issue 4)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from au_contract import AU_CODES, EMOTION_PROTOTYPES, MODEL_AUS
from au_contract.health import HealthInfo
from au_contract.options import MAX_FPS, MAX_FRAMES, RequestOptions
from au_contract.zone_rules import au_channels, evaluate_rules
from blender_addon.server import client
from model_server import predict
from tests.server.server_harness import TOKEN, ServerProcess


def tracks_of(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_health_needs_no_token_and_does_not_leak_it(server: ServerProcess) -> None:
    r = httpx.get(server.url + "/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["device"] in ("cpu", "cuda") and body["model_version"]
    assert body["schema"] == "au-tracks/1" and body["au_codes"] == list(AU_CODES)
    assert TOKEN not in r.text and TOKEN not in str(r.headers)
    # the contract reads it, and so does the add-on's client (the panel shows its summary)
    info = HealthInfo.from_dict(body)
    assert info.problem() is None and info.model_version == body["model_version"]
    assert info.limits["max_fps"] == MAX_FPS and info.limits["max_frames"] == MAX_FRAMES
    via_client = client.Client(server.url).health()
    assert dataclasses.replace(via_client, jobs={}) == dataclasses.replace(info, jobs={})
    assert via_client.summary() == f"model {body['model_version']} on {body['device']}"


def test_tracks_is_au_tracks_1_with_every_channel_landmarks_and_meta(server: ServerProcess,
                                                                     speech_wav: bytes) -> None:
    doc = tracks_of(server.post(speech_wav))
    assert doc["schema"] == "au-tracks/1" and doc["fps"] == 30.0
    assert set(doc["channels"]) == set(AU_CODES)
    n = doc["frame_count"]
    assert n == round(doc["duration_s"] * 30) and n > 100
    values = np.array([doc["channels"][c] for c in AU_CODES])
    assert values.shape == (len(AU_CODES), n) and values.min() >= 0 and values.max() <= 1
    mouth = np.array([doc["channels"][c] for c in MODEL_AUS])
    assert mouth.max() > 0.2, "speech must move the mouth"
    assert max(doc["channels"]["AU45"]) > 0.8, "8 s of speech must contain a full blink"
    lm = np.array(doc["landmarks"]["frames"])
    assert doc["landmarks"]["layout"] == "ibug68" and lm.shape == (n, 68, 3)
    jaw_drop = lm[:, 8, 2].max() - lm[:, 8, 2].min()
    assert jaw_drop > 0.001, "the chin landmark must follow the jaw"
    meta = doc["meta"]
    for key in ("model", "device", "sample_rate", "seed", "language", "duration_s", "timing_ms"):
        assert key in meta
    assert meta["sample_rate"] == 16000 and meta["language"] == "auto" and meta["seed"] == 0
    assert {"decode_ms", "model_ms", "total_ms", "server_ms"} <= set(meta["timing_ms"])


def test_fractional_fps_and_landmarks_off(server: ServerProcess, speech_wav: bytes) -> None:
    doc = tracks_of(server.post(speech_wav, {"fps": "29.97", "landmarks": "false"}))
    assert doc["fps"] == 29.97 and doc["frame_count"] == round(doc["duration_s"] * 29.97)
    assert "landmarks" not in doc
    doc24 = tracks_of(server.post(speech_wav, {"fps": 24, "landmarks": "false"}))
    assert doc24["frame_count"] == round(doc24["duration_s"] * 24)
    assert max(doc24["channels"]["AU45"]) > 0.8, "blinks close the eyes fully even at 24 fps"


def test_same_seed_same_tracks_other_seed_other_blinks(server: ServerProcess, speech_wav: bytes) -> None:
    a = tracks_of(server.post(speech_wav, {"seed": 7, "landmarks": "false"}))
    b = tracks_of(server.post(speech_wav, {"seed": 7, "landmarks": "false"}))
    c = tracks_of(server.post(speech_wav, {"seed": 8, "landmarks": "false"}))
    assert a["channels"] == b["channels"]
    assert a["channels"]["AU45"] != c["channels"]["AU45"]
    assert a["channels"]["AU26"] == c["channels"]["AU26"], "the seed only moves blinks and brows"


def test_blinks_and_prosody_switches(server: ServerProcess, speech_wav: bytes) -> None:
    on = tracks_of(server.post(speech_wav, {"landmarks": "false"}))
    off = tracks_of(server.post(speech_wav, {"blinks": "false", "prosody": "false", "landmarks": "false"}))
    assert max(on["channels"]["AU01"]) > 0.05, "pitch accents in the speech raise the brows"
    for code in ("AU45", "AU43", "AU01", "AU02"):
        assert max(off["channels"][code]) == 0.0


@pytest.mark.parametrize("emotion", ["HAPPINESS", "surprise", "ANGER"])
def test_emotion_presets_with_strength(server: ServerProcess, speech_wav: bytes, emotion: str) -> None:
    full = tracks_of(server.post(speech_wav, {"emotion": emotion, "strength": 1, "landmarks": "false"}))
    half = tracks_of(server.post(speech_wav, {"emotion": emotion, "strength": 0.5, "landmarks": "false"}))
    assert full["meta"]["emotion"]["name"] == emotion.upper()
    # what the emotion alone gives each AU through the zone rules (blend AUs: the blend weight's share)
    alone = au_channels(evaluate_rules(np.zeros((1, len(AU_CODES))), {emotion.upper(): 1.0}))[0]
    for code in EMOTION_PROTOTYPES[emotion.upper()]:
        # The emotion holds over the whole clip (except where speech closes the lips for a mouth AU).
        value = alone[AU_CODES.index(code)]
        assert value > 0.3 and np.median(full["channels"][code]) >= 0.9 * value - 1e-3, code
        assert np.median(half["channels"][code]) < np.median(full["channels"][code]) + 1e-6, code


def test_smoothing_makes_mouth_tracks_smoother(server: ServerProcess, speech_wav: bytes) -> None:
    raw = tracks_of(server.post(speech_wav, {"landmarks": "false"}))
    smooth = tracks_of(server.post(speech_wav, {"smoothing": 1, "landmarks": "false"}))

    def roughness(doc: dict) -> float:
        return float(sum(np.abs(np.diff(doc["channels"][c], 2)).sum() for c in MODEL_AUS))

    assert roughness(smooth) < 0.8 * roughness(raw)


def test_precise_mode_is_asked_for_by_query(server: ServerProcess, speech_wav: bytes) -> None:
    plain = tracks_of(server.post(speech_wav, {"landmarks": "false"}))
    precise = tracks_of(server.post(speech_wav, {"precise": "true", "landmarks": "false"}))
    assert (plain["meta"]["options"]["precise"], precise["meta"]["options"]["precise"]) == (False, True)
    assert max(np.abs(np.asarray(precise["channels"][c]) - np.asarray(plain["channels"][c])).max()
               for c in MODEL_AUS) > 0.01


@pytest.mark.parametrize("params", [
    {"fps": 0}, {"fps": -30}, {"fps": "abc"}, {"fps": "nan"}, {"fps": "inf"}, {"fps": 5000},
    {"emotion": "HAPPY"}, {"strength": 1.5}, {"strength": -0.1}, {"seed": -1}, {"seed": "x"},
    {"smoothing": 2}, {"blinks": "maybe"}, {"precise": "very"}, {"fpz": 30}, [("fps", "30"), ("fps", "25")],
])
def test_bad_parameters_are_400_json(server: ServerProcess, speech_wav: bytes, params: Any) -> None:
    r = server.post(speech_wav, params)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_parameter" and r.json()["message"]


# The same values as tests/pure/test_contract_options.py, whose CLI and client halves give these messages.
CROSS_VALUES: list[tuple[str, Any, str]] = [
    ("fps", 0, "fps must be a number from 1 to 240, got 0.0"),
    ("fps", 1e-300, "fps must be a number from 1 to 240, got 1e-300"),
    ("fps", 1000, "fps must be a number from 1 to 240, got 1000.0"),
    ("fps", math.nan, "fps must be a number from 1 to 240, got nan"),
    ("strength", 1.5, "strength must be a number from 0 to 1, got 1.5"),
    ("emotion", "nope", "emotion must be one of NEUTRAL, HAPPINESS, SADNESS, SURPRISE, FEAR, ANGER, DISGUST, "
                        "CONTEMPT (any case), got 'nope'"),
    ("seed", -1, "seed must be a whole number from 0 to 2**63-1, got -1"),
]


@pytest.mark.parametrize("name, value, message", CROSS_VALUES)
def test_http_cli_and_client_reject_an_option_with_the_same_message(
        server: ServerProcess, speech_wav: bytes, name: str, value: Any, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    text = RequestOptions(**{name: value}).to_query()[name]  # the client's own spelling of the value
    r = server.post(speech_wav, {name: text})
    assert r.status_code == 400 and r.json() == {"error": "bad_parameter", "message": message}, r.text
    parser = argparse.ArgumentParser(prog="predict")
    predict.configure(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["in.wav", "-o", "out.json", f"--{name}", text])
    assert f"argument --{name}: {message}" in capsys.readouterr().err
    with pytest.raises(client.ServerError) as info:
        client.Client(server.url).tracks(speech_wav, RequestOptions(**{name: value}))
    assert (info.value.code, str(info.value)) == ("bad_parameter", message)


def test_http_cli_and_client_accept_the_same_values(server: ServerProcess, speech_wav: bytes) -> None:
    options = RequestOptions(fps=29.97, emotion="happiness", strength=0.5, seed=2**63 - 1, smoothing=1.0,
                             landmarks=False)
    via_client = json.loads(client.Client(server.url, token=TOKEN).tracks(speech_wav, options))
    query = {"fps": "29.97", "emotion": "HAPPINESS", "strength": "0.5", "seed": str(2**63 - 1),
             "smoothing": "1", "landmarks": "0"}
    via_http = tracks_of(server.post(speech_wav, query))
    assert via_client["channels"] == via_http["channels"] and via_http["fps"] == 29.97
    assert via_http["meta"]["emotion"]["name"] == "HAPPINESS" and via_http["meta"]["seed"] == 2**63 - 1
    assert "landmarks" not in via_http


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer",
                                    f"bearer {TOKEN}x"])
def test_token_required(server: ServerProcess, speech_wav: bytes, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = httpx.post(server.url + "/v1/tracks", content=speech_wav, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert TOKEN not in r.text


def test_token_file_created_user_only_and_used(start_server) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(token=None)
    path = proc.config_home / "au-talking-head" / "token"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) >= 32
    assert TOKEN not in token
    r = httpx.post(proc.url + "/v1/tracks", content=b"x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 401, "the env token of other tests must not work here"
    r = httpx.post(proc.url + "/v1/tracks", content=b"x", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and r.json()["error"] == "not_audio"


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:8765", "192.168.1.20", "127.0.0.2",
                                  "localhost.evil.com", ""])
def test_non_loopback_host_header_rejected(server: ServerProcess, speech_wav: bytes, host: str) -> None:
    r = server.post(speech_wav, headers={"Host": host})
    assert r.status_code == 403 and r.json()["error"] == "bad_host"
    r = httpx.get(server.url + "/v1/health", headers={"Host": host})
    assert r.status_code == 403


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1234", "127.0.0.1", "[::1]:8765"])
def test_loopback_host_names_accepted(server: ServerProcess, host: str) -> None:
    assert httpx.get(server.url + "/v1/health", headers={"Host": host}).status_code == 200


def test_cross_site_origin_rejected_and_no_cors(server: ServerProcess, speech_wav: bytes) -> None:
    r = server.post(speech_wav, headers={"Origin": "https://evil.example.com"})
    assert r.status_code == 403 and r.json()["error"] == "bad_origin"
    r = httpx.options(server.url + "/v1/tracks", headers={"Origin": "http://localhost:3000",
                                                          "Access-Control-Request-Method": "POST"})
    assert r.status_code in (403, 405)
    ok = server.post(speech_wav, {"landmarks": "false"}, headers={"Origin": "http://localhost:3000"})
    assert ok.status_code == 200
    for response in (r, ok):
        assert not any(k.lower().startswith("access-control-") for k in response.headers)


def test_unknown_path_and_method_are_json(server: ServerProcess) -> None:
    r = httpx.get(server.url + "/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = httpx.get(server.url + "/v1/tracks", headers=server.headers())
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert httpx.get(server.url + "/v1/openapi.json").json()["paths"]["/v1/tracks"]["post"]


def test_body_size_limit_declared_and_streamed(server: ServerProcess) -> None:
    big = b"RIFF" + bytes(9 * 1024 * 1024)
    r = server.post(big)
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(40):
            yield bytes(256 * 1024)

    r = httpx.post(server.url + "/v1/tracks", content=chunks(), headers=server.headers(), timeout=60)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert httpx.get(server.url + "/v1/health").status_code == 200


def slow_body(seconds: float, total: int = 2000) -> Iterator[bytes]:
    step = max(1, total // 20)
    for _ in range(0, total, step):
        time.sleep(seconds / 20)
        yield b"\0" * step


def test_concurrent_job_limit_answers_429_json(start_server) -> None:  # type: ignore[no-untyped-def]
    from tests.server.test_server_hardening import long_tone_flac, wait_for_jobs

    proc = start_server(["--max-jobs", "1", "--max-queue", "0"])
    results: list[int] = []

    def hold() -> None:  # a 20-minute clip: a few seconds of real work holding the only slot
        results.append(proc.post(long_tone_flac(), {"landmarks": "false"}, timeout=120).status_code)

    holder = threading.Thread(target=hold)
    holder.start()
    wait_for_jobs(proc, running=1)
    r = proc.post(b"RIFF....")
    assert r.status_code == 429 and r.json()["error"] == "busy"
    holder.join()
    assert results == [200]
    assert proc.post(b"RIFF....").status_code == 400, "the slot is free again"


def test_slow_body_times_out_with_408(start_server) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(["--body-timeout", "1"])
    r = httpx.post(proc.url + "/v1/tracks", content=slow_body(4.0), headers=proc.headers(), timeout=30)
    assert r.status_code == 408 and r.json()["error"] == "body_timeout"


def test_graceful_shutdown_finishes_the_request_in_flight(start_server, speech_wav: bytes) -> None:  # type: ignore[no-untyped-def]
    proc = start_server()
    results: list[int] = []

    def body() -> Iterator[bytes]:
        half = len(speech_wav) // 2
        yield speech_wav[:half]
        time.sleep(1.5)
        yield speech_wav[half:]

    def request() -> None:
        r = httpx.post(proc.url + "/v1/tracks", content=body(), headers=proc.headers(), timeout=60)
        results.append(r.status_code)

    t = threading.Thread(target=request)
    t.start()
    time.sleep(0.7)
    started = time.monotonic()
    code = proc.stop()
    t.join()
    assert results == [200], proc.log()
    # uvicorn re-raises SIGTERM once it has shut down cleanly, so the exit status is "killed by SIGTERM".
    assert code in (0, -signal.SIGTERM) and time.monotonic() - started < 30
    with pytest.raises(httpx.HTTPError):
        httpx.get(proc.url + "/v1/health", timeout=2)


def test_non_loopback_bind_needs_explicit_flag(start_server) -> None:  # type: ignore[no-untyped-def]
    proc = start_server(host="0.0.0.0", ready=False)
    assert proc.proc.wait(60) == 2
    assert "--allow-remote" in proc.log()
    remote = start_server(["--allow-remote"], host="0.0.0.0")
    assert "non-loopback" in remote.log()
    assert httpx.get(remote.url + "/v1/health").status_code == 200


def test_env_token_is_not_written_to_disk(server: ServerProcess) -> None:
    assert not (server.config_home / "au-talking-head" / "token").exists()


def test_openapi_lists_the_contract_options(server: ServerProcess) -> None:
    schema = httpx.get(server.url + "/v1/openapi.json").json()
    params = schema["paths"]["/v1/tracks"]["post"]["parameters"]
    assert [p["name"] for p in params] == ["fps", "emotion", "strength", "seed", "blinks", "prosody",
                                           "smoothing", "landmarks", "precise", "transcript", "language"]
    assert params[0]["schema"]["maximum"] == MAX_FPS
