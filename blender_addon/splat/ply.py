"""Read and write Gaussian splats: the standard 3DGS PLY (SH degree 0..3) and the ``.splat`` format.

PLY layout (binary little endian, one ``vertex`` element): ``x y z nx ny nz f_dc_0..2
f_rest_0..(3*(K-1)-1) opacity scale_0..2 rot_0..3``, all float32; ``f_rest`` is channel-major (all red
coefficients, then green, then blue); ``opacity`` is a logit, ``scale_*`` are logs, ``rot_*`` an
unnormalised ``(w, x, y, z)`` quaternion. A bound set appends the binding columns (see
``binding.Binding``): ``bind_v0..2`` (int32 vertex indices of the triangle), ``bind_x/y/z``,
``bind_rot_0..3``, ``bind_scale_0..2``, ``bind_sh_rot_0..3`` (float32; the colour-frame rotation, absent
from older files). Readers that only know 3DGS ignore them.

``.splat`` (32 bytes per Gaussian, little endian): position 3×float32, linear scale 3×float32, RGBA
4×uint8 (``rgb = 0.5 + C0 * f_dc`` and the activated opacity), rotation 4×uint8 ``(w, x, y, z)`` as
``q * 128 + 128``. It has no higher SH and loses precision (8-bit colour and rotation).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .binding import Binding
from .model import C0, GaussianSet, SplatError, normalise_quats, sh_count, sh_degree_of

log = logging.getLogger(__name__)

_PLY_TYPES = {"float": "f4", "float32": "f4", "double": "f8", "float64": "f8", "int": "i4", "int32": "i4",
              "uint": "u4", "uint32": "u4", "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
              "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1"}
BIND_INT_COLUMNS = ("bind_v0", "bind_v1", "bind_v2")
BIND_FLOAT_COLUMNS = ("bind_x", "bind_y", "bind_z", "bind_rot_0", "bind_rot_1", "bind_rot_2", "bind_rot_3",
                      "bind_scale_0", "bind_scale_1", "bind_scale_2")
BIND_SH_COLUMNS = ("bind_sh_rot_0", "bind_sh_rot_1", "bind_sh_rot_2", "bind_sh_rot_3")


def ply_columns(sh_degree: int, bound: bool = False, sh_frames: bool = True) -> list[tuple[str, str]]:
    """The standard 3DGS vertex properties ``(name, numpy dtype)`` in file order.

    ``bound`` appends the binding columns, ``sh_frames`` (with ``bound``) the colour-frame rotation.
    """
    k = sh_count(sh_degree)
    cols = [(n, "<f4") for n in ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2")]
    cols += [(f"f_rest_{i}", "<f4") for i in range(3 * (k - 1))]
    cols += [("opacity", "<f4")] + [(f"scale_{i}", "<f4") for i in range(3)]
    cols += [(f"rot_{i}", "<f4") for i in range(4)]
    if bound:
        cols += [(n, "<i4") for n in BIND_INT_COLUMNS] + [(n, "<f4") for n in BIND_FLOAT_COLUMNS]
        if sh_frames:
            cols += [(n, "<f4") for n in BIND_SH_COLUMNS]
    return cols


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def write_ply(path: str | Path, gaussians: GaussianSet, binding: Binding | None = None) -> Path:
    """Write ``gaussians`` (and an optional binding) as a binary standard 3DGS PLY.

    The file is written beside the target and renamed into place, so a failure never leaves a
    half-written file under the final name.
    """
    path = Path(path)
    n = len(gaussians)
    if binding is not None and len(binding) != n:
        raise SplatError(f"binding has {len(binding)} rows for {n} Gaussians")
    cols = ply_columns(gaussians.sh_degree, binding is not None,
                       binding is not None and binding.sh_quats is not None)
    data = np.zeros(n, dtype=np.dtype(cols))
    for i, axis in enumerate("xyz"):
        data[axis] = gaussians.means[:, i]
    k = gaussians.sh.shape[1]
    for c in range(3):
        data[f"f_dc_{c}"] = gaussians.sh[:, 0, c]
        for j in range(k - 1):
            data[f"f_rest_{c * (k - 1) + j}"] = gaussians.sh[:, j + 1, c]
    data["opacity"] = _logit(gaussians.opacities)
    for i in range(3):
        data[f"scale_{i}"] = gaussians.log_scales[:, i]
    for i in range(4):
        data[f"rot_{i}"] = gaussians.quats[:, i]
    if binding is not None:
        for i, name in enumerate(BIND_INT_COLUMNS):
            data[name] = binding.tri_verts[:, i]
        floats = np.concatenate([binding.local_means, binding.local_quats, binding.local_log_scales], 1)
        for i, name in enumerate(BIND_FLOAT_COLUMNS):
            data[name] = floats[:, i]
        if binding.sh_quats is not None:
            for i, name in enumerate(BIND_SH_COLUMNS):
                data[name] = binding.sh_quats[:, i]
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property {'int' if dt == '<i4' else 'float'} {name}" for name, dt in cols]
    header.append("end_header")
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())
    tmp.replace(path)
    return path


def _parse_header(raw: bytes, path: Path) -> tuple[int, list[tuple[str, str]], int, str]:
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise SplatError(f"{path} is not a PLY file (no 'ply' magic or 'end_header')")
    body_start = raw.index(b"\n", end) + 1
    lines = raw[:end].decode("ascii", "replace").splitlines()
    fmt, count, cols, in_vertex = "", -1, [], False
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "element":
            in_vertex = parts[1] == "vertex"
            if in_vertex:
                count = int(parts[2])
        elif parts[0] == "property" and in_vertex:
            if parts[1] == "list":
                raise SplatError(f"{path}: list properties in the vertex element are not supported")
            if parts[1] not in _PLY_TYPES:
                raise SplatError(f"{path}: unknown PLY property type {parts[1]!r}")
            cols.append((parts[2], _PLY_TYPES[parts[1]]))
    if count < 0:
        raise SplatError(f"{path} has no 'vertex' element")
    return count, cols, body_start, fmt


def read_ply(path: str | Path) -> tuple[GaussianSet, Binding | None]:
    """Read a standard 3DGS PLY (SH degree 0..3, binary little endian or ASCII).

    Returns:
        The Gaussians and, when the file carries the binding columns, the binding.

    Raises:
        SplatError: the file is missing, not a PLY, or lacks a 3DGS column (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise SplatError(f"splat file not found: {path}")
    raw = path.read_bytes()
    count, cols, start, fmt = _parse_header(raw, path)
    if fmt == "binary_little_endian":
        dtype = np.dtype([(n, "<" + t) for n, t in cols])
        if len(raw) - start < dtype.itemsize * count:
            raise SplatError(f"{path} is truncated: {count} vertices announced, "
                             f"{(len(raw) - start) // dtype.itemsize} present")
        data = np.frombuffer(raw, dtype, count, start)
    elif fmt == "ascii":
        table = np.loadtxt(raw[start:].decode("ascii").splitlines()[:count], ndmin=2)
        data = np.zeros(count, np.dtype([(n, "<" + t) for n, t in cols]))
        for i, (name, _) in enumerate(cols):
            data[name] = table[:, i]
    else:
        raise SplatError(f"{path}: PLY format {fmt!r} is not supported (use binary_little_endian)")
    names = {n for n, _ in cols}
    need = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
            "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [n for n in need if n not in names]
    if missing:
        raise SplatError(f"{path} is not a 3DGS PLY: missing {', '.join(missing)}")
    n_rest = sum(1 for n in names if n.startswith("f_rest_"))
    if n_rest % 3:
        raise SplatError(f"{path}: {n_rest} f_rest columns is not a multiple of 3")
    k = 1 + n_rest // 3
    sh_degree_of(k)
    sh = np.zeros((count, k, 3), np.float32)
    for c in range(3):
        sh[:, 0, c] = data[f"f_dc_{c}"]
        for j in range(k - 1):
            sh[:, j + 1, c] = data[f"f_rest_{c * (k - 1) + j}"]
    means = np.stack([data["x"], data["y"], data["z"]], 1)
    quats = normalise_quats(np.stack([data[f"rot_{i}"] for i in range(4)], 1))
    log_scales = np.stack([data[f"scale_{i}"] for i in range(3)], 1)
    opac = 1.0 / (1.0 + np.exp(-data["opacity"].astype(np.float64)))
    gaussians = GaussianSet(means, quats, log_scales, opac, sh)
    binding = None
    if all(n in names for n in BIND_INT_COLUMNS + BIND_FLOAT_COLUMNS):
        floats = np.stack([data[n] for n in BIND_FLOAT_COLUMNS], 1).astype(np.float32)
        sh_quats = None
        if all(n in names for n in BIND_SH_COLUMNS):
            sh_quats = np.stack([data[n] for n in BIND_SH_COLUMNS], 1).astype(np.float32)
        binding = Binding(np.stack([data[n] for n in BIND_INT_COLUMNS], 1).astype(np.int32),
                          floats[:, :3], floats[:, 3:7], floats[:, 7:], sh_quats)
    log.info("read %d Gaussians (SH degree %d) from %s", count, sh_degree_of(k), path)
    return gaussians, binding


def read_splat(path: str | Path) -> GaussianSet:
    """Read a ``.splat`` file (32 bytes per Gaussian, see the module docstring); SH degree 0."""
    path = Path(path)
    if not path.is_file():
        raise SplatError(f"splat file not found: {path}")
    raw = path.read_bytes()
    if len(raw) % 32:
        raise SplatError(f"{path}: size {len(raw)} is not a multiple of 32 bytes (.splat records)")
    rec = np.frombuffer(raw, np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4),
                                       ("rot", "u1", 4)]))
    rgba = rec["rgba"].astype(np.float64) / 255.0
    quats = normalise_quats((rec["rot"].astype(np.float64) - 128.0) / 128.0)
    scales = np.maximum(rec["scale"].astype(np.float64), 1e-12)
    dc = (rgba[:, :3] - 0.5) / C0
    return GaussianSet(rec["pos"], quats, np.log(scales), rgba[:, 3], dc[:, None, :])


def write_splat(path: str | Path, gaussians: GaussianSet) -> Path:
    """Write ``gaussians`` as ``.splat`` (drops higher SH; sorted as stored)."""
    path = Path(path)
    n = len(gaussians)
    rec = np.zeros(n, np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4),
                                ("rot", "u1", 4)]))
    rec["pos"] = gaussians.means
    rec["scale"] = np.exp(gaussians.log_scales)
    rgb = 0.5 + C0 * gaussians.sh[:, 0, :].astype(np.float64)
    rec["rgba"][:, :3] = np.clip(np.round(rgb * 255), 0, 255)
    rec["rgba"][:, 3] = np.clip(np.round(gaussians.opacities * 255.0), 0, 255)
    q = normalise_quats(gaussians.quats)
    rec["rot"] = np.clip(np.round(q * 128 + 128), 0, 255)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(rec.tobytes())
    tmp.replace(path)
    return path


def read_any(path: str | Path) -> tuple[GaussianSet, Binding | None]:
    """Read ``.ply`` or ``.splat`` by extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".ply":
        return read_ply(path)
    if suffix == ".splat":
        return read_splat(path), None
    raise SplatError(f"unknown splat file type {suffix!r}: expected .ply or .splat")
