"""The request options are defined once (``au_contract.options``): the ``predict`` flags, the batch renderer's
flags, the add-on's client and the HTTP query parser (its real-server half is in
``tests/server/test_server_api.py``) accept and reject the same values with the same message."""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import pytest

from au_contract import EMOTIONS
from au_contract.errors import BAD_PARAMETER, TOO_MANY_FRAMES, OptionsError
from au_contract.option_flags import openapi_parameters
from au_contract.options import (
    MAX_FPS,
    MAX_FRAMES,
    MIN_FPS,
    SPECS,
    RequestOptions,
    check_value,
    max_duration_s,
)
from batch_render import cli as batch_cli
from blender_addon.server import client
from model_server import predict
from model_server.pipeline import PredictOptions

ROOT = Path(__file__).resolve().parents[2]

#: (option, value as a Python program passes it, the same value as text, the message every interface gives)
BAD_VALUES: list[tuple[str, Any, str, str]] = [
    ("fps", 0, "0", "fps must be a number from 1 to 240, got 0.0"),
    ("fps", 1e-300, "1e-300", "fps must be a number from 1 to 240, got 1e-300"),
    ("fps", 1000, "1000", "fps must be a number from 1 to 240, got 1000.0"),
    ("fps", math.nan, "nan", "fps must be a number from 1 to 240, got nan"),
    ("fps", math.inf, "inf", "fps must be a number from 1 to 240, got inf"),
    ("fps", "abc", "abc", "fps must be a number from 1 to 240, got 'abc'"),
    ("strength", 1.5, "1.5", "strength must be a number from 0 to 1, got 1.5"),
    ("strength", -0.1, "-0.1", "strength must be a number from 0 to 1, got -0.1"),
    ("emotion", "nope", "nope", f"emotion must be one of {', '.join(EMOTIONS)} (any case), got 'nope'"),
    ("seed", -1, "-1", "seed must be a whole number from 0 to 2**63-1, got -1"),
    ("seed", 2**63, str(2**63), f"seed must be a whole number from 0 to 2**63-1, got {2**63}"),
    ("smoothing", 2, "2", "smoothing must be a number from 0 to 1, got 2.0"),
]
#: (option, text, the value every interface reads)
GOOD_VALUES: list[tuple[str, str, Any]] = [
    ("fps", "1", 1.0), ("fps", "29.97", 29.97), ("fps", "240", 240.0), ("emotion", "happiness", "HAPPINESS"),
    ("emotion", " Sadness ", "SADNESS"), ("strength", "0", 0.0), ("seed", str(2**63 - 1), 2**63 - 1),
    ("smoothing", "1", 1.0), ("language", " en_US ", "en_US"),
    ("language", "French (France)", "French (France)"), ("language", "Español", "Español"),
    ("language", "中文", "中文"),
]


def test_one_field_per_option_with_help_default_and_range() -> None:
    fields = [f.name for f in dataclasses.fields(RequestOptions)]
    assert fields == list(SPECS) == ["fps", "emotion", "strength", "seed", "blinks", "prosody", "smoothing",
                                     "landmarks", "precise", "transcript", "language"]
    for spec in SPECS.values():
        assert spec.help and spec.kind in (float, int, bool, str)
        assert check_value(spec.name, spec.default) == spec.default, "every default is valid"
        if spec.kind in (float, int):
            assert spec.range_text and spec.minimum is not None and spec.maximum is not None
    assert (SPECS["fps"].minimum, SPECS["fps"].maximum) == (MIN_FPS, MAX_FPS) == (1.0, 240.0)
    assert SPECS["emotion"].choices == EMOTIONS
    # the server's options are the contract's plus its own duration limit
    assert issubclass(PredictOptions, RequestOptions)
    assert [f.name for f in dataclasses.fields(PredictOptions)] == [*SPECS, "max_duration_s"]


@pytest.mark.parametrize("name, value, text, message", BAD_VALUES)
def test_value_and_text_give_the_same_message(name: str, value: Any, text: str, message: str) -> None:
    for given in (value, text):
        with pytest.raises(OptionsError) as info:
            check_value(name, given)
        assert str(info.value) == message and info.value.code == BAD_PARAMETER
        with pytest.raises(OptionsError, match=re.escape(message)):
            RequestOptions(**{name: given}).validated()


@pytest.mark.parametrize("name, text, value", GOOD_VALUES)
def test_good_values_read_the_same_from_text_and_values(name: str, text: str, value: Any) -> None:
    assert check_value(name, text) == value
    assert getattr(RequestOptions.from_query([(name, text)]), name) == value


def test_switches_read_true_and_false_words_only() -> None:
    for word, expected in (("true", True), ("False", False), ("1", True), ("0", False), ("yes", True),
                           ("off", False)):
        assert RequestOptions.from_query([("blinks", word)]).blinks is expected
    for bad in ("maybe", "2", ""):
        with pytest.raises(OptionsError, match=f"blinks must be true or false, got '{bad}'"):
            RequestOptions.from_query([("blinks", bad)])


def test_query_round_trip_unknown_and_repeated_parameters() -> None:
    options = RequestOptions(fps=30 / 1.001, emotion="CONTEMPT", strength=0.25, seed=2**63 - 1, blinks=False,
                             prosody=True, smoothing=0.5, landmarks=False)
    query = options.to_query()
    assert query["fps"] == repr(30 / 1.001) and query["blinks"] == "false" and query["seed"] == str(2**63 - 1)
    assert RequestOptions.from_query(query.items()) == options
    assert RequestOptions.from_query([]) == RequestOptions()
    with pytest.raises(OptionsError, match=r"Unknown query parameter\(s\) \['fpz'\]; accepted: \["):
        RequestOptions.from_query([("fps", "30"), ("fpz", "30")])
    with pytest.raises(OptionsError, match="query parameter fps is given more than once"):
        RequestOptions.from_query([("fps", "30"), ("fps", "25")])


def test_frame_cap_is_checked_from_the_duration() -> None:
    options = RequestOptions(fps=240.0)
    assert options.check_frames(1.0) == 240
    limit = max_duration_s(240.0)
    assert options.check_frames(limit) == MAX_FRAMES
    with pytest.raises(OptionsError) as info:
        options.check_frames(limit + 1 / 240)
    assert info.value.code == TOO_MANY_FRAMES
    assert f"is {MAX_FRAMES + 1} frames, more than the {MAX_FRAMES}" in str(info.value)
    assert "at most 1500 s" in str(info.value)
    assert RequestOptions(fps=30.0).check_frames(3600.0) == 108_000  # an hour at 30 fps is fine


def _parse(configure: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    parser = argparse.ArgumentParser(prog="x")
    configure(parser)
    try:
        return parser.parse_args(argv), ""
    except SystemExit as exc:
        assert exc.code == 2
        return None, capsys.readouterr().err


@pytest.mark.parametrize("name, value, text, message", BAD_VALUES)
def test_cli_flags_and_client_give_the_contract_message(name: str, value: Any, text: str, message: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The ``predict`` and ``render`` parsers (the real ones) and the client reject with the same text."""
    args, err = _parse(predict.configure, ["in.wav", "-o", "out.json", f"--{name}", text], capsys)
    assert args is None and f"argument --{name}: {message}" in err, err
    if name in ("fps", "emotion", "strength"):
        args, err = _parse(batch_cli.configure, ["in.wav", "-o", "out", f"--{name}", text], capsys)
        assert args is None and f"argument --{name}: {message}" in err, err
    # the client checks before it sends: nothing listens on port 9, and the error is the option's
    with pytest.raises(client.ServerError) as info:
        client.Client("http://127.0.0.1:9").tracks(b"RIFF", RequestOptions(**{name: value}))
    assert info.value.code == BAD_PARAMETER and str(info.value) == message


def test_cli_flags_read_the_contract_defaults_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    from au_contract.option_flags import options_from_namespace

    args, _ = _parse(predict.configure, ["in.wav", "-o", "o.json"], capsys)
    assert options_from_namespace(args, PredictOptions, max_duration_s=args.max_duration) == PredictOptions()
    args, _ = _parse(predict.configure, ["in.wav", "-o", "o.json", "--fps", "24", "--emotion", "fear",
                                         "--seed", "7", "--no-blinks", "--no-landmarks", "--smoothing", ".5"],
                     capsys)
    got = options_from_namespace(args, PredictOptions, max_duration_s=60.0)
    assert got == PredictOptions(fps=24.0, emotion="FEAR", seed=7, blinks=False, landmarks=False,
                                 smoothing=0.5, max_duration_s=60.0)
    # an option that is off by default is turned on by its name (not --no-...)
    args, _ = _parse(predict.configure, ["in.wav", "-o", "o.json", "--precise"], capsys)
    assert options_from_namespace(args, PredictOptions, max_duration_s=60.0).precise is True
    args, _ = _parse(batch_cli.configure, ["in.wav", "-o", "out"], capsys)
    assert (args.fps, args.emotion, args.strength) == (None, "NEUTRAL", 1.0), "render keeps the .blend's fps"


def test_openapi_parameters_and_docs_table_follow_the_dataclass() -> None:
    params = {p["name"]: p for p in openapi_parameters()}
    assert list(params) == list(SPECS)
    assert params["fps"]["schema"] == {"type": "number", "default": 30.0, "minimum": 1.0, "maximum": 240.0}
    assert params["emotion"]["schema"]["enum"] == list(EMOTIONS)
    docs = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+)$", docs, flags=re.M))
    for spec in SPECS.values():
        assert spec.name in rows, f"docs/api.md lacks the option {spec.name}"
        if spec.kind is bool:
            default = str(spec.default).lower()
        else:
            default = f"`{spec.default}`" if spec.kind is str else f"{spec.default:g}"
        if spec.default == "":
            default = "(none)"
        assert rows[spec.name].startswith(f"{default} |"), (spec.name, rows[spec.name])
        if spec.range_text:
            assert spec.range_text in rows[spec.name], (spec.name, rows[spec.name])


def test_the_pipeline_applies_the_frame_cap_before_any_model_work() -> None:
    import numpy as np

    from model_server.decode import DecodedAudio
    from model_server.pipeline import predict_tracks

    class NoModel:
        channels, device, version = (), "cpu", "none"

        def predict(self, audio_16k: Any) -> Any:
            raise AssertionError("the model must not run for a request over the frame cap")

    long = DecodedAudio(samples=np.zeros(16000, np.float32), sample_rate=16000, source_rate=16000,
                        source_channels=1, source_format="WAV", duration_s=1501.0)
    with pytest.raises(OptionsError) as info:
        predict_tracks(long, PredictOptions(fps=240.0), model=NoModel())
    assert info.value.code == TOO_MANY_FRAMES and "lower the fps or split the audio" in str(info.value)


@pytest.mark.parametrize("text", ["fr;rm -rf /", "en\nX-Header: 1", "(en)", "_en", "en/../x"])
def test_a_language_is_a_code_tag_or_name_and_nothing_else(text: str) -> None:
    with pytest.raises(OptionsError, match="language must be an espeak-ng voice code, language tag or name"):
        check_value("language", text)
