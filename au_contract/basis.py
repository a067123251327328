"""Landmarks from AUs: ``landmarks = neutral + sum_k au_k * basis_k`` through the default head's AU basis.

This is the landmark-basis format of the contract: the rig generator writes it (``python -m
rigs.head_build.export_basis`` -> ``au_contract/data/landmark_basis.npz``, committed) and the model server
reads it to turn AU tracks into landmarks. Arrays:

- ``au_codes``: str [K], AU codes of the contract (any subset, no duplicates);
- ``neutral``: float32 [68, 3], the rest-pose iBUG-68 landmarks, metres, Blender axes (Z up, face
  towards -Y, +X the character's left);
- ``basis``: float32 [K, 68, 3], each landmark's displacement at AU = 1;
- ``head_size``: scalar float, the head's size in metres;
- ``source``: str, where the file came from.

:func:`load_basis` checks all of it and fails with a :class:`BasisFormatError` that names the problem.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .action_units import AU_CODES
from .errors import ContractError

log = logging.getLogger(__name__)

DEFAULT_BASIS_PATH = Path(__file__).resolve().parent / "data" / "landmark_basis.npz"
N_POINTS = 68
_REQUIRED = ("au_codes", "neutral", "basis", "head_size")
#: Every array of the file, in the order they are written.
BASIS_KEYS = ("au_codes", "neutral", "basis", "head_size", "source")


class BasisFormatError(ContractError):
    """The landmark basis file is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class LandmarkBasis:
    """A checked AU -> landmark basis.

    Attributes:
        au_codes: AU codes in file order.
        neutral: float32 [68, 3] rest landmarks (metres).
        basis: float32 [K, 68, 3] displacement per unit AU, in ``au_codes`` order.
        head_size_m: the head's size in metres.
        source: provenance text.
        path: the file it was loaded from.
    """

    au_codes: tuple[str, ...]
    neutral: np.ndarray  # [68, 3]
    basis: np.ndarray  # [K, 68, 3]
    head_size_m: float
    source: str
    path: Path

    def contract_matrix(self) -> np.ndarray:
        """The basis in ``AU_CODES`` order (zeros for AUs the file lacks): float32 [len(AU_CODES), 204]."""
        out = np.zeros((len(AU_CODES), N_POINTS * 3), np.float32)
        for i, code in enumerate(self.au_codes):
            out[AU_CODES.index(code)] = self.basis[i].reshape(-1)
        return out

    def evaluate(self, aus: np.ndarray) -> np.ndarray:
        """Landmarks for AU values.

        Args:
            aus: float32 [F, len(AU_CODES)] AU values in contract order (``AU_CODES``).

        Returns:
            float32 [F, 68, 3] landmarks in metres.
        """
        if aus.ndim != 2 or aus.shape[1] != len(AU_CODES):
            raise ValueError(f"aus must be [F, {len(AU_CODES)}] in AU_CODES order, got {aus.shape}")
        flat = aus.astype(np.float32, copy=False) @ self.matrix  # [F, 204]
        flat += self.neutral.reshape(1, -1)
        return flat.reshape(-1, N_POINTS, 3)

    @property
    def matrix(self) -> np.ndarray:
        """:meth:`contract_matrix`, computed once: float32 [len(AU_CODES), 204]."""
        cached = self.__dict__.get("_matrix")
        if cached is None:
            cached = self.contract_matrix()
            object.__setattr__(self, "_matrix", cached)
        return cached


_LOCK = threading.Lock()
_LOADED: dict[tuple[str, float], LandmarkBasis] = {}


def load_basis(path: str | Path | None = None) -> LandmarkBasis:
    """Load and check a landmark basis file (cached per path and modification time).

    Args:
        path: the .npz file; None for ``DEFAULT_BASIS_PATH``.

    Returns:
        The checked basis.

    Raises:
        BasisFormatError: missing file, missing arrays, wrong shapes or dtypes, non-finite values,
            unknown or duplicated AU codes, non-positive head size.
    """
    p = Path(path) if path is not None else DEFAULT_BASIS_PATH
    try:
        mtime = p.stat().st_mtime
    except OSError as exc:
        raise BasisFormatError(f"landmark basis file {p} is missing ({exc.strerror}); export it from "
                               "the rig generator: python -m rigs.head_build.export_basis") from exc
    key = (str(p), mtime)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
    basis = _read(p)
    with _LOCK:
        _LOADED[key] = basis
    log.info("landmark basis %s: %d AUs (%s)", p, len(basis.au_codes), basis.source)
    return basis


def _read(p: Path) -> LandmarkBasis:
    def bad(what: str) -> BasisFormatError:
        return BasisFormatError(f"landmark basis file {p}: {what}")

    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise bad(f"not a readable .npz archive ({exc})") from exc
    missing = [name for name in _REQUIRED if name not in arrays]
    if missing:
        raise bad(f"missing arrays {missing}; expected au_codes, neutral, basis, head_size (and source)")
    codes_arr = arrays["au_codes"]
    if codes_arr.ndim != 1 or codes_arr.dtype.kind not in "US":
        raise bad(f"au_codes must be a 1-D string array, got dtype {codes_arr.dtype} shape {codes_arr.shape}")
    codes = tuple(str(c) for c in codes_arr.tolist())
    unknown = [c for c in codes if c not in AU_CODES]
    if unknown:
        raise bad(f"au_codes has codes outside the AU contract: {unknown}")
    if len(set(codes)) != len(codes):
        raise bad("au_codes has duplicates")
    neutral, basis = arrays["neutral"], arrays["basis"]
    if neutral.shape != (N_POINTS, 3) or neutral.dtype.kind != "f":
        raise bad(f"neutral must be float [68, 3], got {neutral.dtype} {neutral.shape}")
    if basis.shape != (len(codes), N_POINTS, 3) or basis.dtype.kind != "f":
        raise bad(f"basis must be float [{len(codes)}, 68, 3] (one slice per au_code), got "
                  f"{basis.dtype} {basis.shape}")
    if not (np.all(np.isfinite(neutral)) and np.all(np.isfinite(basis))):
        raise bad("neutral and basis must be finite")
    head = arrays["head_size"]
    if head.size != 1 or head.dtype.kind not in "fiu" or not np.isfinite(head).all() or float(head) <= 0:
        raise bad(f"head_size must be one positive number (metres), got {head!r}")
    source = str(arrays["source"]) if "source" in arrays else "unknown"
    return LandmarkBasis(au_codes=codes, neutral=neutral.astype(np.float32),
                         basis=basis.astype(np.float32), head_size_m=float(head), source=source, path=p)


def write_basis(path: Path, codes: list[str], neutral: np.ndarray, basis: np.ndarray, head_size_m: float,
                source: str) -> Path:
    """Write a landmark basis file (arrays ``BASIS_KEYS``; Blender axes, metres). Returns ``path``.

    Args:
        codes: AU codes [K] of the contract.
        neutral: [68, 3] rest landmarks.
        basis: [K, 68, 3] displacement per unit AU.
        head_size_m: the head's size in metres.
        source: provenance text.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, au_codes=np.asarray(codes, dtype=str), neutral=neutral.astype(np.float32),
             basis=basis.astype(np.float32), head_size=np.float32(head_size_m), source=np.asarray(source))
    return path
