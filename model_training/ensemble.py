"""Average several acoustic ONNX weights into one graph (an evaluation tool, not a shipped model).

The merged graph reads ``mel`` once, runs every network on it and outputs the mean of their ``aus``,
``raw`` and ``phone_logits`` (the same interface as :mod:`model_training.export`), so
``evaluate_viewer --weights merged.onnx`` scores what averaging the networks would give. Metadata comes
from the first file, with ``version`` set to ``mean(<version>+<version>...)``; the weights must share the
contract's channels, frame rate and phone classes.

Usage::

    .venv/bin/python -m model_training.ensemble OUT.onnx A.onnx B.onnx [C.onnx ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from model_training.errors import TrainingError

OUTPUTS: tuple[str, ...] = ("aus", "raw", "phone_logits")
#: Metadata every merged file must agree on (besides the graph's interface).
SHARED_META: tuple[str, ...] = ("channels", "frame_rate_hz", "n_mels", "contract_version", "phone_classes")


class EnsembleError(TrainingError, ValueError):
    """The weights cannot be averaged (fewer than two, or a different interface or metadata)."""


def merge(paths: list[Path], out: Path) -> Path:
    """Write the averaging graph of the ONNX weights ``paths`` to ``out`` and return it."""
    import onnx
    from onnx import TensorProto, compose, helper

    if len(paths) < 2:
        raise EnsembleError(f"averaging needs at least two weights files, got {len(paths)}")
    models = [onnx.load(str(p)) for p in paths]
    metas = [{p.key: p.value for p in m.metadata_props} for m in models]
    for path, model, meta in zip(paths, models, metas, strict=True):
        if [o.name for o in model.graph.output] != list(OUTPUTS):
            raise EnsembleError(f"{path} has outputs {[o.name for o in model.graph.output]}, not {OUTPUTS}")
        for key in SHARED_META:
            if meta.get(key) != metas[0].get(key):
                raise EnsembleError(f"{path} differs from {paths[0]} in its {key!r} metadata")
    nodes, initializers = [], []
    for k, model in enumerate(models):
        prefixed = compose.add_prefix(model, prefix=f"m{k}_", rename_inputs=False)
        nodes += list(prefixed.graph.node)
        initializers += list(prefixed.graph.initializer)
    initializers.append(helper.make_tensor("ensemble_scale", TensorProto.FLOAT, [], [1.0 / len(models)]))
    for name in OUTPUTS:
        total = f"m0_{name}"
        for k in range(1, len(models)):
            nodes.append(helper.make_node("Add", [total, f"m{k}_{name}"], [f"ensemble_sum{k}_{name}"]))
            total = f"ensemble_sum{k}_{name}"
        nodes.append(helper.make_node("Mul", [total, "ensemble_scale"], [name]))
    first = models[0]
    graph = helper.make_graph(nodes, "ensemble", list(first.graph.input), list(first.graph.output),
                              initializers)
    merged = helper.make_model(graph, opset_imports=list(first.opset_import))
    merged.ir_version = first.ir_version
    meta = dict(metas[0], version="mean(" + "+".join(m.get("version", "?") for m in metas) + ")")
    for key, value in meta.items():
        entry = merged.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(merged)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("weights", type=Path, nargs="+")
    args = parser.parse_args(argv)
    print(f"wrote {merge(args.weights, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
