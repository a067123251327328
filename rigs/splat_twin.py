"""The Gaussian-splat twin of a head mesh: flat Gaussians sampled on its surface, coloured by region.

No captured data is needed: each face's region code (``regions.REGION_ATTRIBUTE``: skin, lips, eye
white, iris, brow, teeth, tongue, ...) picks a base colour, a soft key-plus-fill lighting is baked into
the colour from the rest normals (so a still reads as a shaded head, not a flat silhouette), and a
little seeded noise gives the skin some texture. Each Gaussian is a disc lying in its triangle's plane,
sized from the local sample spacing so neighbours overlap into a closed surface; small detailed
regions (lips, eyes, brows) get a higher sample density. Eyelashes are the exception: a sparse fan of
thin, dark-brown, half-transparent strokes radiating from the eye centre (discs there read as heavy
eyeliner).

Pure module (numpy only). The caller binds the samples to their triangles (``splat.binding``).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import regions as rg

log = logging.getLogger(__name__)

#: Colours of the default head's twin fitted to Cycles renders of its mesh (``head_build.bl_fit_splats``).
FITTED_FILE = Path(__file__).resolve().parent / "data" / "default_head_splat.npz"
#: Display-referred (sRGB) base colour per region code.
REGION_COLOURS: dict[int, tuple[float, float, float]] = {
    rg.SKIN: (0.86, 0.66, 0.55),
    rg.LIPS: (0.74, 0.40, 0.40),
    rg.EYE_WHITE: (0.93, 0.91, 0.88),
    rg.IRIS: (0.28, 0.40, 0.55),
    rg.BROW: (0.30, 0.21, 0.15),
    rg.TEETH: (0.94, 0.92, 0.86),
    rg.TONGUE: (0.78, 0.42, 0.44),
    rg.MOUTH_INTERIOR: (0.40, 0.14, 0.14),
    rg.EYELASH: (0.13, 0.09, 0.07),
    rg.HAIR: (0.22, 0.16, 0.12),
    rg.BODY: (0.86, 0.66, 0.55),
    rg.SCALP: (0.30, 0.21, 0.15),
    rg.GUMS: (0.70, 0.38, 0.38),
    rg.WET_LINE: (0.74, 0.48, 0.44),
}
#: Relative sample density per unit area (skin = 1).
REGION_DENSITY: dict[int, float] = {rg.LIPS: 3.0, rg.EYE_WHITE: 3.0, rg.IRIS: 4.0, rg.BROW: 2.0,
                                    rg.TEETH: 2.0, rg.TONGUE: 1.5, rg.EYELASH: 0.5, rg.HAIR: 0.7,
                                    rg.BODY: 0.45, rg.SCALP: 0.05,
                                    rg.GUMS: 2.0, rg.WET_LINE: 3.0}
DEFAULT_COUNT = 60_000
#: Eyelash strokes: width (standard deviation across) and length (along, relative to the width) in units
#: of the skin's sample spacing, and opacity.
LASH_WIDTH = 0.2
LASH_ELONGATION = 3.2
LASH_OPACITY = 0.5
#: Lower lashes (below the eye centre) relative to upper ones: length and opacity.
LOWER_LASH_LENGTH = 0.5
LOWER_LASH_OPACITY = 0.35


@dataclass
class TwinSample:
    """Gaussians sampled on a mesh.

    Attributes:
        tri_index: ``[N]`` int64 index into the ``tris`` array the sampler was given.
        bary: ``[N, 3]`` float64 barycentric coordinates of each centre.
        rgb: ``[N, 3]`` float32 display-referred colour (lighting baked in).
        opacities: ``[N]`` float32.
        radii: ``[N]`` float64 disc standard deviation in mesh units (a stroke's width).
        elongation: ``[N]`` float64 standard deviation along ``tangents`` relative to ``radii`` (1: disc).
        tangents: ``[N, 3]`` float64 unit direction of each stroke (zero for discs).
    """

    tri_index: np.ndarray
    bary: np.ndarray
    rgb: np.ndarray
    opacities: np.ndarray
    radii: np.ndarray
    elongation: np.ndarray
    tangents: np.ndarray


def sample_twin(verts: np.ndarray, tris: np.ndarray, tri_regions: np.ndarray, count: int = DEFAULT_COUNT,
                seed: int = 0, front: np.ndarray | None = None) -> TwinSample:
    """Sample ``count`` Gaussians on a triangle mesh.

    Args:
        verts: ``[V, 3]`` rest positions (head space; +Z up).
        tris: ``[T, 3]`` vertex indices.
        tri_regions: ``[T]`` region code of each triangle (unknown codes render as skin).
        count: number of Gaussians.
        seed: random seed (same inputs and seed give the same twin).
        front: optional ``[3]`` direction the face looks towards (default ``-Y``, Blender's front view),
            used to place the key light.

    Raises:
        ValueError: on an empty mesh or a count below 1.
    """
    v = np.asarray(verts, np.float64)
    t = np.asarray(tris, np.int64)
    if len(t) == 0 or count < 1:
        raise ValueError("the twin needs a mesh with triangles and a positive count")
    codes = np.asarray(tri_regions, np.int64)
    rng = np.random.default_rng(seed)
    cross = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    density = np.array([REGION_DENSITY.get(int(c), 1.0) for c in codes])
    weight = area * density
    if weight.sum() <= 0:
        raise ValueError("the mesh has zero area")
    tri_index = rng.choice(len(t), size=count, p=weight / weight.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], 1)
    # Local spacing: the area one sample covers where it lands.
    spacing = np.sqrt(weight.sum() / (count * density[tri_index]))
    radii = 0.9 * spacing
    base = np.array([REGION_COLOURS.get(int(c), REGION_COLOURS[rg.SKIN]) for c in codes])[tri_index]
    normals = _vertex_normals(v, t, cross)
    n = np.einsum("nk,nkj->nj", bary, normals[t[tri_index]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    key = _light_dir(front)
    lambert = np.clip(n @ key, 0.0, 1.0)
    rim = np.clip(n @ np.array([0.0, 0.0, 1.0]), 0.0, 1.0)
    shade = 0.50 + 0.50 * lambert + 0.06 * rim
    noise = 1.0 + rng.normal(0.0, 0.025, (count, 1))
    rgb = np.clip(base * shade[:, None] * noise, 0.0, 1.0).astype(np.float32)
    opac = np.full(count, 0.97, np.float32)
    elongation = np.ones(count)
    tangents = np.zeros((count, 3))
    lash = codes[tri_index] == rg.EYELASH
    if lash.any():
        points = np.einsum("nk,nkj->nj", bary[lash], v[t[tri_index[lash]]])
        tangents[lash], lower = _lash_directions(points, v, t, codes)
        radii[lash] = LASH_WIDTH * np.sqrt(weight.sum() / count)
        length = np.where(lower, LOWER_LASH_LENGTH, 1.0)
        elongation[lash] = LASH_ELONGATION * length * rng.uniform(0.7, 1.2, int(lash.sum()))
        opac[lash] = LASH_OPACITY * np.where(lower, LOWER_LASH_OPACITY, 1.0)
    return TwinSample(tri_index, bary, rgb, opac, radii, elongation, tangents)


def _lash_directions(points: np.ndarray, v: np.ndarray, t: np.ndarray, codes: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions ``[N, 3]`` from the nearer eye's centre (iris, else eye white) to lash ``points``
    ``[N, 3]``, and whether each point lies below that centre (a lower lash) ``[N]``.

    Eyes are told apart by the sign of x (the head is symmetric about x = 0, +Z up); without eye regions
    the centre of the lash points on each side stands in.
    """
    out = np.zeros_like(points)
    lower = np.zeros(len(points), bool)
    cent = v[t].mean(1)
    for left in (True, False):
        here = (points[:, 0] < 0) if left else (points[:, 0] >= 0)
        if not here.any():
            continue
        centre = points[here].mean(0)
        for code in (rg.EYE_WHITE, rg.IRIS):
            eye = (codes == code) & ((cent[:, 0] < 0) if left else (cent[:, 0] >= 0))
            if eye.any():
                centre = cent[eye].mean(0)
        d = points[here] - centre
        out[here] = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        lower[here] = d[:, 2] < 0
    return out, lower


def _light_dir(front: np.ndarray | None) -> np.ndarray:
    """Key light direction: towards the viewer, from the face's right and above (as ``KEY_LIGHT``)."""
    f = np.array([0.0, -1.0, 0.0]) if front is None else np.asarray(front, np.float64)
    f = f / np.linalg.norm(f)
    side = np.cross(f, [0.0, 0.0, 1.0])
    side = side / max(float(np.linalg.norm(side)), 1e-12)
    key = 0.75 * f + 0.45 * side + 0.5 * np.array([0.0, 0.0, 1.0])
    return key / np.linalg.norm(key)


def _vertex_normals(v: np.ndarray, t: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals ``[V, 3]``."""
    normals = np.zeros_like(v)
    for i in range(3):
        np.add.at(normals, t[:, i], cross)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


#: Version of the fitted-twin file: 1 held colours only; 2 adds opacity, scale and offset per Gaussian and,
#: optionally, higher SH coefficients.
FITTED_FORMAT = 2
#: Quantisation steps of the version-2 fields (int8) when written: log-scale change, offset (triangle-frame
#: units), SH. The file records the step of each field.
LOG_SCALE_STEP = 1.0 / 16.0
OFFSET_STEP = 1.0 / 64.0
SH_STEP = 1.0 / 64.0
_SH_C0 = 0.28209479177387814  # the DC basis value (blender_addon.splat.model.C0)


@dataclass
class FittedTwin:
    """Per-Gaussian values fitted to reference renders (``head_build.splat_refine``), relative to the
    twin as :func:`sample_twin` and ``bind_on_surface`` make it.

    Attributes:
        rgb: ``[N, 3]`` float32 display-referred base colour (the SH DC term), 0..1.
        opacities: ``[N]`` float32 0..1, or None (keep the sampled ones).
        log_scale_deltas: ``[N, 3]`` float32 added to the bound log scales (triangle frame), or None.
        offsets: ``[N, 3]`` float32 added to the bound means (triangle frame, units of its scale), or None.
        sh_rest: ``[N, K - 1, 3]`` float32 SH coefficients beyond the DC term (colour frame; ``K = 4``
            for degree 1, 9 for degree 2), or None (degree 0); stored once for the three channels when
            they are equal.
    """

    rgb: np.ndarray
    opacities: np.ndarray | None = None
    log_scale_deltas: np.ndarray | None = None
    offsets: np.ndarray | None = None
    sh_rest: np.ndarray | None = None

    def apply(self, sample: TwinSample, local_means: np.ndarray, local_log_scales: np.ndarray) -> np.ndarray:
        """Apply to a twin: ``sample``'s colours and opacities are replaced, the binding's ``local_means``
        ``[N, 3]`` and ``local_log_scales`` ``[N, 3]`` changed in place. Returns the SH ``[N, K, 3]``."""
        sample.rgb = self.rgb.astype(np.float32)
        if self.opacities is not None:
            sample.opacities = self.opacities.astype(np.float32)
        if self.offsets is not None:
            local_means += self.offsets
        if self.log_scale_deltas is not None:
            local_log_scales += self.log_scale_deltas
        dc = ((self.rgb - 0.5) / _SH_C0)[:, None, :]
        if self.sh_rest is None:
            return dc.astype(np.float32)
        return np.concatenate([dc, self.sh_rest], 1).astype(np.float32)


#: The modules that decide what the default head looks like in Cycles (materials, paint, studio light):
#: a fit is only true to the renders it was fitted to, so the fitted file records their fingerprint.
LOOK_SOURCES: tuple[str, ...] = ("bl_head_materials.py", "head_paint.py", "bl_studio.py")


def look_fingerprint() -> str:
    """SHA-256 (16 hex digits) over the source of :data:`LOOK_SOURCES` as they are now."""
    h = hashlib.sha256()
    for name in LOOK_SOURCES:
        h.update((Path(__file__).resolve().parent / name).read_bytes())
    return h.hexdigest()[:16]


def fitted_look(path: Path | None = None) -> str | None:
    """The look fingerprint a fitted file was made under (None: no file, or a file from before it was
    recorded)."""
    path = FITTED_FILE if path is None else Path(path)
    if not path.is_file():
        return None
    with np.load(path) as data:
        return str(data["look"]) if "look" in data.files else None


def _q8(values: np.ndarray, step: float) -> np.ndarray:
    return np.clip(np.round(np.asarray(values, np.float64) / step), -127, 127).astype(np.int8)


def save_fitted(path: Path, fitted: FittedTwin | np.ndarray, head_hash: str, count: int, note: str,
                seed: int = 0, look: str = "") -> None:
    """Write a fitted twin (or bare colours ``[N, 3]``) for the head whose content hash is ``head_hash``
    and the twin of ``count`` Gaussians sampled with ``seed`` (format :data:`FITTED_FORMAT`; colours and
    opacities as uint8, the other fields as int8 in steps of the ``*_STEP`` constants, each step stored
    beside its field; ``look``: :func:`look_fingerprint` of the renders it was fitted to)."""
    fit = fitted if isinstance(fitted, FittedTwin) else FittedTwin(np.asarray(fitted, np.float32))
    fields: dict[str, np.ndarray] = {
        "format": np.array(FITTED_FORMAT), "rgb": np.round(np.clip(fit.rgb, 0, 1) * 255).astype(np.uint8),
        "head_hash": np.array(head_hash), "count": np.array(count), "seed": np.array(seed),
        "note": np.array(note), "look": np.array(look)}
    if fit.opacities is not None:
        fields["opacity"] = np.round(np.clip(fit.opacities, 0, 1) * 255).astype(np.uint8)
    if fit.log_scale_deltas is not None:
        fields["log_scale"] = _q8(fit.log_scale_deltas, LOG_SCALE_STEP)
        fields["log_scale_step"] = np.array(LOG_SCALE_STEP)
    if fit.offsets is not None:
        fields["offset"] = _q8(fit.offsets, OFFSET_STEP)
        fields["offset_step"] = np.array(OFFSET_STEP)
    if fit.sh_rest is not None:  # [N, K - 1, 1] when the three channels share their coefficients
        grey = bool(np.all(fit.sh_rest == fit.sh_rest[:, :, :1]))
        fields["sh_rest"] = _q8(fit.sh_rest[:, :, :1] if grey else fit.sh_rest, SH_STEP)
        fields["sh_rest_step"] = np.array(SH_STEP)
    buf = io.BytesIO()
    np.savez_compressed(buf, **fields)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buf.getvalue())


def load_fitted(head_hash: str, count: int, seed: int, path: Path | None = None) -> FittedTwin | None:
    """The fitted twin for this head, count and seed, or None (no file, a newer format, or fitted for
    another head or twin: the region colours are used then). Version-1 files give colours only."""
    path = FITTED_FILE if path is None else Path(path)
    if not path.is_file():
        return None
    with np.load(path) as data:
        version = int(data["format"]) if "format" in data.files else 1
        if version > FITTED_FORMAT:
            log.warning("%s has fitted-twin format %d (this version reads up to %d): using region colours",
                        path, version, FITTED_FORMAT)
            return None
        if (str(data["head_hash"]) != head_hash or int(data["count"]) != count or int(data["seed"]) != seed):
            log.info("fitted splat twin in %s is for another head or twin: using region colours", path)
            return None

        def opt(name: str, scale: float) -> np.ndarray | None:
            """Field ``name`` times its step (stored beside it as ``<name>_step``, else ``scale``)."""
            if name not in data.files:
                return None
            step = float(data[f"{name}_step"]) if f"{name}_step" in data.files else scale
            return data[name].astype(np.float32) * np.float32(step)

        sh = opt("sh_rest", SH_STEP)  # [N, K - 1, 1] (grey) or [N, K - 1, 3]
        if sh is not None:
            sh = np.ascontiguousarray(np.broadcast_to(sh, (*sh.shape[:2], 3)))
        return FittedTwin(data["rgb"].astype(np.float32) / 255.0, opt("opacity", 1 / 255),
                          opt("log_scale", LOG_SCALE_STEP), opt("offset", OFFSET_STEP), sh)
