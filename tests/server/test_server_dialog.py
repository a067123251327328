"""Dialog mode through the real server process (``transcript``/``language`` query) and the predict CLI
(``--transcript-file``/``--language``): used when it matches, a warning when not, 400 only for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from au_contract.options import MAX_TRANSCRIPT_BYTES, RequestOptions
from blender_addon.server import client
from model_server import dialog
from tests.fixtures import SPEECH_TEXT, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
WRONG = "Whereas recognition of the inherent dignity and of the equal rights of all members of the family."


def test_transcript_in_the_query_is_used_and_reported(server: ServerProcess, speech_wav: bytes) -> None:
    r = server.post(speech_wav, {"transcript": SPEECH_TEXT, "language": "en_US"})  # a locale as typed
    assert r.status_code == 200, r.text
    meta = r.json()["meta"]
    assert meta["dialog"]["transcript"] and meta["dialog"]["used"], meta["dialog"]
    assert meta["dialog"]["bilabials"] > 3 and meta["warnings"] == [] and meta["language"] == "en_US"
    assert meta["dialog"]["voice"] == "en-us"  # the espeak-ng voice that read it
    # the shipped weights have the phone-class output: the match counts how well the aligned phones fit it
    assert meta["dialog"]["phone_gain"] > 0.3, meta["dialog"]
    assert meta["dialog"]["match"] >= dialog.TRUST_MATCH[True], meta["dialog"]
    plain = server.post(speech_wav).json()["meta"]
    assert plain["dialog"] == {"transcript": False, "used": False, "language": "en", "warning": None}
    named = server.post(speech_wav, {"transcript": SPEECH_TEXT, "language": "English (America)"})
    named = named.json()["meta"]
    assert named["dialog"]["voice"] == "en-us" and named["dialog"]["match"] == meta["dialog"]["match"]


def test_a_repeated_dialog_request_gives_the_same_tracks(server: ServerProcess, speech_wav: bytes) -> None:
    # espeak-ng's synthesis carries state from one call to the next (pitch flutter, glottal phase): without
    # the server keeping its reading of a text, the same line aligned again moves its keys a little
    params = {"transcript": SPEECH_TEXT, "language": "en-us"}
    first = server.post(speech_wav, params).json()
    assert server.post(speech_wav, {"transcript": WRONG, "language": "en-us"}).status_code == 200
    again = server.post(speech_wav, params).json()
    for body in (first, again):
        body["meta"].pop("timing_ms")
    assert first["meta"]["dialog"]["used"] and first == again


def test_bad_transcripts_warn_but_never_fail(server: ServerProcess, speech_wav: bytes) -> None:
    for params in ({"transcript": "🎉🎉"}, {"transcript": SPEECH_TEXT, "language": "xx-nope"},
                   {"transcript": WRONG + " " + WRONG}):
        r = server.post(speech_wav, params)
        assert r.status_code == 200, r.text
        meta = r.json()["meta"]
        assert not meta["dialog"]["used"] and meta["warnings"] == [meta["dialog"]["warning"]], meta["dialog"]


def test_invalid_transcript_input_is_400(server: ServerProcess, speech_wav: bytes) -> None:
    too_long = server.post(speech_wav, {"transcript": "a" * (MAX_TRANSCRIPT_BYTES + 1)})
    assert too_long.status_code == 400 and "at most 4096 bytes" in too_long.json()["message"]
    r = httpx.post(server.url + "/v1/tracks?transcript=caf%E9", content=speech_wav, headers=server.headers(),
                   timeout=120)
    assert r.status_code == 400 and "not UTF-8" in r.json()["message"], r.text


def test_the_addon_client_sends_a_4kb_transcript(server: ServerProcess, speech_wav: bytes) -> None:
    text = ("é" * (MAX_TRANSCRIPT_BYTES // 2))  # 4096 bytes of UTF-8: the longest URL a request carries
    raw = client.Client(server.url, token=server.token).tracks(
        speech_wav, RequestOptions(transcript=text, language="fr", landmarks=False))
    meta = json.loads(raw)["meta"]
    assert meta["dialog"]["transcript"] and meta["dialog"]["language"] == "fr"


def _predict(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "model_server", "predict", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_predict_cli_transcript_file(tmp_path: Path, speech_wav: bytes) -> None:
    wav = tmp_path / "line.wav"
    wav.write_bytes(speech_wav)
    txt = tmp_path / "line.txt"
    txt.write_text(SPEECH_TEXT, encoding="utf-8")
    out = tmp_path / "line.json"
    done = _predict(str(wav), "-o", str(out), "--transcript-file", str(txt), "--language", "en-us")
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["meta"]["dialog"]["used"]
    txt.write_bytes("caf\xe9".encode("latin-1"))
    bad = _predict(str(wav), "-o", str(out), "--transcript-file", str(txt))
    assert bad.returncode == 2 and "not UTF-8" in bad.stderr
