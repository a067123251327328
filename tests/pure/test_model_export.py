"""The torch model and its ONNX export agree; the shipped weights load and honour the contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from au_contract import MODEL_AUS
from model_server.acoustic import DEFAULT_WEIGHTS, AcousticModel, ModelNotFoundError
from model_server.features import HOP_LENGTH, N_MELS, SAMPLE_RATE, log_mel

torch = pytest.importorskip("torch", reason="torch is part of the train extra")


def test_torch_and_onnx_agree(tmp_path: Path) -> None:
    from model_training.export import export_onnx
    from model_training.model import AcousticNet

    torch.manual_seed(0)
    net = AcousticNet(N_MELS, len(MODEL_AUS), channels=24)
    with torch.no_grad():  # non-trivial BatchNorm statistics and head taps
        for block in net.blocks:
            block.norm.running_mean.uniform_(-0.2, 0.2)
            block.norm.running_var.uniform_(0.5, 1.5)
        net.head.logits.normal_(0, 1)
    path = export_onnx(net, tmp_path / "m.onnx", "test")
    model = AcousticModel.load(path, device="cpu")
    rng = np.random.default_rng(0)
    for frames in (1, 7, 333):  # the length axis is dynamic
        mel = rng.normal(-1.0, 0.4, (frames, N_MELS)).astype(np.float32)
        aus, raw = model.predict_features(mel)
        with torch.no_grad():
            t_aus, t_raw = net.eval()(torch.from_numpy(mel)[None])
        assert aus.shape == (frames, len(MODEL_AUS))
        np.testing.assert_allclose(aus, t_aus[0].numpy(), atol=2e-5)
        np.testing.assert_allclose(raw, t_raw[0].numpy(), atol=2e-5)
    assert model.version == "test"


def test_shipped_weights_follow_the_contract() -> None:
    model = AcousticModel.load()
    assert model.channels == MODEL_AUS
    assert model.frame_rate_hz == 100.0
    assert model.device in ("cpu", "cuda")
    assert DEFAULT_WEIGHTS.stat().st_size < 20 * 1024 * 1024
    rng = np.random.default_rng(1)
    for n in (0, 1, 159, 160, 161, SAMPLE_RATE + 17):
        out = model.predict(rng.normal(0, 0.05, n).astype(np.float32))
        assert out.shape == (-(-n // HOP_LENGTH), len(MODEL_AUS))
        assert out.dtype == np.float32
        assert np.all((out >= 0) & (out <= 1))


def test_silence_keeps_the_mouth_at_rest() -> None:
    out = AcousticModel.load().predict(np.zeros(SAMPLE_RATE, np.float32))
    for code in ("AU25", "AU26"):
        assert out[:, MODEL_AUS.index(code)].max() <= 0.1


def test_missing_weights_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="train"):
        AcousticModel.load(tmp_path / "nope.onnx")
    with pytest.raises(ValueError, match="device"):
        AcousticModel.load(device="tpu")


def test_log_mel_frames() -> None:
    for n in (0, 1, 160, 161, 16000):
        assert log_mel(np.zeros(n, np.float32)).shape == (-(-n // HOP_LENGTH), N_MELS)
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        log_mel(np.array([0.0, np.nan], np.float32))
    loud = 0.7 * np.sin(np.arange(16000) * 0.2).astype(np.float32)
    np.testing.assert_allclose(log_mel(loud), log_mel(loud * 0.05), atol=1e-2)  # level-normalised
    assert log_mel(np.zeros(1600, np.float32)).max() == pytest.approx(-4.0)  # silence at the floor
