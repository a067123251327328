"""Slow tier: the whole training recipe runs end to end on a tiny generated set and exports ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch is part of the train extra")


@pytest.mark.slow
def test_tiny_recipe_trains_and_exports(tmp_path: Path) -> None:
    from au_contract import MODEL_AUS
    from model_server.acoustic import AcousticModel
    from model_training.train import main

    out = tmp_path / "acoustic.onnx"
    assert main(["--recipe", "tiny", "--cache", str(tmp_path / "cache"), "--out", str(out),
                 "--threads", "1"]) == 0
    model = AcousticModel.load(out, device="cpu")
    assert model.channels == MODEL_AUS and model.version.startswith("tiny-")
    pred = model.predict(np.zeros(8000, np.float32))
    assert pred.shape == (50, len(MODEL_AUS))
    assert list((tmp_path / "cache" / "tiny").glob("clips_train_espeak_*.pkl"))
