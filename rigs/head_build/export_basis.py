"""Export the default head's AU-to-landmark basis for the model server (pure; no Blender needed).

Usage: ``python -m rigs.head_build.export_basis [--out au_contract/data/landmark_basis.npz]``

The file holds ``au_codes`` [K] str, ``neutral`` float32 [68, 3], ``basis`` float32 [K, 68, 3] (displacement
per unit AU), ``head_size`` (chin-to-crown, m) and ``source``; landmarks = neutral + sum_k au_k * basis_k,
Blender axes, metres, exactly what the generated rig's landmark vertices do while no emotion is active
(tests/blender/test_rig_generate.py checks it on the evaluated mesh).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from au_contract.basis import DEFAULT_BASIS_PATH, write_basis

from .default_head import SOURCE_DESCRIPTION, build_head_data

DEFAULT_OUT = DEFAULT_BASIS_PATH


def export(out: Path = DEFAULT_OUT) -> Path:
    """Build the default head and write its landmark basis to ``out``. Returns the path."""
    head = build_head_data()
    codes, neutral, basis = head.basis()
    source = f"rig generator default head {head.content_hash()[:12]}: {SOURCE_DESCRIPTION}"
    return write_basis(out, codes, neutral, basis, head.head_size, source)


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
