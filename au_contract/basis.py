"""Landmarks from shape-key values through the default head's landmark basis (pure; numpy only).

``landmarks = neutral + sum_s value_s * basis_s`` over the default head's shape keys: every key is linear, so
this is exactly what the rig's landmark vertices do. With no emotion active each key's value is its AU
property (the zone rules are the identity) and :meth:`LandmarkBasis.evaluate` takes AU values; with an
emotion the keys of a sided AU may differ (contempt is one-sided), so the server evaluates the zone rules
per shape key (``au_contract.zone_rules.evaluate_rules``) and calls :meth:`LandmarkBasis.evaluate_keys`.

This is the landmark-basis format of the contract: the rig generator writes it (``python -m
rigs.head_build.export_basis`` -> ``au_contract/data/landmark_basis.npz``, committed) and the model server
reads it. Arrays, one slice per shape key:

- ``au_codes``: str [S], the AU code of each slice;
- ``sides``: str [S], its side: ``"L"``/``"R"`` for a sided AU's key, ``""`` for an unsided AU
  (``(au_codes[s], sides[s] or None)`` is one of ``zone_rules.SHAPE_KEYS``; any subset, no duplicates);
- ``neutral``: float32 [68, 3], the rest-pose iBUG-68 landmarks, metres, Blender axes (Z up, face
  towards -Y, +X the character's left);
- ``basis``: float32 [S, 68, 3], each landmark's displacement at shape-key value 1;
- ``head_size``: scalar float, the head's size in metres;
- ``source``: str, where the file came from.

:func:`load_basis` checks all of it and fails with a :class:`BasisFormatError` that names the problem.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .action_units import AU_CODES
from .errors import ContractError
from .zone_rules import SHAPE_KEYS

log = logging.getLogger(__name__)

DEFAULT_BASIS_PATH = Path(__file__).resolve().parent / "data" / "landmark_basis.npz"
N_POINTS = 68
_REQUIRED = ("au_codes", "sides", "neutral", "basis", "head_size")
#: Every array of the file, in the order they are written.
BASIS_KEYS = ("au_codes", "sides", "neutral", "basis", "head_size", "source")
_EXPORT_HINT = "export it from the rig generator: python -m rigs.head_build.export_basis"


class BasisFormatError(ContractError):
    """The landmark basis file is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class LandmarkBasis:
    """A checked shape-key -> landmark basis.

    Attributes:
        keys: (AU code, side or None) of each slice, in file order.
        neutral: float32 [68, 3] rest landmarks (metres).
        basis: float32 [S, 68, 3] displacement per unit shape-key value, in ``keys`` order.
        head_size_m: the head's size in metres.
        source: provenance text.
        path: the file it was loaded from.
    """

    keys: tuple[tuple[str, str | None], ...]
    neutral: np.ndarray  # [68, 3]
    basis: np.ndarray  # [S, 68, 3]
    head_size_m: float
    source: str
    path: Path

    @property
    def au_codes(self) -> tuple[str, ...]:
        """The AU codes the file covers, in contract order."""
        present = {code for code, _ in self.keys}
        return tuple(code for code in AU_CODES if code in present)

    def key_matrix(self) -> np.ndarray:
        """The basis in ``zone_rules.SHAPE_KEYS`` order (zeros for keys the file lacks): float32 [R, 204]."""
        cached = self.__dict__.get("_key_matrix")
        if cached is None:
            cached = np.zeros((len(SHAPE_KEYS), N_POINTS * 3), np.float32)
            for i, key in enumerate(self.keys):
                cached[SHAPE_KEYS.index(key)] = self.basis[i].reshape(-1)
            object.__setattr__(self, "_key_matrix", cached)
        return cached

    def contract_matrix(self) -> np.ndarray:
        """The basis per AU in ``AU_CODES`` order, both sides of a sided AU summed (the AU property drives
        both keys while no emotion is active): float32 [len(AU_CODES), 204]."""
        out = np.zeros((len(AU_CODES), N_POINTS * 3), np.float32)
        for i, (code, _) in enumerate(self.keys):
            out[AU_CODES.index(code)] += self.basis[i].reshape(-1)
        return out

    def evaluate(self, aus: np.ndarray) -> np.ndarray:
        """Landmarks for AU values with no emotion active (every shape key at its AU's value).

        Args:
            aus: float32 [F, len(AU_CODES)] AU values in contract order (``AU_CODES``).

        Returns:
            float32 [F, 68, 3] landmarks in metres.
        """
        if aus.ndim != 2 or aus.shape[1] != len(AU_CODES):
            raise ValueError(f"aus must be [F, {len(AU_CODES)}] in AU_CODES order, got {aus.shape}")
        return self._landmarks(aus.astype(np.float32, copy=False) @ self.matrix)

    def evaluate_keys(self, values: np.ndarray) -> np.ndarray:
        """Landmarks for shape-key values (``zone_rules.evaluate_rules``).

        Args:
            values: [F, len(SHAPE_KEYS)] shape-key values in ``zone_rules.SHAPE_KEYS`` order.

        Returns:
            float32 [F, 68, 3] landmarks in metres.
        """
        if values.ndim != 2 or values.shape[1] != len(SHAPE_KEYS):
            raise ValueError(f"values must be [F, {len(SHAPE_KEYS)}] in SHAPE_KEYS order, got {values.shape}")
        return self._landmarks(values.astype(np.float32) @ self.key_matrix())

    def _landmarks(self, flat: np.ndarray) -> np.ndarray:
        flat = flat + self.neutral.reshape(1, -1)  # [F, 204]
        return flat.reshape(-1, N_POINTS, 3).astype(np.float32, copy=False)

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
            unknown or duplicated shape keys, non-positive head size.
    """
    p = Path(path) if path is not None else DEFAULT_BASIS_PATH
    try:
        mtime = p.stat().st_mtime
    except OSError as exc:
        raise BasisFormatError(f"landmark basis file {p} is missing ({exc.strerror}); "
                               f"{_EXPORT_HINT}") from exc
    key = (str(p), mtime)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
    basis = _read(p)
    with _LOCK:
        _LOADED[key] = basis
    log.info("landmark basis %s: %d shape keys (%s)", p, len(basis.keys), basis.source)
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
        raise bad(f"missing arrays {missing}; expected {', '.join(BASIS_KEYS)} (one slice per shape key): "
                  f"{_EXPORT_HINT}")
    keys = _read_keys(arrays["au_codes"], arrays["sides"], bad)
    neutral, basis = arrays["neutral"], arrays["basis"]
    if neutral.shape != (N_POINTS, 3) or neutral.dtype.kind != "f":
        raise bad(f"neutral must be float [68, 3], got {neutral.dtype} {neutral.shape}")
    if basis.shape != (len(keys), N_POINTS, 3) or basis.dtype.kind != "f":
        raise bad(f"basis must be float [{len(keys)}, 68, 3] (one slice per shape key), got "
                  f"{basis.dtype} {basis.shape}")
    if not (np.all(np.isfinite(neutral)) and np.all(np.isfinite(basis))):
        raise bad("neutral and basis must be finite")
    head = arrays["head_size"]
    if head.size != 1 or head.dtype.kind not in "fiu" or not np.isfinite(head).all() or float(head) <= 0:
        raise bad(f"head_size must be one positive number (metres), got {head!r}")
    source = str(arrays["source"]) if "source" in arrays else "unknown"
    return LandmarkBasis(keys=keys, neutral=neutral.astype(np.float32), basis=basis.astype(np.float32),
                         head_size_m=float(head), source=source, path=p)


def _read_keys(codes_arr: np.ndarray, sides_arr: np.ndarray, bad: Callable[[str], BasisFormatError]
               ) -> tuple[tuple[str, str | None], ...]:
    """Check ``au_codes`` and ``sides`` and pair them into shape keys (``bad`` makes the error)."""
    for name, arr in (("au_codes", codes_arr), ("sides", sides_arr)):
        if arr.ndim != 1 or arr.dtype.kind not in "US":
            raise bad(f"{name} must be a 1-D string array, got dtype {arr.dtype} shape {arr.shape}")
    if sides_arr.shape != codes_arr.shape:
        raise bad(f"sides must have one entry per au_code, got {sides_arr.shape} for {codes_arr.shape}")
    pairs = zip(codes_arr.tolist(), sides_arr.tolist(), strict=True)
    keys = tuple((str(c), str(s) or None) for c, s in pairs)
    unknown = [c for c, _ in keys if c not in AU_CODES]
    if unknown:
        raise bad(f"au_codes has codes outside the AU contract: {unknown}")
    wrong = [f"{c}/{s or '-'}" for c, s in keys if (c, s) not in SHAPE_KEYS]
    if wrong:
        raise bad(f"no such shape key (sided AUs take side L or R, unsided ones ''): {wrong}")
    if len(set(keys)) != len(keys):
        raise bad("au_codes/sides has duplicated shape keys")
    return keys


def write_basis(path: Path, keys: Sequence[tuple[str, str | None]], neutral: np.ndarray, basis: np.ndarray,
                head_size_m: float, source: str) -> Path:
    """Write a landmark basis file (arrays ``BASIS_KEYS``; Blender axes, metres). Returns ``path``.

    Args:
        keys: (AU code, side or None) of each slice [S], shape keys of ``zone_rules.SHAPE_KEYS``.
        neutral: [68, 3] rest landmarks.
        basis: [S, 68, 3] displacement per unit shape-key value.
        head_size_m: the head's size in metres.
        source: provenance text.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, au_codes=np.asarray([c for c, _ in keys], dtype=str),
             sides=np.asarray([s or "" for _, s in keys], dtype=str), neutral=neutral.astype(np.float32),
             basis=basis.astype(np.float32), head_size=np.float32(head_size_m), source=np.asarray(source))
    return path
