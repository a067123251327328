"""Slow tier: the whole training recipe runs end to end on a tiny generated set and exports ONNX (with
the phone-class output), and the held-out evaluation reports it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch is part of the train extra")


@pytest.mark.slow
def test_tiny_recipe_trains_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from au_contract import MODEL_AUS
    from model_server.acoustic import AcousticModel
    from model_server.phonetics import PHONE_CLASSES
    from model_training import evaluate
    from model_training.train import main

    out = tmp_path / "acoustic.onnx"
    assert main(["--recipe", "tiny", "--cache", str(tmp_path / "cache"), "--out", str(out),
                 "--threads", "1"]) == 0
    model = AcousticModel.load(out, device="cpu")
    assert model.channels == MODEL_AUS and model.version.startswith("tiny-")
    pred = model.predict(np.zeros(8000, np.float32))
    assert pred.shape == (50, len(MODEL_AUS))
    assert list((tmp_path / "cache" / "tiny").glob("clips_train_espeak_*.pkl"))
    assert "val_phone_acc" in capsys.readouterr().out
    # The auxiliary phone-class output: in the graph, named in the metadata, beside unchanged AUs.
    assert model.phone_classes == PHONE_CLASSES
    audio = np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)
    output = model.predict_output(audio)
    assert output.phone_logits is not None and output.phone_logits.shape == (50, len(PHONE_CLASSES))
    np.testing.assert_array_equal(output.aus, model.predict(audio))
    frame_sets = list((tmp_path / "cache" / "tiny").glob("frames_*.npz"))
    assert len(frame_sets) == 2  # train and val
    for frames in frame_sets:
        with np.load(frames) as z:
            assert z["labels"].shape == (len(z["feats"]),) and z["labels"].max() < len(PHONE_CLASSES)
    # The held-out evaluation prints per-class frame accuracy and the confusion matrix.
    assert evaluate.main(["--weights", str(out), "--recipe", "tiny", "--cache",
                          str(tmp_path / "cache"), "--no-alsa", "--reserved", "0"]) == 0
    text = capsys.readouterr().out
    assert "## phone classes, held-out voices (tiny), clean" in text and "phone-class confusion" in text


def test_source_weights_scale_the_crop_probabilities() -> None:
    from model_training.recipe import RECIPES, code_version
    from model_training.train import source_weighted

    weights = np.array([0.5, 0.25, 0.25])
    meta = [{"source": "espeak-ng"}, {"source": "asterisk"}, {"source": "background"}]
    out = source_weighted(weights, meta, {"asterisk": 4.0})
    assert out.sum() == pytest.approx(1.0)
    assert out[1] / out[0] == pytest.approx(2.0) and out[2] / out[0] == pytest.approx(0.5)
    assert source_weighted(weights, meta, {}) is weights
    # the weights change what is sampled, not the frames: v16 reuses v14w's frame caches
    assert code_version(RECIPES["v16"]) == code_version(RECIPES["v14w"])
