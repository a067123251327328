"""The torch model and its ONNX export agree (AUs and phone classes); the shipped weights load and honour
the contract; weights without the phone-class output (the shipped v10) keep working unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from au_contract import MODEL_AUS
from model_server.acoustic import DEFAULT_WEIGHTS, AcousticModel, ModelNotFoundError
from model_server.features import HOP_LENGTH, N_MELS, SAMPLE_RATE, log_mel
from model_server.phonetics import PHONE_CLASSES

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
        net.phone_out.bias.normal_(0, 1)
    path = export_onnx(net, tmp_path / "m.onnx", "test")
    model = AcousticModel.load(path, device="cpu")
    assert model.phone_classes == PHONE_CLASSES
    rng = np.random.default_rng(0)
    for frames in (1, 7, 333):  # the length axis is dynamic
        mel = rng.normal(-1.0, 0.4, (frames, N_MELS)).astype(np.float32)
        aus, raw = model.predict_features(mel)
        out = model.output_features(mel)
        with torch.no_grad():
            t_aus, t_raw, t_phones = net.eval()(torch.from_numpy(mel)[None])
        assert aus.shape == (frames, len(MODEL_AUS))
        np.testing.assert_allclose(aus, t_aus[0].numpy(), atol=2e-5)
        np.testing.assert_allclose(raw, t_raw[0].numpy(), atol=2e-5)
        np.testing.assert_array_equal(out.aus, aus)
        assert out.phone_logits is not None and out.phone_logits.shape == (frames, len(PHONE_CLASSES))
        np.testing.assert_allclose(out.phone_logits, t_phones[0].numpy(), atol=2e-4)
        post = out.phone_posteriors()
        assert post is not None
        np.testing.assert_allclose(post, torch.softmax(t_phones[0], -1).numpy(), atol=2e-5)
    assert model.version == "test"
    assert model.output_features(np.zeros((0, N_MELS), np.float32)).phone_logits.shape == (0, 8)


def test_phone_head_shape_and_loss() -> None:
    from model_training.model import AcousticNet
    from model_training.train import loss_fn

    torch.manual_seed(0)
    net = AcousticNet(N_MELS, len(MODEL_AUS), channels=16)
    smoothed, raw, phones = net(torch.randn(2, 50, N_MELS))
    assert smoothed.shape == raw.shape == (2, 50, len(MODEL_AUS))
    assert phones.shape == (2, 50, len(PHONE_CLASSES))
    target = torch.rand(2, 50, len(MODEL_AUS))
    labels = torch.randint(0, len(PHONE_CLASSES), (2, 50))
    base, parts0 = loss_fn(smoothed, raw, target, net.head.taps())
    same, _ = loss_fn(smoothed, raw, target, net.head.taps(), phones, labels, phone_weight=0.0)
    total, parts = loss_fn(smoothed, raw, target, net.head.taps(), phones, labels, phone_weight=0.5)
    assert same.item() == pytest.approx(base.item()) and parts0["phone"] == 0.0
    assert parts["phone"] > 1.0  # about ln 8 for an untrained head
    assert total.item() == pytest.approx(base.item() + 0.5 * parts["phone"], rel=1e-5)
    total.backward()
    assert net.phone_out.weight.grad is not None and net.phone_out.weight.grad.abs().sum() > 0
    good = torch.nn.functional.one_hot(labels, len(PHONE_CLASSES)).float() * 20
    _, right = loss_fn(smoothed, raw, target, net.head.taps(), good, labels, phone_weight=0.5)
    assert right["phone"] < 1e-3 and right["phone_acc"] == 1.0


def test_weights_without_phone_output_keep_working(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import onnx

    from model_server.acoustic import DEFAULT_WEIGHTS

    # The shipped weights without their phone output (as v10 and earlier files were): AUs only.
    proto = onnx.load(str(DEFAULT_WEIGHTS))
    kept = [o for o in proto.graph.output if o.name != "phone_logits"]
    assert len(kept) == len(proto.graph.output) - 1
    del proto.graph.output[:]
    proto.graph.output.extend(kept)
    onnx.save(proto, str(tmp_path / "aus_only.onnx"))
    model = AcousticModel.load(tmp_path / "aus_only.onnx", device="cpu")
    assert model.phone_classes is None
    audio = np.random.default_rng(2).normal(0, 0.05, SAMPLE_RATE // 2).astype(np.float32)
    out = model.predict_output(audio)
    assert out.phone_logits is None and out.phone_posteriors() is None
    np.testing.assert_array_equal(out.aus, model.predict(audio))
    np.testing.assert_array_equal(out.aus, AcousticModel.load(device="cpu").predict(audio))
    # Weights whose phone classes are not this version's: the AUs still work, the phone output is ignored.
    from model_training.export import export_onnx
    from model_training.model import AcousticNet

    path = export_onnx(AcousticNet(N_MELS, len(MODEL_AUS), channels=8), tmp_path / "m.onnx", "x")
    proto = onnx.load(str(path))
    for entry in proto.metadata_props:
        if entry.key == "phone_classes":
            entry.value = "silence,vowel"
    onnx.save(proto, str(path))
    with caplog.at_level("WARNING"):
        other = AcousticModel.load(path, device="cpu")
    assert other.phone_classes is None and "phone output ignored" in caplog.text
    assert other.predict_output(audio).phone_logits is None


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


def test_the_averaging_graph_outputs_the_mean_of_its_networks(tmp_path: Path) -> None:
    from model_training.ensemble import EnsembleError, merge
    from model_training.export import export_onnx
    from model_training.model import AcousticNet

    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        net = AcousticNet(N_MELS, len(MODEL_AUS), channels=16)
        with torch.no_grad():
            net.phone_out.bias.normal_(0, 1)
        paths.append(export_onnx(net, tmp_path / f"n{seed}.onnx", f"net{seed}"))
    merged = AcousticModel.load(merge(paths, tmp_path / "mean.onnx"), device="cpu")
    singles = [AcousticModel.load(p, device="cpu") for p in paths]
    assert merged.version == "mean(net1+net2)" and merged.phone_classes == PHONE_CLASSES
    mel = np.random.default_rng(1).normal(-1.0, 0.4, (120, N_MELS)).astype(np.float32)
    outs = [m.output_features(mel) for m in singles]
    got = merged.output_features(mel)
    assert np.abs(outs[0].aus - outs[1].aus).max() > 1e-3, "two different networks"
    np.testing.assert_allclose(got.aus, (outs[0].aus + outs[1].aus) / 2, atol=1e-5)
    np.testing.assert_allclose(got.raw, (outs[0].raw + outs[1].raw) / 2, atol=1e-5)
    np.testing.assert_allclose(got.phone_logits, (outs[0].phone_logits + outs[1].phone_logits) / 2, atol=1e-4)
    with pytest.raises(EnsembleError, match="at least two"):
        merge(paths[:1], tmp_path / "one.onnx")
