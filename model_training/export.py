"""Export a trained :class:`AcousticNet` to ONNX (dynamic length axis) with its metadata.

Graph: input ``mel`` [1, T, n_mels] float32 -> outputs ``aus`` [1, T, n_aus] (after the smoothing head),
``raw`` [1, T, n_aus] (before it, for the smoothing evaluation) and ``phone_logits`` [1, T, n_classes]
(unnormalised phone-class logits: softmax gives posteriors, log-softmax the scores of a Viterbi
alignment). Metadata keys: ``version``, ``channels`` (comma-separated AU codes), ``frame_rate_hz``,
``n_mels``, ``head_taps`` (JSON [n_aus, K]), ``contract_version``, ``phone_classes`` (comma-separated
``model_server.phonetics.PHONE_CLASSES``, the logits' column order).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from au_contract import CONTRACT_VERSION, MODEL_AUS
from model_server.features import N_MELS
from model_server.phonetics import PHONE_CLASSES
from model_training.model import AcousticNet, ExportWrapper

log = logging.getLogger(__name__)


def export_onnx(net: AcousticNet, path: Path, version: str, extra_meta: dict[str, str] | None = None) -> Path:
    """Write ``net`` (set to eval mode) to ``path`` and return it."""
    import onnx

    net = net.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 200, N_MELS)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(ExportWrapper(net), (dummy,), str(tmp), input_names=["mel"],
                      output_names=["aus", "raw", "phone_logits"],
                      dynamic_axes={"mel": {1: "frames"}, "aus": {1: "frames"}, "raw": {1: "frames"},
                                    "phone_logits": {1: "frames"}},
                      opset_version=17, dynamo=False)
    model = onnx.load(str(tmp))
    meta = {
        "version": version,
        "channels": ",".join(MODEL_AUS),
        "frame_rate_hz": "100.0",
        "n_mels": str(N_MELS),
        "contract_version": str(CONTRACT_VERSION),
        "head_taps": json.dumps(net.head.taps().detach().numpy().round(6).tolist()),
        "phone_classes": ",".join(PHONE_CLASSES),
        **(extra_meta or {}),
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(path))
    tmp.unlink()
    log.info("exported %s (%.1f kB)", path, path.stat().st_size / 1024)
    return path
