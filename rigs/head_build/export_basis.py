"""Export the default head's AU-to-landmark basis for the model server (pure; no Blender needed).

Usage: ``python -m rigs.head_build.export_basis [--out au_contract/data/landmark_basis.npz]``

The file (format: ``au_contract.basis``) holds one slice per shape key of the default head: ``au_codes`` [S]
and ``sides`` [S] str, ``neutral`` float32 [68, 3], ``basis`` float32 [S, 68, 3] (displacement per unit key
value), ``head_size`` (chin-to-crown, m) and ``source``; landmarks = neutral + sum_s value_s * basis_s,
Blender axes, metres, exactly what the generated rig's landmark vertices do, emotion or not
(tests/blender/test_emotion_equivalence.py checks it on the evaluated mesh).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from au_contract.basis import DEFAULT_BASIS_PATH, write_basis
from au_contract.zone_rules import SHAPE_KEYS

from ..naming import all_shape_key_names, split_shape_key_name
from .default_head import SOURCE_DESCRIPTION, HeadData, build_head_data
from .landmarks import shape_key_basis

DEFAULT_OUT = DEFAULT_BASIS_PATH


def key_deltas(head: HeadData) -> dict[tuple[str, str | None], np.ndarray]:
    """(AU code, side or None) -> [V, 3] shape-key displacement, in ``SHAPE_KEYS`` order.

    Raises:
        RuntimeError: if the rig's shape keys (``rigs.naming``) are not the contract's ``SHAPE_KEYS``.
    """
    out = {split_shape_key_name(name): head.shape_deltas[name] for name in all_shape_key_names()}
    if tuple(out) != SHAPE_KEYS:
        raise RuntimeError(f"the rig's shape keys {tuple(out)} differ from au_contract's {SHAPE_KEYS}")
    return out


def export(out: Path = DEFAULT_OUT) -> Path:
    """Build the default head and write its landmark basis (one slice per shape key) to ``out``.

    Returns:
        The path written.
    """
    head = build_head_data()
    keys, neutral, basis = shape_key_basis(head.verts.astype(np.float64), key_deltas(head), head.landmarks)
    source = f"rig generator default head {head.content_hash()[:12]}: {SOURCE_DESCRIPTION}"
    return write_basis(out, keys, neutral, basis, head.head_size, source)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    path = export(args.out)
    print(f"wrote {path}")  # CLI progress line
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
